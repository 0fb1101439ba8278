"""The demo trainer's latents stage: encoding the clips in several processes changes nothing (issue 16)."""

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from sora4j_export.demo import models as M
from sora4j_export.demo import world as W
from sora4j_export.demo.vae_stages import clip_row, encode_clips


class LatentWorkersTest(unittest.TestCase):
    def test_two_worker_processes_give_the_same_latent_bytes_in_the_same_order_as_one(self):
        with tempfile.TemporaryDirectory() as d:
            torch.manual_seed(0)
            spatial, temporal = Path(d, "spatial.pt"), Path(d, "temporal.pt")
            torch.save({"enc": M.SpatialEncoder().state_dict()}, spatial)
            torch.save({"enc": M.TemporalEncoder().state_dict()}, temporal)
            rng = np.random.default_rng(7)
            rows = [clip_row(W.sample_clip(rng)) for _ in range(5)]
            lines = []
            one = encode_clips(rows, str(spatial), str(temporal), workers=1, chunk=2)
            two = encode_clips(rows, str(spatial), str(temporal), workers=2, chunk=2, log=lines.append)
            self.assertEqual(one.shape, (5, 4, 15, 8, 8))
            self.assertEqual(one.tobytes(), two.tobytes())
            self.assertEqual(lines, ["latents 5/5"])
            self.assertGreater(float(np.abs(one[0] - one[1]).max()), 0.0)  # different clips, different latents


if __name__ == "__main__":
    unittest.main()

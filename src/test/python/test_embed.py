"""demo.embed: a pack is swapped in calibrated, with the Java tests' goldens computed by the reference sampler."""

import json
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export.demo import embed as E
from sora4j_export.demo.quality import DEFAULT_PACK


class EmbedTest(unittest.TestCase):
    def test_embedding_the_embedded_pack_again_reproduces_its_calibration_and_the_java_goldens(self):
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory() as d:
            dst = Path(d, "demo")
            dst.mkdir()
            (dst / "stale.txt").write_text("replaced")
            g = E.embed(DEFAULT_PACK, dst, log=lambda s: None)
            self.assertFalse((dst / "stale.txt").exists())
            self.assertEqual([p.name for p in Path(d).iterdir()], ["demo"])  # no .new or .old left
            want = json.loads((DEFAULT_PACK / "stepcache.json").read_text())["residualMagnitudeRatios"]
            got = json.loads((dst / "stepcache.json").read_text())["residualMagnitudeRatios"]
            self.assertEqual(got, want)
        # the constants of MagCacheCalibrationTest and StepCachePipelineTest for the embedded pack
        self.assertEqual(g["mask"], [0, 1, 2, 4, 7, 10, 13, 15, 18, 21, 24, 27])
        self.assertEqual(g["lpl_mask"], [0, 1, 2, 4, 7, 10, 13, 15])
        self.assertEqual(g["merged"], [0, 1, 2, 4, 7, 10, 13])
        self.assertEqual(list(g["adaptive"].values()), [[0, 1, 3, 5, 8, 13, 15], [0, 1, 2, 4, 7, 12, 15]])

    def test_an_embed_stopped_between_its_renames_is_repaired_before_anything_else(self):
        with tempfile.TemporaryDirectory() as d:
            old = Path(d, "demo.old")
            old.mkdir()
            (old / "manifest.json").write_text("{}")
            messages = []
            with self.assertRaises(Exception):  # the source is not a pack: refused after the repair
                E.embed(Path(d, "missing"), Path(d, "demo"), log=messages.append)
            self.assertTrue(Path(d, "demo", "manifest.json").exists())
            self.assertFalse(old.exists())

    def test_the_embedded_pack_itself_or_a_folder_without_a_manifest_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(SystemExit, "is the embedded pack already"):
                E.embed(DEFAULT_PACK, DEFAULT_PACK)
            self.assertTrue((DEFAULT_PACK / "manifest.json").exists())
            with self.assertRaises(SystemExit):
                E.main([d])  # not a pack


if __name__ == "__main__":
    unittest.main()

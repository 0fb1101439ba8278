"""The demo trainer's decoder stage (issue 16): the VAE decoder fine-tuned on the diffusion model's samples, the
encoders and the diffusion model untouched, resumable, and what the pack then carries."""

import argparse
import hashlib
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from sora4j_export.demo import models as M
from sora4j_export.demo.decoder_stage import DECODER_FILE, PAIRS_FILE, stage_decoder
from sora4j_export.demo.dit_stage import stage_diffusion
from sora4j_export.demo.runloop import Run
from test_dit_stage import _args, _latents


class _Stop(Exception):
    pass


def _run_dir(out: Path) -> None:
    """A tiny finished run: random latents, untrained autoencoders, a 3-step diffusion model (hidden 32, depth 1)."""
    _latents(out)
    vae = M.build_vae(0)
    torch.save({"enc": M.SpatialEncoder().state_dict(), "dec": vae.spatial_vae.module.state_dict()},
               out / "spatial.pt")
    torch.save({"enc": M.TemporalEncoder().state_dict(), "dec": vae.temporal_vae.state_dict()}, out / "temporal.pt")
    stage_diffusion(Run(_args(out)), lambda: None)


def _dargs(out: Path, **kw) -> argparse.Namespace:
    a = vars(_args(out))
    a.update(decoder_steps=4, decoder_pairs=3, decoder_lr=1e-3, ckpt_every=2, log_every=2)
    a.update(kw)
    return argparse.Namespace(**a)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


class DecoderStageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base = Path(cls.tmp.name) / "base"
        cls.base.mkdir()
        _run_dir(cls.base)
        cls.whole = Path(cls.tmp.name) / "whole"
        cls._copy(cls.base, cls.whole)
        cls.sums = {f: _sha(cls.whole / f) for f in ("spatial.pt", "temporal.pt", "diffusion.pt", "latents.npz")}
        stage_decoder(Run(_dargs(cls.whole)), lambda: None)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @staticmethod
    def _copy(src: Path, dst: Path) -> None:
        dst.mkdir()
        for f in src.iterdir():
            (dst / f.name).write_bytes(f.read_bytes())

    def test_only_the_decoder_changes(self):
        for f, h in self.sums.items():
            self.assertEqual(_sha(self.whole / f), h, f)
        tuned = torch.load(self.whole / DECODER_FILE)
        before = M.build_vae(0)
        for name, part in (("spatial", before.spatial_vae.module), ("temporal", before.temporal_vae)):
            self.assertEqual(set(tuned[name]), set(part.state_dict()), name)
            diff = max(float((tuned[name][k] - v).abs().max()) for k, v in part.state_dict().items()
                       if v.is_floating_point())
            self.assertGreater(diff, 1e-6, name)  # 4 steps at lr 1e-3 move it

    def test_pairs_are_sampled_latents_of_training_clips_with_their_truth(self):
        pairs = np.load(self.whole / PAIRS_FILE)
        lat = np.load(self.whole / "latents.npz")
        self.assertEqual(pairs["z"].shape, (3,) + lat["z"].shape[1:])
        self.assertTrue(np.all((pairs["i0"] >= 9) & (pairs["i0"] < 18)))
        rows = {tuple(r) for r in lat["clips"]}
        self.assertTrue(all(tuple(r) in rows for r in pairs["clips"]))
        self.assertTrue(np.all(np.isfinite(pairs["z"].astype(np.float32))))

    def test_an_interrupted_stage_resumes_to_the_same_decoder(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "run"
            self._copy(self.base, out)
            calls = [0]

            def tick():  # the 1st call: the pairs saved (all 3); the 2nd: the checkpoint at step 2
                calls[0] += 1
                if calls[0] == 2:
                    raise _Stop()

            with self.assertRaises(_Stop):
                stage_decoder(Run(_dargs(out)), tick)
            self.assertTrue((out / "decoder_ckpt.pt").exists())
            self.assertFalse((out / DECODER_FILE).exists())
            stage_decoder(Run(_dargs(out)), lambda: None)
            self.assertIn("decoder: resumed at step 2", (out / "log.txt").read_text())
            a, b = torch.load(out / DECODER_FILE), torch.load(self.whole / DECODER_FILE)
            for part in ("spatial", "temporal"):
                for k in a[part]:
                    self.assertTrue(torch.equal(a[part][k], b[part][k]), f"{part}.{k}")

    def test_pairs_drawn_in_two_sittings_equal_pairs_drawn_in_one(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "run"
            self._copy(self.base, out)
            stage_decoder(Run(_dargs(out, decoder_pairs=2, decoder_steps=1)), lambda: None)
            (out / DECODER_FILE).unlink()
            (out / "decoder_ckpt.pt").unlink()
            stage_decoder(Run(_dargs(out, decoder_steps=1)), lambda: None)
            a, b = np.load(out / PAIRS_FILE), np.load(self.whole / PAIRS_FILE)
            for k in ("z", "clips", "i0"):
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)

    def test_the_pack_carries_the_tuned_decoder_and_zero_steps_keep_the_old_one(self):
        from sora4j_export.demo.train import build_trained
        from sora4j_export.demo.vae_stages import load_vae

        lat = np.load(self.whole / "latents.npz")
        run = Run(_dargs(self.whole))
        tuned = torch.load(self.whole / DECODER_FILE)["spatial"]
        _, _, vae, _ = build_trained(self.whole, 0, hidden=32, depth=1)
        for k, v in vae.spatial_vae.module.state_dict().items():
            self.assertTrue(torch.equal(v, tuned[k]), k)
        old = torch.load(self.whole / "spatial.pt")["dec"]
        for k, v in load_vae(run, 0, lat["scale"], lat["shift"], tuned=False).spatial_vae.module.state_dict().items():
            self.assertTrue(torch.equal(v, old[k]), k)
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "run"
            self._copy(self.base, out)
            stage_decoder(Run(_dargs(out, decoder_steps=0)), lambda: None)
            self.assertFalse((out / DECODER_FILE).exists())
            self.assertIn("--decoder-steps 0", (out / "log.txt").read_text())

    def test_the_sampler_started_at_a_later_step_runs_only_the_rest_and_refuses_steps_outside(self):
        from sora4j_export import reference as ref
        from sora4j_export.demo import world as W
        from sora4j_export.demo.train import build_trained
        from sora4j_export.stdit3 import null_embedding

        t5, stdit, _, vocab = build_trained(self.whole, 0, hidden=32, depth=1)
        from sora4j_export.tokenizer import WordLevelTokenizer

        y, mask, _ = ref.encode_prompt(t5, WordLevelTokenizer(vocab), "a red circle", 300)
        sampler, null = ref.Sampler(stdit), null_embedding(stdit)
        kw = dict(height=W.HEIGHT, width=W.WIDTH, num_frames=W.FRAMES, steps=6, record=True)
        z0 = torch.randn(1, 4, 15, 8, 8, generator=torch.Generator().manual_seed(1))
        whole = sampler.sample(z0, y, mask, null, **kw)
        rest = sampler.sample(whole.latents[3], y, mask, null, first_step=4, **kw)
        self.assertEqual(rest.timesteps, whole.timesteps[4:])
        self.assertTrue(torch.equal(rest.z, whole.z))  # from step 4's input, the same steps give the same latent
        for bad in (-1, 6):
            with self.assertRaisesRegex(ValueError, f"first_step must be in 0..5 \\(steps 6\\) but was {bad}"):
                sampler.sample(z0, y, mask, null, first_step=bad, **kw)

    def test_the_pack_declares_the_guidance_it_was_written_with(self):
        import json

        from sora4j_export.demo.train import DEFAULT_GUIDANCE, write_demo_pack

        with tempfile.TemporaryDirectory() as d:
            for g, want in ((None, DEFAULT_GUIDANCE), (7.0, 7.0)):
                out = Path(d) / f"pack-{g}"
                write_demo_pack(self.whole, out, hidden=32, depth=1, guidance=g, log=lambda s: None)
                manifest = json.loads((out / "manifest.json").read_text())
                self.assertEqual(manifest["sampling"]["guidanceScale"], want)
        self.assertEqual(DEFAULT_GUIDANCE, 5.0)


if __name__ == "__main__":
    unittest.main()

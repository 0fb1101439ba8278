"""The demo trainer's compact checkpoint: what a later sitting resumes from (issue 16)."""

import argparse
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export.demo.runloop import Loop, Run, compact_checkpoint, compact_path, load_checkpoint


def _loop(out: Path, seed: int) -> Loop:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 16))
    run = Run(argparse.Namespace(out=str(out)))
    return Loop(run, "diffusion", {"net": net}, net.parameters(), lr=1e-2, total=100, warmup=2,
                ema_modules=["net"], ema_decay=0.9, schedule="constant")


def _train(loop: Loop, steps: int) -> None:
    g = torch.Generator().manual_seed(loop.step)
    for _ in range(steps):
        x = torch.randn(32, 64, generator=g)
        loop.update(((loop.modules["net"](x) - x[:, :16]) ** 2).mean())


class CompactCheckpointTest(unittest.TestCase):
    def test_a_run_resumes_from_the_compact_checkpoint_with_exact_weights_and_close_ema_and_moments(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            loop = _loop(out, 0)
            _train(loop, 20)
            loop.save()
            full = torch.load(loop.ckpt)
            small = compact_checkpoint(loop.ckpt)
            self.assertLess(small.stat().st_size, 0.66 * loop.ckpt.stat().st_size)  # weights + half + half of 2×
            loop.ckpt.unlink()

            resumed = _loop(out, 1)  # other initial weights: everything must come from the file
            self.assertEqual(resumed.step, 20)
            for n, v in resumed.modules["net"].state_dict().items():
                self.assertTrue(torch.equal(v, full["modules"]["net"][n]), n)  # the weights: bit-exact
            for n, v in resumed.ema["net"].state_dict().items():
                ref, w = full["ema"]["net"][n], full["modules"]["net"][n]
                # the EMA's drift from the weights is kept to bfloat16 precision (2^-8 relative)
                self.assertLessEqual(float((v - ref).abs().max()), float((ref - w).abs().max()) * 2 ** -8 + 1e-12, n)
            for i, s in resumed.opt.state_dict()["state"].items():
                for k in ("exp_avg", "exp_avg_sq"):
                    ref = full["opt"]["state"][i][k]
                    self.assertEqual(s[k].dtype, torch.float32)
                    self.assertTrue(torch.allclose(s[k], ref, rtol=2 ** -8, atol=0), (i, k))
            _train(resumed, 3)  # and it trains on
            self.assertEqual(resumed.step, 23)

    def test_the_full_checkpoint_wins_when_both_exist_and_nothing_means_a_fresh_start(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            self.assertIsNone(load_checkpoint(out / "diffusion_ckpt.pt"))
            loop = _loop(out, 0)
            _train(loop, 4)
            loop.save()
            compact_checkpoint(loop.ckpt)
            _train(loop, 2)
            loop.save()
            self.assertTrue(compact_path(loop.ckpt).exists())
            self.assertEqual(load_checkpoint(loop.ckpt)["step"], 6)

    def test_a_file_of_another_format_is_refused_by_name(self):
        with tempfile.TemporaryDirectory() as d:
            ckpt = Path(d) / "diffusion_ckpt.pt"
            torch.save({"format": "something-else"}, compact_path(ckpt))
            with self.assertRaisesRegex(ValueError, "diffusion_ckpt.compact.pt is not a sora4j-compact"):
                load_checkpoint(ckpt)


if __name__ == "__main__":
    unittest.main()

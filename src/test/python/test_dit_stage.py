"""The demo trainer's diffusion stage: data-parallel processes and micro-batches train as one process on the whole
batch does (issue 16)."""

import argparse
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from sora4j_export.demo import world as W
from sora4j_export.demo.dit_stage import batch_clips, stage_diffusion
from sora4j_export.demo.runloop import Loop, Run
from sora4j_export.demo.vae_stages import clip_row


def _args(out: Path, **kw) -> argparse.Namespace:
    a = dict(out=str(out), seed=0, threads=1, dit_steps=3, batch=8, dit_lr=0.5, hidden=32, depth=1, ema=0.998,
             cfg_dropout=0.25, uniform_t_share=0.5, tdtm_share=0.5, tdtm_from=1, log_every=1, ckpt_every=3,
             ckpt_minutes=15.0, eval_every=0, procs=1, micro_batch=0, lr_cooldown=0)
    a.update(kw)
    return argparse.Namespace(**a)


def _latents(out: Path, n: int = 24) -> None:
    rng = np.random.default_rng(3)
    rows = [clip_row(W.sample_clip(rng)) for _ in range(n)]
    z = rng.standard_normal((n, 4, 15, 8, 8)).astype(np.float32)
    np.savez(out / "latents.npz", z=z, clips=np.asarray(rows, dtype=np.float64), scale=np.ones(4), shift=np.zeros(4))


def _trained(**kw) -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        _latents(out)
        stage_diffusion(Run(_args(out, **kw)), lambda: None)
        st = torch.load(out / "diffusion_ckpt.pt")
        log = (out / "log.txt").read_text()
    return {"step": st["step"], "w": st["modules"]["stdit"], "t5": st["modules"]["t5"], "log": log}


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())


class DataParallelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.one = _trained()

    def test_two_processes_take_the_same_steps_as_one_up_to_summation_order(self):
        two = _trained(procs=2)
        self.assertEqual(two["step"], 3)
        self.assertLess(_max_diff(self.one["w"], two["w"]), 2e-6)
        self.assertLess(_max_diff(self.one["t5"], two["t5"]), 2e-6)
        self.assertGreater(_max_diff(self.one["w"], _trained(tdtm_from=3)["w"]), 1e-3)  # other batches: it can fail

    def test_micro_batches_take_the_same_steps_as_the_whole_batch(self):
        self.assertLess(_max_diff(self.one["w"], _trained(micro_batch=2)["w"]), 2e-6)

    def test_the_logged_loss_is_the_whole_batchs_in_every_form(self):
        def losses(log):
            return [float(line.split(" loss ")[1].split()[0]) for line in log.splitlines() if " loss " in line]
        self.assertEqual(len(losses(self.one["log"])), 3)
        np.testing.assert_allclose(losses(_trained(procs=2, micro_batch=2)["log"]), losses(self.one["log"]),
                                   atol=2e-4)

    def test_a_batch_that_does_not_split_evenly_is_refused_by_value(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(SystemExit, "--batch 8 does not split into --procs 3"):
                stage_diffusion(Run(_args(Path(d), procs=3)), lambda: None)


class CooldownTest(unittest.TestCase):
    def test_the_learning_rate_decays_linearly_to_zero_over_the_last_steps_only(self):
        with tempfile.TemporaryDirectory() as d:
            net = torch.nn.Linear(2, 2)
            loop = Loop(Run(argparse.Namespace(out=d)), "diffusion", {"n": net}, net.parameters(), lr=1.0,
                        total=100, warmup=10, schedule="constant", cooldown=20)
            self.assertEqual([loop.lr_constant(s) for s in (0, 9, 50, 80)], [0.1, 1.0, 1.0, 1.0])
            self.assertAlmostEqual(loop.lr_constant(90), 0.5)
            self.assertAlmostEqual(loop.lr_constant(99), 0.05)
            self.assertEqual(loop.lr_constant(100), 0.0)


class LightBatchTest(unittest.TestCase):
    """--light-share: from --light-from on, that share of the batches holds light clips under captions that name the
    background; every other batch is drawn as before."""

    dark, light = np.arange(0, 50), np.arange(50, 100)

    def _draw(self, step: int, **kw):
        a = argparse.Namespace(seed=0, batch=16, **kw)
        return batch_clips(a, step, np.random.default_rng([0, 7, step]), 100, self.dark, self.light)

    @staticmethod
    def _light_steps(steps, share=0.3):  # the batches the separate per-step draw makes light
        return {s for s in steps if np.random.default_rng([0, 98, s]).random() < share}

    def test_light_batches_hold_light_clips_with_the_background_named(self):
        want = self._light_steps(range(200))
        self.assertEqual(len(want), 74)  # of 200 at share 0.3
        for s in range(200):
            form, idx = self._draw(s, light_share=0.3, light_from=0)
            if s in want:
                self.assertTrue(form.names("background"), s)
                self.assertTrue(set(idx) <= set(self.light), s)
            elif not form.names("background"):
                self.assertTrue(set(idx) <= set(self.dark), s)  # unnamed background: dark clips only, as before

    def test_only_light_batches_from_light_from_on_change(self):
        changed = {s for s in range(100) if not np.array_equal(self._draw(s, light_share=0.3, light_from=50)[1],
                                                               self._draw(s)[1])}
        self.assertEqual(changed, self._light_steps(range(50, 100)))
        for s in range(100):
            base_form, base_idx = self._draw(s)
            form, idx = self._draw(s, light_share=0.0, light_from=0)
            self.assertEqual(form, base_form)
            np.testing.assert_array_equal(idx, base_idx)


class LightSquareBatchTest(unittest.TestCase):
    """--light-square-share: that share of the light batches holds squares on light only, under captions that name
    the shape and the background; every other batch is drawn as with light batches alone."""

    dark, light, squares = np.arange(0, 50), np.arange(50, 100), np.arange(50, 60)

    def _draw(self, step: int, **kw):
        a = argparse.Namespace(seed=0, batch=16, light_share=0.3, light_from=0, **kw)
        return batch_clips(a, step, np.random.default_rng([0, 7, step]), 100, self.dark, self.light, self.squares)

    def test_square_batches_are_a_share_of_the_light_ones_and_name_the_shape(self):
        light = {s for s in range(400) if np.random.default_rng([0, 98, s]).random() < 0.3}
        square = {s for s in light if np.random.default_rng([0, 97, s]).random() < 0.5}
        self.assertTrue(20 < len(square) < len(light) - 20, (len(square), len(light)))
        for s in range(400):
            form, idx = self._draw(s, light_square_share=0.5)
            if s in square:
                self.assertTrue(form.names("shape") and form.names("background"), s)
                self.assertTrue(set(idx) <= set(self.squares), s)
            elif s in light:
                self.assertTrue(set(idx) <= set(self.light), s)
                self.assertFalse(set(idx) <= set(self.squares), s)

    def test_without_the_share_every_batch_is_as_before(self):
        for s in range(200):
            form, idx = self._draw(s, light_square_share=0.0)
            base_form, base_idx = self._draw(s)
            self.assertEqual(form, base_form)
            np.testing.assert_array_equal(idx, base_idx)

    def test_before_light_square_from_a_light_batch_is_never_a_square_batch(self):
        for s in range(200):
            form, idx = self._draw(s, light_square_share=0.5, light_square_from=100)
            base_form, base_idx = self._draw(s, light_square_share=0.5 if s >= 100 else 0.0)
            self.assertEqual(form, base_form)
            np.testing.assert_array_equal(idx, base_idx)


class ResumeTest(unittest.TestCase):
    def test_resuming_a_missing_run_is_refused_instead_of_starting_a_new_one(self):
        import contextlib
        import io

        from sora4j_export.demo.train import main

        with tempfile.TemporaryDirectory() as d:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(main(["--out", str(Path(d, "nowhere")), "--resume"]), 2)
            self.assertIn("holds no run to resume", err.getvalue())
            self.assertFalse(Path(d, "nowhere").exists())


class GrowAtTest(unittest.TestCase):
    """--grow-at: one command trains at --grow-from-depth, grows the checkpoint (demo.grow) and trains on."""

    def _run(self, out: Path, **kw) -> dict:
        stage_diffusion(Run(_args(out, **kw)), lambda: None)
        return torch.load(out / "diffusion_ckpt.pt")

    def test_one_command_equals_training_growing_and_resuming_by_hand(self):
        from sora4j_export.demo.grow import checkpoint_depth, grow_checkpoint
        from sora4j_export.tokenizer import build_vocab

        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            one, two = Path(d1), Path(d2)
            _latents(one)
            _latents(two)
            st = self._run(one, dit_steps=4, depth=2, grow_at=2, grow_from_depth=1)
            self.assertEqual((st["step"], checkpoint_depth(st["modules"]["stdit"])), (4, 2))
            self.assertIn("grew the STDiT from depth 1 to 2 at step 2", (one / "log.txt").read_text())
            self.assertTrue((one / "diffusion.pt").exists())

            half = self._run(two, dit_steps=4, depth=1, stop_at=2)  # by hand: to step 2 at depth 1 ...
            self.assertEqual(half["step"], 2)
            self.assertFalse((two / "diffusion.pt").exists())  # an unfinished run writes no final weights
            torch.save(grow_checkpoint(half, 2, len(build_vocab()), 32), two / "diffusion_ckpt.pt")  # ... grow ...
            by_hand = self._run(two, dit_steps=4, depth=2)  # ... and resume at depth 2
            self.assertEqual(_max_diff(st["modules"]["stdit"], by_hand["modules"]["stdit"]), 0.0)
            self.assertEqual(_max_diff(st["ema"]["stdit"], by_hand["ema"]["stdit"]), 0.0)
            self.assertEqual(st["opt"]["state"].keys(), by_hand["opt"]["state"].keys())
            for i, m in st["opt"]["state"].items():
                self.assertTrue(torch.equal(m["exp_avg_sq"], by_hand["opt"]["state"][i]["exp_avg_sq"]), i)

    def test_a_run_past_the_growth_step_at_the_old_depth_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            _latents(out)
            self._run(out, dit_steps=3, depth=1)
            with self.assertRaisesRegex(SystemExit, "--grow-at 2: the run's checkpoint is at step 3 with depth 1"):
                self._run(out, dit_steps=5, depth=2, grow_at=2, grow_from_depth=1)

    def test_a_grown_run_resumes_without_growing_again(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            _latents(out)
            self._run(out, dit_steps=3, depth=2, grow_at=2, grow_from_depth=1)
            st = self._run(out, dit_steps=5, depth=2, grow_at=2, grow_from_depth=1)
            self.assertEqual(st["step"], 5)
            self.assertEqual((out / "log.txt").read_text().count("grew the STDiT"), 1)

    def test_growth_options_that_cannot_work_are_refused_by_value(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d)
            with self.assertRaisesRegex(SystemExit, "--grow-from-depth between 1 and --depth 2 - 1, got 2"):
                self._run(out, depth=2, grow_at=2, grow_from_depth=2)
            with self.assertRaisesRegex(SystemExit, "--grow-at 3 must lie inside the run's --dit-steps 3"):
                self._run(out, depth=2, grow_at=3, grow_from_depth=1)


if __name__ == "__main__":
    unittest.main()

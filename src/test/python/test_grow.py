"""Growing a diffusion checkpoint's STDiT depth (demo.grow): the grown model starts as the same function, and a run
resumes from it with the old moments in place."""

import argparse
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export.demo import grow as G
from sora4j_export.demo.runloop import Loop, Run, compact_checkpoint, read_compact

VOCAB, HIDDEN = 40, 32


def _loop(out: Path, depth: int) -> Loop:
    t5, stdit = G._models(VOCAB, 0, HIDDEN, depth)
    params = list(t5.parameters()) + [p for p in stdit.parameters() if p.requires_grad]
    return Loop(Run(argparse.Namespace(out=str(out))), "diffusion", {"t5": t5, "stdit": stdit}, params, lr=1e-3,
                total=100, warmup=2, ema_modules=["t5", "stdit"], ema_decay=0.9, schedule="constant")


def _forward(stdit, seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(2, 4, 3, 8, 8, generator=g)
    y = torch.randn(2, 1, 6, 64, generator=g)
    mask = torch.ones(1, 6, dtype=torch.int64)
    with torch.no_grad():
        return stdit(z, torch.tensor([700.0, 300.0]), y, mask, torch.tensor([24.0]), torch.tensor([64.0]),
                     torch.tensor([64.0]))


def _train(loop: Loop, steps: int) -> None:
    for k in range(steps):
        g = torch.Generator().manual_seed(100 + k)
        z = torch.randn(2, 4, 3, 8, 8, generator=g)
        y = torch.randn(2, 1, 6, 64, generator=g)
        pred = loop.modules["stdit"](z, torch.tensor([500.0, 200.0]), y, torch.ones(1, 6, dtype=torch.int64),
                                     torch.tensor([24.0]), torch.tensor([64.0]), torch.tensor([64.0]))
        loop.update(((pred[:, :4] - z) ** 2).mean())  # a target: a zero final layer gets gradients


class GrowTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = Path(self.dir.name)
        loop = _loop(self.out, 2)
        _train(loop, 3)
        # three steps: the old blocks' zero-initialised projections are non-zero now, the new blocks' are zero
        loop.save()
        self.loop = loop
        self.state = torch.load(loop.ckpt)

    def tearDown(self):
        self.dir.cleanup()

    def test_the_grown_model_computes_what_the_checkpoint_computed(self):
        grown = G.grow_checkpoint(self.state, 4, VOCAB, HIDDEN)
        _, big = G._models(VOCAB, 0, HIDDEN, 4)
        big.load_state_dict(grown["modules"]["stdit"])
        torch.testing.assert_close(_forward(big.eval()), _forward(self.loop.modules["stdit"].eval()), rtol=0, atol=0)
        ema_big = G._models(VOCAB, 0, HIDDEN, 4)[1]
        ema_big.load_state_dict(grown["ema"]["stdit"])
        torch.testing.assert_close(_forward(ema_big.eval()), _forward(self.loop.ema["stdit"]), rtol=0, atol=0)

    def test_the_new_blocks_are_not_all_zero_and_learn(self):
        grown = G.grow_checkpoint(self.state, 3, VOCAB, HIDDEN)
        st = grown["modules"]["stdit"]
        self.assertTrue(torch.equal(st["spatial_blocks.2.attn.proj.weight"], torch.zeros(HIDDEN, HIDDEN)))
        self.assertGreater(float(st["spatial_blocks.2.attn.qkv.weight"].abs().sum()), 0.0)
        torch.save(grown, self.out / "diffusion_ckpt.pt")
        loop = _loop(self.out, 3)  # resumes from the grown checkpoint
        self.assertEqual(loop.step, 3)
        _train(loop, 2)
        self.assertGreater(float(loop.modules["stdit"].temporal_blocks[2].mlp.fc2.weight.abs().sum()), 0.0)

    def test_the_moments_follow_their_parameters_by_name(self):
        grown = G.grow_checkpoint(self.state, 3, VOCAB, HIDDEN)
        t5, small = G._models(VOCAB, 0, HIDDEN, 2)
        t5b, big = G._models(VOCAB, 0, HIDDEN, 3)
        old = G.parameter_names(t5, small)
        new = G.parameter_names(t5b, big)
        name = ("stdit", "final_layer.linear.weight")
        torch.testing.assert_close(grown["opt"]["state"][new.index(name)]["exp_avg"],
                                   self.state["opt"]["state"][old.index(name)]["exp_avg"], rtol=0, atol=0)
        self.assertNotIn(new.index(("stdit", "spatial_blocks.2.mlp.fc1.weight")), grown["opt"]["state"])
        self.assertEqual(len(grown["opt"]["param_groups"][0]["params"]), len(new))

    def test_resuming_a_grown_checkpoint_at_the_old_depth_names_the_option(self):
        torch.save(G.grow_checkpoint(self.state, 3, VOCAB, HIDDEN), self.out / "diffusion_ckpt.pt")
        with self.assertRaisesRegex(SystemExit, "stdit weights do not fit .* --hidden, --depth"):
            _loop(self.out, 2)

    def test_a_compact_checkpoint_grows_too(self):
        small = compact_checkpoint(self.loop.ckpt)
        grown = G.grow_checkpoint(read_compact(small), 3, VOCAB, HIDDEN)
        full = G.grow_checkpoint(self.state, 3, VOCAB, HIDDEN)
        self.assertEqual(grown["step"], 3)
        for k, v in full["modules"]["stdit"].items():  # the weights are float32 in both forms
            self.assertTrue(torch.equal(grown["modules"]["stdit"][k], v), k)
        for k, v in full["ema"]["stdit"].items():  # the EMA within bfloat16 of its drift from the weights
            torch.testing.assert_close(grown["ema"]["stdit"][k], v, rtol=0, atol=1e-3)

    def test_a_smaller_or_equal_depth_is_refused_naming_both(self):
        with self.assertRaisesRegex(ValueError, "--depth 2: the checkpoint already has depth 2"):
            G.grow_checkpoint(self.state, 2, VOCAB, HIDDEN)

    def test_a_wrong_hidden_size_is_refused(self):
        with self.assertRaisesRegex(ValueError, "is --hidden the trained one"):
            G.grow_checkpoint(self.state, 3, VOCAB, 64)


if __name__ == "__main__":
    unittest.main()

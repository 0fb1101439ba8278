"""Tests of the eager reference sampler (sora4j_export.reference) and of the committed tiny-random references.

Part (a): schedule table, LPL rules on synthetic velocities, merge/unmerge properties, TDTM off == baseline.
Part (b): rebuilds the tiny models from their seed in memory and checks the committed reference files against what the
code produces now (see ReferenceFilesTest).
"""

import math
import os
import unittest

import numpy as np
import torch

from sora4j_export import reference as ref

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
REF_DIR = os.path.join(ROOT, "src", "test", "resources", "reference", "tiny-random")

# algorithms.md §2.5, 256x256x68, K = 30
TABLE_INT = [1000, 967, 933, 900, 867, 833, 800, 767, 733, 700, 667, 633, 600, 567, 533, 500, 467, 433, 400, 367, 333,
             300, 267, 233, 200, 167, 133, 100, 67, 33]
TABLE_TRANSFORMED = [1000.00, 984.97, 968.88, 952.66, 935.80, 917.72, 899.44, 880.39, 859.92, 839.16, 817.48, 794.10,
                     770.33, 745.42, 718.48, 690.98, 662.07, 630.67, 598.51, 564.54, 527.49, 489.36, 448.88, 404.50,
                     358.57, 309.53, 255.41, 199.01, 138.36, 70.90]


class ScheduleTest(unittest.TestCase):
    def test_discrete_table(self):
        self.assertEqual(ref.discrete_timesteps(30), TABLE_INT)
        self.assertEqual(ref.timesteps(30, 68, 256, 256, transform=False), [float(t) for t in TABLE_INT])

    def test_transformed_table(self):
        ts = ref.timesteps(30, 68, 256, 256)
        self.assertEqual(len(ts), 30)
        self.assertEqual(["%.2f" % t for t in ts], ["%.2f" % t for t in TABLE_TRANSFORMED])
        self.assertEqual("%.2f" % ref.timesteps(30, 68, 192, 192)[15], "626.45")

    def test_bankers_rounding(self):
        # K=16: (1 - 1/16)*1000 = 937.5 -> 938 (even), (1 - 3/16)*1000 = 812.5 -> 812 (even)
        d = ref.discrete_timesteps(16)
        self.assertEqual(d[1], 938)
        self.assertEqual(d[3], 812)

    def test_transform_frames(self):
        self.assertEqual(ref.transform_latent_frames(1), 1)
        self.assertEqual(ref.transform_latent_frames(68), 20)
        self.assertEqual(ref.transform_latent_frames(34), 10)
        self.assertEqual(ref.transform_latent_frames(17), 5)
        self.assertEqual(ref.transform_latent_frames(20), 5)  # upstream ignores the remainder chunk

    def test_dt(self):
        ts = ref.timesteps(30, 68, 256, 256)
        self.assertEqual(ref.step_dt(ts, 0), ts[0] - ts[1])
        self.assertEqual(ref.step_dt(ts, 29), ts[29])
        self.assertEqual(ref.step_dt(ts, 15, leap=True), ts[15])
        total = sum(ref.step_dt(ts, i) for i in range(30))
        self.assertAlmostEqual(total, 1000.0, places=9)


def _v(value):
    return torch.full((1, 4, 2, 2, 2), float(value))


def _run_state(cfg, vs, steps=30):
    st = ref.LplState(cfg, steps)
    for i, v in enumerate(vs):
        if st.update(i, v):
            return i, st
    return None, st


class LplTest(unittest.TestCase):
    def test_first_measured_step(self):
        self.assertEqual(ref.LplConfig().first_measured_step(30), 14)
        self.assertEqual(ref.LplConfig().first_measured_step(31), 15)
        self.assertEqual(ref.LplConfig(min_step_fraction=0.0).first_measured_step(30), 1)

    def test_fixed(self):
        leap, _ = _run_state(ref.LplConfig.fixed(15), [_v(1)] * 30)
        self.assertEqual(leap, 15)

    def test_earliest_dynamic_leap(self):
        # identical velocities: the first measurement (step 14) improves, 15, 16, 17 do not -> leap at 17 (18 calls)
        leap, st = _run_state(ref.LplConfig.dynamic(), [_v(1)] * 30)
        self.assertEqual(leap, 17)
        self.assertTrue(all(math.isnan(c) for c in st.cosines[:14]))
        self.assertAlmostEqual(st.cosines[14], 1.0, places=12)

    def test_never_before_minimum(self):
        # random velocities keep the cosine low before the minimum; nothing may leap before step 14 + patience
        g = torch.Generator().manual_seed(0)
        vs = [torch.randn(1, 4, 2, 2, 2, generator=g) for _ in range(30)]
        leap, st = _run_state(ref.LplConfig.dynamic(), vs)
        self.assertTrue(leap is None or leap >= 17)
        for pat in (1, 2, 5):
            leap, _ = _run_state(ref.LplConfig.dynamic(patience=pat), [_v(1)] * 30)
            self.assertEqual(leap, 14 + pat)

    def test_patience_reset_on_improvement(self):
        # velocities whose consecutive cosine rises at step 16 -> count resets, leap at 16 + 3 = 19
        base = torch.zeros(1, 4, 2, 2, 2)
        base.view(-1)[0] = 1.0
        other = torch.zeros_like(base)
        other.view(-1)[1] = 1.0

        def mix(a):  # unit vector at angle a from `base`
            return base * math.cos(a) + other * math.sin(a)

        # consecutive angle differences 0.3 up to step 15, 0.1 from step 16: the measurement at 14 improves (first),
        # 15 does not (count 2), 16 improves (count reset to 3), 17, 18, 19 do not -> leap at 19
        diffs = [0.3] * 16 + [0.1] * 14
        angles = list(np.cumsum(diffs))
        leap, st = _run_state(ref.LplConfig.dynamic(), [mix(a) for a in angles])
        self.assertAlmostEqual(st.cosines[14], math.cos(0.3), places=6)
        self.assertAlmostEqual(st.cosines[16], math.cos(0.1), places=6)
        self.assertEqual(leap, 19)

    def test_tolerance(self):
        # improvements smaller than the tolerance do not reset the counter
        vs = [_v(1)] * 14 + [_v(1) * (1 + 1e-3 * k) for k in range(16)]
        leap, _ = _run_state(ref.LplConfig.dynamic(cos_tolerance=1e-4), vs)
        self.assertEqual(leap, 17)

    def test_slice_scope(self):
        a = torch.randn(1, 4, 3, 4, 5, generator=torch.Generator().manual_seed(1))
        b = torch.randn(1, 4, 3, 4, 5, generator=torch.Generator().manual_seed(2))
        want = torch.nn.functional.cosine_similarity(a[0, 0, 0].double(), b[0, 0, 0].double(), dim=1).mean()
        self.assertAlmostEqual(ref.velocity_cosine(b, a, ref.COS_SLICE_B0_C0_F0_ROWWISE), float(want), places=12)
        want = torch.nn.functional.cosine_similarity(a.reshape(1, -1).double(), b.reshape(1, -1).double())
        self.assertAlmostEqual(ref.velocity_cosine(b, a), float(want), places=12)

    def test_state_is_per_call(self):
        cfg = ref.LplConfig.dynamic()
        a, _ = _run_state(cfg, [_v(1)] * 30)
        b, _ = _run_state(cfg, [_v(1)] * 30)
        self.assertEqual(a, b)


class MergeTest(unittest.TestCase):
    def test_shapes(self):
        for T in (1, 2, 3, 5, 10):
            x = torch.randn(2, T * 6, 8)
            m = ref.merge_frames(x, T, 6)
            self.assertEqual(tuple(m.shape), (2, ((T + 1) // 2) * 6, 8))
            self.assertEqual(tuple(ref.unmerge_frames(m, T, 6).shape), (2, T * 6, 8))

    def test_values(self):
        T, S = 5, 3
        x = torch.randn(1, T * S, 4)
        x4 = x.reshape(1, T, S, 4)
        m = ref.merge_frames(x, T, S).reshape(1, 3, S, 4)
        torch.testing.assert_close(m[:, 0], (x4[:, 0] + x4[:, 1]) / 2, rtol=0, atol=0)
        torch.testing.assert_close(m[:, 1], (x4[:, 2] + x4[:, 3]) / 2, rtol=0, atol=0)
        torch.testing.assert_close(m[:, 2], x4[:, 4], rtol=0, atol=0)  # odd last frame kept as is
        u = ref.unmerge_frames(m.reshape(1, 3 * S, 4), T, S).reshape(1, T, S, 4)
        for t in range(T):
            torch.testing.assert_close(u[:, t], m[:, t // 2], rtol=0, atol=0)

    def test_constant_in_time_restored_exactly(self):
        for T in (1, 4, 5, 7):
            frame = torch.randn(2, 1, 6, 8)
            x = frame.expand(2, T, 6, 8).reshape(2, T * 6, 8)
            self.assertTrue(torch.equal(ref.unmerge_frames(ref.merge_frames(x, T, 6), T, 6), x))


class _FakeEmbed(torch.nn.Module):
    def forward(self, z, t, y, fps, h, w):
        B, C, T, H, W = z.shape
        x = z.permute(0, 2, 3, 4, 1).reshape(B, T * H * W, C)
        return x, y, torch.zeros(B, 6 * C), torch.zeros(B, C)


class _FakeFinal(torch.nn.Module):
    def __init__(self, v):
        super().__init__()
        self.v = v

    def forward(self, x, t_emb, latent_size):
        T, H, W = [int(a) for a in latent_size]
        B = x.shape[0]
        out = torch.zeros(B, 8, T, H, W)
        out[:, :4] = self.v
        return out


class _FakeStdit(torch.nn.Module):
    def __init__(self, v):
        super().__init__()
        self.embed = _FakeEmbed()
        self.blocks = torch.nn.ModuleList()
        self.final = _FakeFinal(v)


class ConstantVelocityTest(unittest.TestCase):
    def test_leap_equals_full_run(self):
        v = torch.randn(1, 4, 3, 2, 2, generator=torch.Generator().manual_seed(3))
        s = ref.Sampler(_FakeStdit(v))
        z0 = torch.randn(1, 4, 3, 2, 2, generator=torch.Generator().manual_seed(4))
        y = torch.randn(1, 8, 16)
        mask = torch.tensor([[1, 1, 1, 0, 0, 0, 0, 0]])
        null = torch.randn(8, 16)
        kw = dict(height=64, width=64, num_frames=34)
        full = s.sample(z0, y, mask, null, **kw)
        fixed = s.sample(z0, y, mask, null, lpl=ref.LplConfig.fixed(15), **kw)
        dyn = s.sample(z0, y, mask, null, lpl=ref.LplConfig.dynamic(), **kw)
        self.assertEqual(full.calls, 30)
        self.assertEqual(fixed.calls, 16)
        self.assertEqual(dyn.calls, 18)
        self.assertEqual(dyn.leap_step, 17)
        torch.testing.assert_close(fixed.z, full.z, rtol=0, atol=1e-5)
        torch.testing.assert_close(dyn.z, full.z, rtol=0, atol=1e-5)
        torch.testing.assert_close(full.z, z0 + v, rtol=0, atol=1e-5)  # sum of dt = 1000

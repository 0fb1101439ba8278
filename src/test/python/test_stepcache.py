"""Step caching (sora4j_export.stepcache): the mask and adaptive rules, the calibration file, the reference sampler's
reuse, and the preset names shared with Java (io.github.sora4j.Preset)."""

import json
import math
import os
import re
import shutil
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export import reference as ref
from sora4j_export import stepcache as sc
from sora4j_export.pack import sha256_file, verify_pack

ROOT = Path(__file__).resolve().parents[3]
PACKS = ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs"
PRESET_JAVA = ROOT / "src" / "main" / "java" / "io" / "github" / "sora4j" / "Preset.java"


class MaskTest(unittest.TestCase):
    def test_mask_skips_while_the_accumulated_error_stays_under_the_threshold(self):
        ratios = [1.0] + [0.9] * 7
        self.assertEqual([i for i, c in enumerate(sc.mask_from_ratios(ratios, 8, 0.3, 5, 1)) if c], [0, 3, 6])

    def test_mask_computes_warmup_forced_steps_and_breaks_long_runs(self):
        flat = [1.0] * 10
        self.assertEqual([i for i, c in enumerate(sc.mask_from_ratios(flat, 10, 0.1, 2, 3)) if c], [0, 1, 2, 5, 8])
        self.assertEqual([i for i, c in enumerate(sc.mask_from_ratios(flat, 10, 0.1, 2, 3, lambda i: i == 4)) if c],
                         [0, 1, 2, 4, 7])

    def test_a_calibration_shorter_than_the_run_is_refused(self):
        with self.assertRaisesRegex(ValueError, "calibration has 3 steps"):
            sc.mask_from_ratios([1.0, 1.0, 1.0], 5, 0.1, 2, 1)


class AdaptiveTest(unittest.TestCase):
    def run_session(self, cfg, steps, dz, rate, forced=lambda i: False):
        """Every step's latent is (1 + dz) × the last computed step's, every computed velocity (1 + rate·dz) × the
        last computed one: a constant input change dz and transformation rate, as StepCachesTest feeds Java."""
        s = cfg.session(steps, forced)
        z_c, v_c = torch.ones(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
        out = []
        for i in range(steps):
            z = z_c if i == 0 else z_c * (1 + dz)
            if s.compute(i, z):
                out.append(i)
                v = v_c if i == 0 else v_c * (1 + rate * dz)
                s.stored(z, torch.zeros(1), v)
                z_c, v_c = z, v
        return out

    def test_adaptive_rule_matches_the_java_decisions(self):
        # StepCachesTest: rate 2, input change 0.1, threshold 0.4, 3 skips, warm-up 2 → 0, 1, 5, 9
        cfg = sc.CacheConfig("adaptive", 0.4, 3, 2, sc.VELOCITY)
        self.assertEqual(self.run_session(cfg, 12, 0.1, 2.0), [0, 1, 5, 9])

    def test_forced_steps_always_compute(self):
        cfg = sc.CacheConfig("adaptive", 1.0, 10, 1, sc.VELOCITY)
        self.assertEqual(self.run_session(cfg, 8, 0.01, 1.0, lambda i: i == 5), [0, 1, 5])

    def test_forced_steps_follow_lpl(self):
        fixed = ref._forced_steps(ref.LplConfig.fixed(15), 30)
        self.assertEqual([i for i in range(30) if fixed(i)], [15])
        dyn = ref._forced_steps(ref.LplConfig.dynamic(), 30)
        self.assertEqual(min(i for i in range(30) if dyn(i)), 13)  # the step before the first measured one (14)


class CalibrationFileTest(unittest.TestCase):
    def test_calibration_is_listed_in_the_manifest_with_its_sha256(self):
        with tempfile.TemporaryDirectory() as d:
            pack = Path(d) / "p"
            shutil.copytree(PACKS / "tiny-random", pack)
            sc.write_calibration(pack, [1.0, 0.9, 1.1], ["a red circle"], 7)
            entry = [f for f in json.loads((pack / "manifest.json").read_text())["files"] if f["file"] == sc.FILE]
            self.assertEqual(len(entry), 1)
            self.assertEqual(entry[0]["sha256"], sha256_file(pack / sc.FILE))
            verify_pack(pack)
            self.assertEqual(sc.read_calibration(pack), [1.0, 0.9, 1.1])
            sc.write_calibration(pack, [1.0, 1.0], ["x"], 7)  # recalibrating replaces the entry
            files = json.loads((pack / "manifest.json").read_text())["files"]
            self.assertEqual(sum(f["file"] == sc.FILE for f in files), 1)
            verify_pack(pack)

    def test_a_signed_pack_is_refused_and_left_unchanged(self):
        with tempfile.TemporaryDirectory() as d:
            pack = Path(d) / "p"
            shutil.copytree(PACKS / "tiny-random", pack)
            (pack / "manifest.json.sig").write_bytes(b"sig")
            before = (pack / "manifest.json").read_bytes()
            with self.assertRaisesRegex(ValueError, "signed"):
                sc.write_calibration(pack, [1.0, 1.0], ["x"], 7)
            self.assertEqual((pack / "manifest.json").read_bytes(), before)
            self.assertFalse((pack / sc.FILE).exists())

    def test_the_demo_pack_carries_a_30_step_calibration(self):
        ratios = sc.read_calibration(PACKS / "demo")
        self.assertEqual(len(ratios), 30)
        self.assertTrue(all(r > 0 and math.isfinite(r) for r in ratios))


class SamplerReuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from sora4j_export.demo.quality import PackModels

        torch.set_num_threads(1)
        cls.models = PackModels(PACKS / "tiny-random")

    def sample(self, cache, steps=8, lpl=None):
        from sora4j_export.tiny import initial_noise

        m = self.models
        y, mask, _ = ref.encode_prompt(m.t5, m.tokenizer, "a red circle", m.max_length, 6.5)
        z0 = initial_noise(3, m.latent_shape(17, 64, 64))
        return m.sampler.sample(z0, y, mask, m.null, height=64, width=64, num_frames=17, steps=steps, guidance=7.0,
                                lpl=lpl, cache=cache)

    def test_a_cache_that_never_skips_changes_nothing(self):
        plain = self.sample(None)
        for reuse in (sc.RESIDUAL, sc.VELOCITY):
            never = self.sample(sc.CacheConfig("mask", 1e-12, 1, 1, reuse, [1.0] + [2.0] * 7))
            self.assertEqual(never.computed, [True] * 8)
            self.assertTrue(torch.equal(never.z, plain.z))

    def test_velocity_reuse_repeats_the_last_computed_velocity_and_the_leap_computes(self):
        res = self.sample(sc.CacheConfig("mask", 10.0, 2, 1, sc.VELOCITY, [1.0] * 8), lpl=ref.LplConfig.fixed(4))
        self.assertEqual(res.computed, [True, False, False, True, True])  # step 4 is the leap
        self.assertTrue(torch.equal(res.velocities[1], res.velocities[0]))
        self.assertTrue(torch.equal(res.velocities[2], res.velocities[0]))
        self.assertFalse(torch.equal(res.velocities[3], res.velocities[0]))
        self.assertEqual(res.computed_calls, 3)

    def test_residual_reuse_reruns_embed_and_final(self):
        res = self.sample(sc.CacheConfig("mask", 10.0, 2, 1, sc.RESIDUAL, [1.0] * 8))
        self.assertEqual(res.computed, [True, False, False, True, False, False, True, False])
        # the embed and final layer see the new latent and timestep, so the velocity moves
        self.assertFalse(torch.equal(res.velocities[1], res.velocities[0]))


class PresetNamesTest(unittest.TestCase):
    def test_python_presets_are_javas(self):
        from sora4j_export.demo import presets as P

        java = PRESET_JAVA.read_text(encoding="utf-8")
        names = re.findall(r'^\s+[A-Z_]+\("([a-z-]+)", (-?\d+), (\d+), (null|CacheKind\.(MASK|ADAPTIVE))\)', java,
                           re.M)
        self.assertEqual([(n, int(l), int(t), None if c == "null" else k.lower()) for n, l, t, c, k in names],
                         [(p.name, p.lpl_leap, p.tdtm_steps, p.cache) for p in P.PRESETS])
        for key, value in (("MASK_THRESHOLD", P.MASK["threshold"]), ("MASK_MAX_SKIPS", P.MASK["max_skips"]),
                           ("MASK_WARMUP", P.MASK["warmup"]), ("ADAPTIVE_THRESHOLD", P.ADAPTIVE["threshold"]),
                           ("ADAPTIVE_MAX_SKIPS", P.ADAPTIVE["max_skips"]), ("ADAPTIVE_WARMUP", P.ADAPTIVE["warmup"])):
            self.assertRegex(java, rf"{key} = {value};")


class QualityReportTest(unittest.TestCase):
    def test_a_regenerated_quality_report_keeps_the_presets_table(self):
        from sora4j_export.demo.quality import keep_presets_section

        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "q.md"
            out.write_text("# old\n\n<!-- presets:begin -->\n| table |\n<!-- presets:end -->\n", encoding="utf-8")
            self.assertEqual(keep_presets_section("# new\n", out),
                             "# new\n\n<!-- presets:begin -->\n| table |\n<!-- presets:end -->\n")
            out.write_text("# old\n", encoding="utf-8")
            self.assertEqual(keep_presets_section("# new\n", out), "# new\n")


    def test_the_reproduce_command_names_every_option_that_is_not_the_default(self):
        import argparse

        from sora4j_export.demo.quality import DEFAULT_OUT, DEFAULT_PACK
        from sora4j_export.demo.quality_report import reproduce_command

        defaults = argparse.Namespace(pack=str(DEFAULT_PACK), out=str(DEFAULT_OUT), label=None, per_combo=2,
                                      limit=None, threads=1)
        self.assertEqual(reproduce_command(defaults),
                         "PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.quality")
        other = argparse.Namespace(pack="/tmp/v2pack", out="/tmp/q.md", label="v2 at step 8000", per_combo=2,
                                   limit=24, threads=2)
        self.assertEqual(reproduce_command(other),
                         "PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.quality --pack /tmp/v2pack "
                         "--out /tmp/q.md --label 'v2 at step 8000' --limit 24 --threads 2")

if __name__ == "__main__":
    unittest.main()

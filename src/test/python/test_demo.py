"""The demo world, its detector, the quality metrics, and the committed demo pack (sora4j_export.demo)."""

import os
import unittest

import numpy as np

from sora4j_export.demo import detect as D
from sora4j_export.demo import quality as Q
from sora4j_export.demo import world as W
from sora4j_export.tokenizer import UNK_ID, WordLevelTokenizer, build_vocab

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PACK_DIR = os.path.join(ROOT, "src", "main", "resources", "io", "github", "sora4j", "packs", "demo")
MODEL_PACK_JAVA = os.path.join(ROOT, "src", "main", "java", "io", "github", "sora4j", "pack", "ModelPack.java")


class WorldTest(unittest.TestCase):
    def test_captions_use_only_tokenizer_words(self):
        vocab = build_vocab()
        self.assertEqual([w for w in W.caption_words() if w not in vocab], [])
        tok = WordLevelTokenizer(vocab)
        rng = np.random.default_rng(0)
        for t in range(len(W.TEMPLATES)):
            ids, _ = tok.encode(W.sample_clip(rng).caption(t), 300)
            self.assertNotIn(UNK_ID, ids)

    def test_held_out_triples_are_disjoint_from_training(self):
        self.assertEqual(len(W.HELD_OUT_TRIPLES), 12)
        self.assertFalse(set(W.HELD_OUT_TRIPLES) & set(W.TRAIN_TRIPLES))
        self.assertEqual(len(W.HELD_OUT_TRIPLES) + len(W.TRAIN_TRIPLES), len(W.COLOURS) * 3 * 4)
        for i, names in enumerate((W.COLOURS, W.SHAPES, W.DIRECTIONS)):  # every word still trained
            self.assertEqual({t[i] for t in W.TRAIN_TRIPLES}, set(names))
        self.assertIn(("red", "circle", "left"), W.TRAIN_TRIPLES)  # the README's prompt
        rng = np.random.default_rng(1)
        self.assertTrue(all(W.sample_clip(rng).triple in W.TRAIN_TRIPLES for _ in range(200)))

    def test_clips_are_seeded_and_stay_inside_the_frame(self):
        a = [W.sample_clip(np.random.default_rng(7)) for _ in range(2)]
        self.assertEqual(a[0], a[1])
        rng = np.random.default_rng(2)
        for _ in range(300):
            c = W.sample_clip(rng, W.TRAIN_TRIPLES + W.HELD_OUT_TRIPLES)
            for f in (0, c.frames - 1):
                x, y = c.centre(f)
                self.assertTrue(c.radius <= x <= c.width - 1 - c.radius, c)
                self.assertTrue(c.radius <= y <= c.height - 1 - c.radius, c)
            dx = c.centre(c.frames - 1)[0] - c.x0
            dy = c.centre(c.frames - 1)[1] - c.y0
            self.assertAlmostEqual(max(abs(dx), abs(dy)), W.PROMPT_SPEEDS[c.speed])
            w = W.sample_clip(rng, wide=True)
            self.assertAlmostEqual(max(abs(w.centre(w.frames - 1)[0] - w.x0), abs(w.centre(w.frames - 1)[1] - w.y0)),
                                   W.SPEEDS[w.speed])

    def test_render_shape_and_range(self):
        c = W.Clip("red", "triangle", "up", "quickly", "light", 30.0, 45.0, 7.0)
        v = W.render(c)
        self.assertEqual(v.shape, (17, 64, 64, 3))
        self.assertEqual(v.dtype, np.uint8)
        self.assertEqual(tuple(v[0, 0, 0]), W.BACKGROUNDS["light"])
        self.assertEqual(tuple(v[0, 45, 30]), W.COLOURS["red"])
        x = W.to_model(v)
        self.assertEqual(x.shape, (3, 17, 64, 64))
        np.testing.assert_array_equal(W.from_model(x), v)


class DetectorTest(unittest.TestCase):
    def test_ground_truth_accuracy(self):
        rng = np.random.default_rng(11)
        n, ok_colour, ok_dir, ok_speed, ok_bg = 60, 0, 0, 0, 0
        for _ in range(n):
            c = W.sample_clip(rng, W.TRAIN_TRIPLES + W.HELD_OUT_TRIPLES)
            d = D.detect(W.render(c))
            ok_colour += d.colour == c.colour
            ok_dir += d.direction == c.direction
            ok_speed += d.speed == c.speed
            ok_bg += d.background == c.background
        for name, ok in (("colour", ok_colour), ("direction", ok_dir), ("speed", ok_speed), ("background", ok_bg)):
            self.assertGreaterEqual(ok / n, 0.95, name)

    def test_float_input_and_prompt_parsing(self):
        c = W.Clip("cyan", "square", "left", "slowly", "dark", 40.0, 20.0, 7.0, travel_px=W.PROMPT_SPEEDS["slowly"])
        d = D.detect(W.to_model(W.render(c))[None])  # [1, 3, F, H, W] in [-1, 1]
        want = D.parse_prompt("A cyan square moving left slowly on a dark background.")
        self.assertEqual(want, {"colour": "cyan", "shape": "square", "direction": "left", "speed": "slowly",
                                "background": "dark"})
        self.assertTrue(all(d.matches({k: v for k, v in want.items() if k != "shape"}).values()))

    def test_still_or_empty_video_has_no_direction(self):
        still = np.repeat(W.render_frame(W.Clip("blue", "circle", "up", "slowly", "dark", 30, 30, 7), 0)[None], 17, 0)
        self.assertEqual(D.detect(still).direction, "none")
        empty = np.full((17, 64, 64, 3), 24, dtype=np.uint8)
        d = D.detect(empty)
        self.assertEqual((d.colour, d.direction), ("none", "none"))

    def test_reads_png_folders(self):
        import tempfile

        from PIL import Image

        c = W.Clip("yellow", "circle", "down", "quickly", "dark", 20.0, 12.0, 6.5)
        v = W.render(c)
        with tempfile.TemporaryDirectory() as tmp:
            for i, fr in enumerate(v):
                Image.fromarray(fr).save(os.path.join(tmp, f"frame_{i:03d}.png"))
            np.testing.assert_array_equal(D.read_video(tmp), v)


class MetricsTest(unittest.TestCase):
    def test_psnr_and_ssim(self):
        rng = np.random.default_rng(3)
        a = W.render(W.sample_clip(rng))
        self.assertEqual(Q.psnr(a, a), float("inf"))
        self.assertAlmostEqual(Q.ssim(a, a), 1.0, places=12)
        noisy = np.clip(a.astype(np.int16) + rng.integers(-8, 9, a.shape), 0, 255).astype(np.uint8)
        noisier = np.clip(a.astype(np.int16) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
        self.assertGreater(Q.psnr(a, noisy), Q.psnr(a, noisier))
        self.assertGreater(Q.ssim(a, noisy), Q.ssim(a, noisier))
        self.assertAlmostEqual(Q.ssim(a, noisy), Q.ssim(noisy, a), places=12)
        # PSNR of a constant offset of 5 grey levels: 10 log10(255^2 / 25)
        self.assertAlmostEqual(Q.psnr(np.full((2, 8, 8, 3), 100, np.uint8), np.full((2, 8, 8, 3), 105, np.uint8)),
                               10 * np.log10(255 ** 2 / 25), places=9)


@unittest.skipUnless(os.path.isdir(PACK_DIR), "the demo pack is not in this checkout")
class DemoPackTest(unittest.TestCase):
    def test_pack_verifies_and_is_small(self):
        from sora4j_export.pack import verify_pack

        m = verify_pack(PACK_DIR)
        self.assertEqual(m["name"], "demo")
        total = sum(b["bytes"] for b in m["blocks"]) + sum(f["bytes"] for f in m["files"])
        self.assertLessEqual(total, 25 * 1000 * 1000)
        self.assertEqual(m["stdit"]["captionChannels"], m["text"]["dModel"])

    def test_is_the_embedded_default(self):
        with open(MODEL_PACK_JAVA, encoding="utf-8") as f:
            self.assertIn('DEFAULT_EMBEDDED = "demo"', f.read())

    def test_readme_prompt_gives_a_matching_video(self):
        import torch

        torch.set_num_threads(1)
        models = Q.PackModels(PACK_DIR)
        prompt = "a red circle moving left"
        frames, res = models.generate(prompt, seed=42)
        self.assertEqual(tuple(frames.shape), (1, 3, 17, 64, 64))
        self.assertEqual(res.calls, 30)
        d = D.detect(frames[0].numpy())
        self.assertEqual((d.colour, d.direction), ("red", "left"), d)


if __name__ == "__main__":
    unittest.main()

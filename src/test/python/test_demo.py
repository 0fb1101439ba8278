"""The demo world, its detector, the quality metrics, and the committed demo pack (sora4j_export.demo)."""

import os
from pathlib import Path
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
            self.assertAlmostEqual(max(abs(dx), abs(dy)), W.prompt_travel(c.speed, c.frames))
            w = W.sample_clip(rng, wide=True, frames=W.CHUNK_FRAMES)
            self.assertAlmostEqual(max(abs(w.centre(w.frames - 1)[0] - w.x0), abs(w.centre(w.frames - 1)[1] - w.y0)),
                                   W.SPEEDS[w.speed])

    def test_render_shape_and_range(self):
        c = W.Clip("red", "triangle", "up", "quickly", "light", 30.0, 45.0, 7.0)
        v = W.render(c)
        self.assertEqual(v.shape, (W.FRAMES, 64, 64, 3))
        self.assertEqual(v.dtype, np.uint8)
        self.assertEqual(tuple(v[0, 0, 0]), W.BACKGROUNDS["light"])
        self.assertEqual(tuple(v[0, 45, 30]), W.COLOURS["red"])
        x = W.to_model(v)
        self.assertEqual(x.shape, (3, W.FRAMES, 64, 64))
        np.testing.assert_array_equal(W.from_model(x), v)


    def test_v2_clips_are_three_vae_chunks_and_speeds_stay_apart(self):
        self.assertEqual(W.FRAMES % W.CHUNK_FRAMES, 0)
        self.assertEqual(W.FRAMES // W.CHUNK_FRAMES * 5, 15)  # Open-Sora's 51 frames -> 15 latent frames
        self.assertGreaterEqual(W.PROMPT_SPEEDS["quickly"] / W.PROMPT_SPEEDS["slowly"], 2.0)
        self.assertAlmostEqual(W.speed_split(17), 18.0 / 16)  # v1: between 14 and 22 px over 16 frame steps
        self.assertAlmostEqual(W.speed_split(51), 16.0 / 50)


class CaptionTest(unittest.TestCase):
    def _form(self, named, order=0, article=True, verb="moving", speed_first=False, synonym=False, short=False):
        return W.CaptionForm(tuple(named), W.ORDERS[order], article, verb, speed_first, synonym, short)

    def test_the_issues_short_prompts_are_training_captions(self):
        blue = W.Clip("blue", "square", "left", "slowly", "dark", 30.0, 30.0, 9.0)
        self.assertEqual(W.caption(blue, self._form(("colour", "shape"), article=False)), "blue square")
        green = W.Clip("green", "triangle", "up", "quickly", "dark", 30.0, 30.0, 9.0)
        self.assertEqual(W.caption(green, self._form(("colour", "shape", "direction"), order=1)),
                         "moving up, a green triangle")
        red = W.Clip("red", "circle", "left", "quickly", "light", 30.0, 30.0, 9.0)
        self.assertEqual(W.caption(red, W.FULL_FORM), red.caption(0))
        self.assertEqual(W.caption(red, self._form(("colour", "speed", "background", "direction"), order=3,
                                                   speed_first=True, synonym=True, short=True)),
                         "light background, a red shape fast moving left")

    def test_a_caption_without_background_words_shows_the_dark_background(self):
        light = W.Clip("red", "circle", "left", "quickly", "light", 30.0, 30.0, 9.0)
        with self.assertRaisesRegex(ValueError, "dark background"):
            W.caption(light, self._form(("colour", "shape")))
        rng = np.random.default_rng(5)
        for _ in range(200):
            self.assertIn("background", W.sample_caption_form(rng, background_required=True).named)

    def test_sampled_captions_name_exactly_their_attributes_in_known_words(self):
        vocab = build_vocab()
        declared = set(W.declared_vocabulary())
        tok = WordLevelTokenizer(vocab)
        rng = np.random.default_rng(0)
        seen_named, orders = set(), set()
        for _ in range(400):
            clip = W.sample_clip(rng)
            form = W.sample_caption_form(rng, background_required=clip.background != "dark")
            text = W.caption(clip, form)
            named = D.parse_prompt(text)
            self.assertEqual(set(named), set(form.named), text)
            self.assertTrue(all(getattr(clip, k) == v for k, v in named.items()), text)
            ids, _ = tok.encode(text, 300)
            self.assertNotIn(UNK_ID, ids, text)
            self.assertTrue(set(text.replace(",", " , ").split()) <= declared, text)
            seen_named.add(form.named)
            orders.add(form.order)
        self.assertGreater(len(seen_named), 12)  # many subsets of the five attributes
        self.assertEqual(orders, set(W.ORDERS))
        self.assertTrue(set(W.SUFFIX_WORDS) <= declared)
        self.assertNotIn("moves", W.declared_vocabulary(v1=True))


    def test_captions_of_one_form_have_one_token_count(self):
        # a training batch shares one form and one caption length (dit_stage.train relies on it)
        from sora4j_export.reference import prepare_prompt

        tok = WordLevelTokenizer(build_vocab())
        rng = np.random.default_rng(3)
        for _ in range(60):
            form = W.sample_caption_form(rng)
            lengths = {sum(tok.encode(prepare_prompt(W.caption(W.sample_clip(
                rng, background=None if form.names("background") else "dark"), form)), 300)[1])
                for _ in range(8)}
            self.assertEqual(len(lengths), 1, form)


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

    def test_every_frame_of_the_worlds_renders_is_clean_with_the_right_shape(self):
        rng = np.random.default_rng(12)
        for _ in range(24):
            c = W.sample_clip(rng, W.TRAIN_TRIPLES + W.HELD_OUT_TRIPLES, frames=W.CHUNK_FRAMES)
            chk = D.check_frames(W.render(c), {"colour": c.colour, "shape": c.shape})
            self.assertTrue(chk.all_clean, (c, chk))
            self.assertEqual(chk.shape_vote(), c.shape)

    def test_a_second_blob_a_wrong_colour_or_shape_fails_the_frame(self):
        c = W.Clip("red", "square", "left", "slowly", "light", 40.0, 30.0, 9.0, frames=4)
        v = W.render(c)
        want = {"colour": "red", "shape": "square"}
        ghost = v.copy()
        ghost[2, 5:9, 5:9] = W.COLOURS["blue"]  # a 16-pixel second blob in frame 2
        chk = D.check_frames(ghost, want)
        self.assertEqual((chk.clean, chk.extra, chk.first_bad), (3, 1, 2))
        self.assertEqual(D.check_frames(v, {"colour": "yellow"}).wrong_colour, 4)
        self.assertEqual(D.check_frames(v, {"shape": "circle"}).wrong_shape, 4)
        # amber: nearest palette entry yellow, but 65 RGB units from it (> COLOUR_TOLERANCE)
        amber = np.where(W.object_masks(c)[..., None] > 0.5, np.uint8([235, 150, 40]), v)
        self.assertGreater(D.check_frames(amber, {"colour": "yellow"}).wrong_colour, 0)
        tiny = v.copy()
        tiny[1, 2:4, 2:4] = W.COLOURS["white"]  # 4 pixels: below GHOST_MIN_PX, not an object
        self.assertTrue(D.check_frames(tiny, want).all_clean)
        empty = np.repeat(v[:, :1, :1], 64, 1).repeat(64, 2)
        self.assertEqual(D.check_frames(empty, want).missing, 4)

    def test_connected_components_match_a_flood_fill(self):
        def flood(mask):
            h, w = mask.shape
            lab, n = np.zeros((h, w), int), 0
            for y0, x0 in zip(*np.nonzero(mask)):
                if lab[y0, x0]:
                    continue
                n += 1
                lab[y0, x0], stack = n, [(y0, x0)]
                while stack:
                    y, x = stack.pop()
                    for yy in range(max(0, y - 1), min(h, y + 2)):
                        for xx in range(max(0, x - 1), min(w, x + 2)):
                            if mask[yy, xx] and not lab[yy, xx]:
                                lab[yy, xx] = n
                                stack.append((yy, xx))
            return lab, n

        rng = np.random.default_rng(4)
        for k in range(20):
            m = rng.random((24, 31)) < rng.uniform(0.05, 0.7)
            a, n = D.label(m)
            b, nb = flood(m)
            self.assertEqual(n, nb)
            np.testing.assert_array_equal(a, b)

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


class QualitySetsTest(unittest.TestCase):
    def test_short_prompts_include_the_issues_examples_and_leave_attributes_out(self):
        prompts = [p for p, _ in Q.short_prompts()]
        self.assertEqual(prompts[:3], list(Q.SHORT_EXAMPLES))
        self.assertEqual(len(prompts), 3 + len(Q.SHORT_FORMS) * len(W.HELD_OUT_TRIPLES))
        self.assertEqual(len({s for _, s in Q.short_prompts()}), len(prompts))  # one seed each
        named = [set(D.parse_prompt(p)) for p in prompts]
        self.assertIn({"colour", "shape"}, named)
        self.assertTrue(all(n for n in named))

    def test_the_worlds_renders_pass_every_attribute(self):
        for clip, prompt in W.held_out_clips(3, frames=W.CHUNK_FRAMES)[:8]:
            o = Q.judge(W.render(clip), prompt)
            self.assertTrue(o.all_named and o.clean, (prompt, o))
            self.assertEqual(set(o.right), set(Q.ATTRIBUTES))


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
        self.assertEqual(tuple(frames.shape), (1, 3, 51, 64, 64))  # the native request: 51 frames at 64×64
        self.assertEqual(res.calls, 30)
        d = D.detect(frames[0].numpy())
        self.assertEqual((d.colour, d.direction), ("red", "left"), d)
        o = Q.judge(W.from_model(frames[0].numpy()), prompt)
        self.assertTrue(o.all_named and o.clean, o)  # colour, shape, direction right; every frame one red circle

    def test_the_fills_diagnosis_tells_squares_from_circles_in_truth_and_round_trip(self):
        import torch

        from sora4j_export.demo.diagnose import part_fills

        torch.set_num_threads(1)
        models = Q.PackModels(PACK_DIR)
        # the v2 runs share one autoencoder (training/demo-v2's), the embedded pack's decoder included
        res = part_fills(models, Path(ROOT, "training", "demo-v2"), lambda s: None, clips=1)
        self.assertEqual(set(res), {f"{s}/{b}" for s in ("square", "circle") for b in W.BACKGROUNDS})
        for bg in W.BACKGROUNDS:
            self.assertEqual(res[f"square/{bg}"]["truth"]["square_share"], 1.0)
            self.assertEqual(res[f"circle/{bg}"]["truth"]["square_share"], 0.0)
            self.assertGreaterEqual(res[f"square/{bg}"]["round_trip"]["square_share"], 0.95, res)
            self.assertEqual(res[f"circle/{bg}"]["round_trip"]["square_share"], 0.0, res)
            self.assertEqual(res[f"circle/{bg}"]["generated"]["square_share"], 0.0, res)

    def test_evaluation_in_two_processes_gives_the_outcomes_of_one(self):
        import torch

        torch.set_num_threads(1)
        models = Q.PackModels(PACK_DIR)
        models.guidance = 5.0  # quality --guidance: the workers sample at it too
        items = Q.held_out_prompts(models.frames, 1, 3)
        settings = Q.SETTINGS[:2]  # the baseline and LPL 16/30 (PSNR against the baseline)
        one = Q.evaluate(models, items, settings=settings, log=lambda s: None)
        two = Q.evaluate_parallel(models, PACK_DIR, items, settings=settings, workers=2, log=lambda s: None)
        for s in settings:
            a, b = one[s.name].outcomes, two[s.name].outcomes
            self.assertEqual([(o.prompt, o.right, o.clean, o.first_bad, o.calls, o.psnr) for o in a],
                             [(o.prompt, o.right, o.clean, o.first_bad, o.calls, o.psnr) for o in b])

    def test_presets_in_two_processes_give_the_values_of_one(self):
        import torch

        from sora4j_export import stepcache as sc
        from sora4j_export.demo import presets as P

        torch.set_num_threads(1)
        models = Q.PackModels(str(PACK_DIR))
        items = Q.held_out_prompts(models.frames, 1, 3)
        chosen = (P.PRESETS[0], next(p for p in P.PRESETS if p.name == "lpl-cache"))
        one = P.evaluate(models, items, sc.read_calibration(PACK_DIR), chosen, log=lambda s: None)
        two = P.evaluate_parallel(PACK_DIR, items, chosen, workers=2, log=lambda s: None)
        for name in ("full", "lpl-cache"):
            a = {k: v for k, v in one[name].items() if k != "secondsPerVideo"}
            b = {k: v for k, v in two[name].items() if k != "secondsPerVideo"}
            self.assertEqual(a, b, name)
        self.assertLess(one["lpl-cache"]["computedSteps"], 16)

    def test_variants_script_runs_at_the_native_request(self):
        import contextlib
        import io

        import torch

        from sora4j_export.demo import variants as V

        torch.set_num_threads(1)
        self.assertTrue(all(v.frames is None for g in V.GROUPS.values() for v in g))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(V.main(["--limit", "1", "--groups", "lpl16"]), 0)
        rows = [r for r in out.getvalue().splitlines() if r.startswith("| K = 16")]
        self.assertEqual(len(rows), 3, out.getvalue())
        self.assertIn("| 16.0 | — |", rows[0])  # the full run: 16 calls, the reference itself


if __name__ == "__main__":
    unittest.main()

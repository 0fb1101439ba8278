"""Diagnoses a demo pack before retraining (issue 16): where do its failures come from?

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.diagnose [--pack DIR] [--out DIR] [--parts ...]

Parts (``--parts``, default all):

The VAE round trip per colour × background × shape is measured by the training's ``latents`` stage for the VAE it
trains (``round_trip.json`` and the log; :func:`.vae_stages.round_trip_report`); the encoders are training-only, so
the ``fills`` part, which compares the round trip with the generation, needs the training directory.

* ``captions``: how the training captions of :mod:`.world` name the attributes (v1: four templates, one word order).
* ``readme``: the README prompt ``a red circle moving left`` on seeds 0–19, every frame.
* ``backgrounds``: full prompts for every colour × shape × background (one seed each), the every-frame check and the
  detector's per-clip attributes, split by background, plus the same prompts without the background words.
* ``fills`` (needs ``--run``, a training directory with the encoders: ``spatial.pt`` and ``temporal.pt``): where a
  square loses its corners. Per shape × background, the per-frame soft-box fill of the object (the detector's shape
  measure: 1.0 for a square, π/4 for a circle; a square needs ≥ ``detect.SQUARE_FILL``) in the world's truth, in the
  VAE round trip of that truth, and in the pack's generation for the truth's full caption.

Writes ``diagnose.json`` and PNG strips into ``--out`` (default /tmp/sora4j-diagnose); prints a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import world as W
from .detect import check_frames, detect, parse_prompt
from .quality import DEFAULT_PACK, PackModels


def _strip(video: np.ndarray, path: Path, every: int = 1) -> None:
    from PIL import Image

    frames = video[::every]
    Image.fromarray(np.concatenate(list(frames), axis=1)).save(path)


def _caption_stats(make, n: int = 4000) -> dict:
    rng = np.random.default_rng(0)
    counts = {"colour": 0, "shape": 0, "direction": 0, "speed": 0, "background": 0}
    orders = set()
    for _ in range(n):
        cap = make(rng)
        named = parse_prompt(cap)
        for k in counts:
            counts[k] += k in named
        words = cap.replace(",", " ").split()
        orders.add("".join(k for w in words for k, names in (("C", W.COLOURS), ("S", W.SHAPES), ("D", W.DIRECTIONS),
                                                             ("V", W.SPEED_WORDS["slowly"] + W.SPEED_WORDS["quickly"]),
                                                             ("B", W.BACKGROUNDS)) if w in names))
    return {"captions": n, "named_share": {k: round(v / n, 3) for k, v in counts.items()},
            "attribute_orders": len(orders), "examples": sorted(orders)[:12]}


def part_captions(log) -> dict:
    """v1: the four templates; v2: the caption forms (a light clip always names its background)."""
    def v1(rng):
        return W.sample_clip(rng, frames=17).caption(W.sample_template(rng))

    def v2(rng):
        clip = W.sample_clip(rng)
        return W.caption(clip, W.sample_caption_form(rng, background_required=clip.background != "dark"))

    res = {"v1": _caption_stats(v1), "v2": _caption_stats(v2)}
    log(f"captions: {res}")
    return res


README_PROMPTS = ("a red circle moving left", "a red circle moving left on a dark background")


def part_readme(models: PackModels, out: Path, frames: int, log) -> dict:
    """The README prompt on seeds 0-19, every frame; and the same prompt with the background named."""
    from PIL import Image

    result = {}
    for n, prompt in enumerate(README_PROMPTS):
        want = parse_prompt(prompt)
        rows, strips = [], []
        for seed in range(20):
            fr, _ = models.generate(prompt, seed, frames=frames)
            video = W.from_model(fr[0].numpy())
            d = detect(video, speed_split=W.speed_split(frames))
            chk = check_frames(video, want)
            rows.append({"seed": seed, "clean": chk.clean, "frames": chk.frames, "first_bad": chk.first_bad,
                         "missing": chk.missing, "extra": chk.extra, "wrong_colour": chk.wrong_colour,
                         "wrong_shape": chk.wrong_shape, "shapes": chk.shapes, "colour": d.colour,
                         "direction": d.direction, "background": d.background})
            log(f"{prompt!r} seed {seed:2d}: clean {chk.clean}/{chk.frames} first bad {chk.first_bad} missing "
                f"{chk.missing} extra {chk.extra} colour {chk.wrong_colour} shape {chk.wrong_shape} {chk.shapes} | "
                f"clip {d.colour} {d.direction} {d.background}")
            strips.append(np.concatenate(list(video[::max(1, frames // 9)][:9]), axis=1))
        Image.fromarray(np.concatenate(strips, axis=0)).save(out / f"readme_{n}_seeds_0-19.png")
        result[prompt] = {"rows": rows, "all_clean": sum(r["clean"] == r["frames"] for r in rows)}
        log(f"{prompt!r}: every frame clean on {result[prompt]['all_clean']}/20 seeds")
    return result


def part_backgrounds(models: PackModels, out: Path, frames: int, log) -> dict:
    rows = []
    k = 0
    for colour in W.COLOURS:
        for shape in W.SHAPES:
            for bg in list(W.BACKGROUNDS) + [None]:
                direction = W.DIRECTIONS[k % 4]
                speed = list(W.SPEEDS)[k % 2]
                prompt = f"a {colour} {shape} moving {direction} {speed}" + (
                    f" on a {bg} background" if bg else "")
                want = parse_prompt(prompt)
                fr, _ = models.generate(prompt, 70_000 + k, frames=frames)
                video = W.from_model(fr[0].numpy())
                d = detect(video, speed_split=W.speed_split(frames))
                chk = check_frames(video, want)
                rows.append({"prompt": prompt, "background": bg or "(none)", "colour": colour, "shape": shape,
                             "clean": chk.all_clean, "first_bad": chk.first_bad, "extra": chk.extra,
                             "wrong_colour": chk.wrong_colour, "wrong_shape": chk.wrong_shape,
                             "missing": chk.missing, "det": [d.colour, d.direction, d.speed, d.background]})
                if not chk.all_clean and k % 3 == 0:
                    _strip(video, out / f"bg_{k:03d}.png", every=max(1, frames // 9))
                k += 1
    summary = {}
    for bg in list(W.BACKGROUNDS) + ["(none)"]:
        sel = [r for r in rows if r["background"] == bg]
        summary[bg] = {"n": len(sel), "all_clean": sum(r["clean"] for r in sel),
                       "with_extra_blob": sum(r["extra"] > 0 for r in sel),
                       "with_wrong_colour_frames": sum(r["wrong_colour"] > 0 for r in sel),
                       "with_wrong_shape_frames": sum(r["wrong_shape"] > 0 for r in sel),
                       "with_missing_frames": sum(r["missing"] > 0 for r in sel),
                       "clean_by_colour": {c: sum(r["clean"] for r in sel if r["colour"] == c) for c in W.COLOURS},
                       "clean_by_shape": {s: sum(r["clean"] for r in sel if r["shape"] == s) for s in W.SHAPES},
                       "detected_background": {b: sum(r["det"][3] == b for r in sel) for b in W.BACKGROUNDS}}
        log(f"backgrounds {bg}: {summary[bg]}")
    return {"rows": rows, "summary": summary}


FILL_SHAPES = ("square", "circle")


def part_fills(models: PackModels, run: Path, log, clips: int = 6) -> dict:
    """Per shape × background: the object's per-frame fill in the truth, the round trip (``run``'s encoders, the
    pack's scale, shift and decoder) and the generation, over ``clips`` clips."""
    from ..vae import decode_with_blocks
    from .detect import SQUARE_FILL, frame_objects
    from .vae_stages import _encoders, encode_video

    enc, tenc = _encoders(str(run / "spatial.pt"), str(run / "temporal.pt"))
    sc = torch.tensor(models.vae_cfg.scale, dtype=torch.float32).reshape(-1, 1, 1, 1)
    sh = torch.tensor(models.vae_cfg.shift, dtype=torch.float32).reshape(-1, 1, 1, 1)

    def fills(video):  # (fill of the frame's largest object, or NaN without one; objects in the frame)
        out = []
        for f in video:
            objs = frame_objects(f)
            out.append((max(objs, key=lambda o: o.area).fill if objs else float("nan"), len(objs)))
        return out

    rng = np.random.default_rng(5)
    result = {}
    for shape in FILL_SHAPES:
        for bg in W.BACKGROUNDS:
            got = {"truth": [], "round_trip": [], "generated": []}
            seen = [t for t in W.TRAIN_TRIPLES if t[1] == shape]  # training triples: the shape, not composition
            for k in range(clips):
                clip = W.sample_clip(rng, [seen[int(rng.integers(len(seen)))]], background=bg)
                truth = W.render(clip)
                with torch.no_grad():
                    z = (encode_video(enc, tenc, truth) - sh) / sc
                    rt = W.from_model(decode_with_blocks(models.vae_parts, z[None].float(), clip.frames,
                                                         models.vae_cfg)[0].numpy())
                fr, _ = models.generate(clip.caption(0), 90_000 + k)
                for name, video in (("truth", truth), ("round_trip", rt), ("generated", W.from_model(fr[0].numpy()))):
                    got[name] += fills(video)
            row = {}
            for name, v in got.items():
                a = np.asarray([f for f, _ in v], dtype=np.float64)
                row[name] = {"p5": round(float(np.nanpercentile(a, 5)), 3),
                             "p50": round(float(np.nanpercentile(a, 50)), 3),
                             "square_share": round(float(np.mean(a >= SQUARE_FILL)), 3),
                             "one_object_share": round(float(np.mean([n == 1 for _, n in v])), 3)}
                log(f"fills {shape} on {bg}, {name}: p5 {row[name]['p5']:.3f} median {row[name]['p50']:.3f}, frames "
                    f"with fill >= {SQUARE_FILL} (a square): {row[name]['square_share']:.0%}, with one object: "
                    f"{row[name]['one_object_share']:.0%}")
            result[f"{shape}/{bg}"] = row
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.diagnose", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(DEFAULT_PACK))
    ap.add_argument("--out", default="/tmp/sora4j-diagnose")
    ap.add_argument("--parts", default="captions,readme,backgrounds")
    ap.add_argument("--run", default=None, help="a training directory with the encoders (the fills part)")
    ap.add_argument("--clips", type=int, default=6, help="clips per shape x background (the fills part)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if "fills" in args.parts and not args.run:
        ap.error("--parts fills needs --run DIR, a training directory with spatial.pt and temporal.pt (the encoders)")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = PackModels(args.pack)
    frames = models.frames  # the pack's native request
    result = {"pack": str(args.pack), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path = out / "diagnose.json"
    if path.exists():
        result.update(json.loads(path.read_text()))

    def log(s):
        print(s, flush=True)

    for part in [p.strip() for p in args.parts.split(",") if p.strip()]:
        t0 = time.time()
        if part == "captions":
            result["captions"] = part_captions(log)
        elif part == "readme":
            result["readme"] = part_readme(models, out, frames, log)
        elif part == "backgrounds":
            result["backgrounds"] = part_backgrounds(models, out, frames, log)
        elif part == "fills":
            result["fills"] = part_fills(models, Path(args.run), log, args.clips)
        else:
            print(f"unknown part {part!r}", file=sys.stderr)
            return 2
        log(f"{part}: {time.time() - t0:.0f} s")
        path.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    from .entry import run

    run("sora4j_export.demo.diagnose", main)

"""Diagnoses a demo pack before retraining (issue 16): where do its failures come from?

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.diagnose [--pack DIR] [--out DIR] [--parts ...]

Parts (``--parts``, default all):

* ``vae``: can the pack's VAE *decoder* draw each (colour, background, shape)? The encoders are training-only and not
  in the pack, so the round trip is a decoder inversion: for one world clip per (colour, background, shape) (17
  frames, seeded positions), a latent z [1, 4, 5, 8, 8] is fitted by Adam (``--vae-iters`` steps, lr 0.05, from
  z = 0) to minimise the pixel MSE of the pack's decoded video against the render. The best PSNR the decoder reaches
  is an upper bound of what the diffusion model can show. Reported: PSNR over the whole video and over the object
  (the ground-truth coverage dilated by 2 px), and the detector's every-frame check of the reconstruction.
* ``captions``: how the training captions of :mod:`.world` name the attributes (v1: four templates, one word order).
* ``readme``: the README prompt ``a red circle moving left`` on seeds 0–19, every frame.
* ``backgrounds``: full prompts for every colour × shape × background (one seed each), the every-frame check and the
  detector's per-clip attributes, split by background, plus the same prompts without the background words.

Writes ``diagnose.json`` and PNG strips into ``--out`` (default /tmp/sora4j-diagnose); prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import world as W
from .detect import check_frames, detect, dilate, parse_prompt
from .quality import DEFAULT_PACK, PackModels, psnr


def _strip(video: np.ndarray, path: Path, every: int = 1) -> None:
    from PIL import Image

    frames = video[::every]
    Image.fromarray(np.concatenate(list(frames), axis=1)).save(path)


def _decode(models: PackModels, z: torch.Tensor) -> torch.Tensor:
    """The pack's VAE blocks on one 5-frame latent chunk, differentiably: z [1, 4, 5, 8, 8] → [1, 3, 17, 64, 64]."""
    cfg = models.vae_cfg
    scale = torch.tensor(cfg.scale, dtype=torch.float32).reshape(1, -1, 1, 1, 1)
    shift = torch.tensor(cfg.shift, dtype=torch.float32).reshape(1, -1, 1, 1, 1)
    h = z * scale + shift
    temporal, spatial = models.vae_parts
    for b in temporal:
        h = b(h, torch.tensor(17))
    x = (h / cfg.scaling_factor)[0].permute(1, 0, 2, 3)
    outs = []
    for i in range(0, x.shape[0], 4):
        y = x[i:i + 4]
        for b in spatial:
            y = b(y)
        outs.append(y)
    return torch.cat(outs, 0).permute(1, 0, 2, 3)[None]


def part_vae(models: PackModels, out: Path, iters: int, log) -> dict:
    decode_with_blocks = lambda parts, z, frames, cfg: _decode(models, z)  # noqa: E731

    rng = np.random.default_rng(7)
    rows = []
    for colour in W.COLOURS:
        for bg in W.BACKGROUNDS:
            for shape in W.SHAPES:
                triple = (colour, shape, "left")
                clip = W.sample_clip(rng, [triple], speed="slowly", background=bg, frames=17)
                clip = W.Clip(**{**clip.__dict__, "travel_px": 14.0})
                target = torch.from_numpy(W.to_model(W.render(clip)))[None]
                z = torch.zeros(1, 4, 5, 8, 8, requires_grad=True)
                opt = torch.optim.Adam([z], lr=0.05)
                for _ in range(iters):
                    rec = decode_with_blocks(models.vae_parts, z, 17, models.vae_cfg)
                    loss = ((rec - target) ** 2).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    rec = decode_with_blocks(models.vae_parts, z, 17, models.vae_cfg)
                video, truth = W.from_model(rec[0].numpy()), W.render(clip)
                mask = W.object_masks(clip) > 0
                mask = dilate(mask, 2)
                err = (video.astype(np.float64) - truth.astype(np.float64)) ** 2
                obj = 10 * np.log10(255.0 ** 2 / max(err[mask].mean(), 1e-9))
                chk = check_frames(video, {"colour": colour, "shape": shape})
                row = {"colour": colour, "background": bg, "shape": shape, "psnr": round(psnr(video, truth), 2),
                       "psnr_object": round(float(obj), 2), "clean_frames": chk.clean, "frames": chk.frames,
                       "shapes": chk.shapes}
                rows.append(row)
                log(f"vae {colour:6s} {bg:5s} {shape:8s} PSNR {row['psnr']:5.2f} object {row['psnr_object']:5.2f} "
                    f"clean {chk.clean}/{chk.frames} shapes {chk.shapes}")
                _strip(np.concatenate([truth, video], axis=1), out / f"vae_{colour}_{bg}_{shape}.png", every=4)
    return {"iters": iters, "rows": rows}


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


def part_readme(models: PackModels, out: Path, frames: int, log) -> dict:
    prompt = "a red circle moving left"
    want = parse_prompt(prompt)
    rows = []
    strips = []
    for seed in range(20):
        fr, _ = models.generate(prompt, seed, frames=frames)
        video = W.from_model(fr[0].numpy())
        d = detect(video, speed_split=W.speed_split(frames))
        chk = check_frames(video, want)
        rows.append({"seed": seed, "clean": chk.clean, "frames": chk.frames, "first_bad": chk.first_bad,
                     "missing": chk.missing, "extra": chk.extra, "wrong_colour": chk.wrong_colour,
                     "wrong_shape": chk.wrong_shape, "shapes": chk.shapes, "colour": d.colour,
                     "direction": d.direction, "background": d.background})
        log(f"readme seed {seed:2d}: clean {chk.clean}/{chk.frames} first bad {chk.first_bad} missing {chk.missing} "
            f"extra {chk.extra} colour {chk.wrong_colour} shape {chk.wrong_shape} {chk.shapes} | clip {d.colour} "
            f"{d.direction} {d.background}")
        strips.append(np.concatenate(list(video[::max(1, frames // 9)][:9]), axis=1))
    from PIL import Image
    Image.fromarray(np.concatenate(strips, axis=0)).save(out / "readme_seeds_0-19.png")
    return {"prompt": prompt, "rows": rows, "all_clean": sum(r["clean"] == r["frames"] for r in rows)}


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.diagnose", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(DEFAULT_PACK))
    ap.add_argument("--out", default="/tmp/sora4j-diagnose")
    ap.add_argument("--parts", default="captions,readme,backgrounds,vae")
    ap.add_argument("--vae-iters", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models = PackModels(args.pack)
    frames = int(models.manifest.get("request", {}).get("frames", 17)) if isinstance(
        models.manifest.get("request"), dict) else 17
    result = {"pack": str(args.pack), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path = out / "diagnose.json"
    if path.exists():
        result.update(json.loads(path.read_text()))

    def log(s):
        print(s, flush=True)

    for part in [p.strip() for p in args.parts.split(",") if p.strip()]:
        t0 = time.time()
        if part == "vae":
            result["vae"] = part_vae(models, out, args.vae_iters, log)
        elif part == "captions":
            result["captions"] = part_captions(log)
        elif part == "readme":
            result["readme"] = part_readme(models, out, frames, log)
        elif part == "backgrounds":
            result["backgrounds"] = part_backgrounds(models, out, frames, log)
        else:
            print(f"unknown part {part!r}", file=sys.stderr)
            return 2
        log(f"{part}: {time.time() - t0:.0f} s")
        path.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        os.execve(sys.executable, [sys.executable, "-m", "sora4j_export.demo.diagnose"] + sys.argv[1:], env)
    sys.exit(main())

"""Quality of the named presets (issue 18; Java ``io.github.sora4j.Preset``, CLI ``--preset``) on the demo pack.

::

    PYTHONPATH=src/main/python nice -n 10 /usr/bin/python3 -m sora4j_export.demo.presets [--limit 24] \\
        [--json benchmarks/target/presets/quality.json] [--workers 2]

Every preset runs on the held-out prompts of :mod:`.quality` (same prompts and seeds), back to back with the full
30-step run (the ``full`` preset) of the same prompt and seed, through the eager reference sampler over the pack's
TorchScript blocks (what Java reproduces; ``StepCachePipelineTest`` checks that Java's cache decisions are these).
Per preset: PSNR against the full run (mean over videos of the whole-video PSNR, and the minimum over every frame of
every video), SSIM, the detector's attribute accuracy (mean of the five attributes over prompts, and all five right),
and STDiT block-stack runs per video. Writes a JSON file that ``benchmarks/ablation.sh --presets`` reads to put
quality next to the speed it measures on the bench pack (docs/benchmarks.md, docs/quality.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .. import reference as ref
from .. import stepcache as sc
from . import world as W
from .quality import ATTRIBUTES, DEFAULT_PACK, PackModels, held_out_prompts, in_processes, judge, ssim


@dataclass(frozen=True)
class Preset:
    """Mirror of Java's ``Preset`` (same names and parameters)."""

    name: str
    lpl_leap: int = -1
    tdtm_steps: int = 0
    cache: Optional[str] = None  # "mask" or "adaptive"


MASK = dict(threshold=0.1, max_skips=3, warmup=3)      # Preset.MASK_*
ADAPTIVE = dict(threshold=0.4, max_skips=4, warmup=2)  # Preset.ADAPTIVE_*
PRESETS = (
    Preset("full"),
    Preset("lpl", 15),
    Preset("tdtm", -1, 30),
    Preset("paper", 15, 15),
    Preset("cache", cache="mask"),
    Preset("cache-adaptive", cache="adaptive"),
    Preset("lpl-cache", 15, cache="mask"),
    Preset("lpl-cache-adaptive", 15, cache="adaptive"),
    Preset("all", 15, 15, "mask"),
)


def cache_config(p: Preset, ratios) -> Optional[sc.CacheConfig]:
    if p.cache == "mask":
        return sc.CacheConfig("mask", MASK["threshold"], MASK["max_skips"], MASK["warmup"], sc.VELOCITY, ratios)
    if p.cache == "adaptive":
        return sc.CacheConfig("adaptive", ADAPTIVE["threshold"], ADAPTIVE["max_skips"], ADAPTIVE["warmup"],
                              sc.VELOCITY)
    return None


def frame_psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR per frame of two uint8 videos [F, H, W, 3] (inf where a frame is identical)."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d.reshape(d.shape[0], -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(mse == 0, np.inf, 10 * np.log10(255.0 ** 2 / np.where(mse == 0, 1.0, mse)))


def video_psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


@torch.no_grad()
def generate(models: PackModels, prompt: str, seed: int, p: Preset, ratios):
    from ..tiny import initial_noise
    from ..vae import decode_with_blocks

    y, mask, _ = ref.encode_prompt(models.t5, models.tokenizer, prompt, models.max_length,
                                   models.sampling.get("aestheticScore", 6.5))
    z0 = initial_noise(seed, models.latent_shape(models.frames, models.height, models.width))
    res = models.sampler.sample(z0, y, mask, models.null, height=models.height, width=models.width,
                                num_frames=models.frames, steps=30, guidance=models.guidance, fps=models.sampling.get("fps", 24),
                                lpl=ref.LplConfig.fixed(p.lpl_leap) if p.lpl_leap >= 0 else None,
                                tdtm_steps=p.tdtm_steps, record=False, cache=cache_config(p, ratios))
    frames = decode_with_blocks(models.vae_parts, res.z, models.frames, models.vae_cfg)
    return W.from_model(frames[0].numpy()), res


def collect(models: PackModels, items, ratios, presets=PRESETS, log=print, offset: int = 0,
            total: Optional[int] = None) -> dict:
    """Every preset on every (prompt, seed) of ``items``, back to back with the first preset (the full run): the raw
    per-video values, in the order of ``items``."""
    rows = {p.name: {"psnr": [], "frame_min": [], "ssim": [], "attr": [], "all": [], "clean": [], "computed": [],
                     "calls": [], "seconds": []} for p in presets}
    for k, (prompt, seed) in enumerate(items):
        base = None
        for p in presets:
            t0 = time.perf_counter()
            video, res = generate(models, prompt, seed, p, ratios)
            r = rows[p.name]
            r["seconds"].append(time.perf_counter() - t0)
            o = judge(video, prompt)
            r["attr"].append(float(np.mean([o.right[a] for a in ATTRIBUTES if a in o.right])))
            r["all"].append(bool(o.all_named))
            r["clean"].append(bool(o.clean))
            r["computed"].append(res.computed_calls)
            r["calls"].append(res.calls)
            if base is None:
                base = video
            else:
                r["psnr"].append(video_psnr(video, base))
                r["frame_min"].append(float(np.min(frame_psnr(video, base))))
                r["ssim"].append(ssim(video, base))
        log(f"[{offset + k + 1}/{total or len(items)}] {prompt!r} seed {seed}")
    return rows


def summarize(rows: dict) -> dict:
    """Per preset: the means (PSNR over the videos that differ from the full run), minima and medians of
    :func:`collect`'s values."""
    out = {}
    for name, r in rows.items():
        finite = [x for x in r["psnr"] if np.isfinite(x)]
        out[name] = {
            "psnrMean": float(np.mean(finite)) if finite else None,
            "psnrFrameMin": float(np.min(r["frame_min"])) if r["frame_min"] else None,
            "identicalVideos": len(r["psnr"]) - len(finite),
            "ssimMean": float(np.mean(r["ssim"])) if r["ssim"] else None,
            "attributeAccuracy": float(np.mean(r["attr"])),
            "allFiveRight": float(np.mean(r["all"])),
            "everyFrameClean": float(np.mean(r["clean"])),
            "computedSteps": float(np.mean(r["computed"])),
            "modelCalls": float(np.mean(r["calls"])),
            "secondsPerVideo": float(np.median(r["seconds"])),
        }
    return out


def evaluate(models: PackModels, items, ratios, presets=PRESETS, log=print) -> dict:
    return summarize(collect(models, items, ratios, presets, log))


def _collect_chunk(job) -> dict:
    pack, items, presets, threads, offset, total = job
    torch.set_num_threads(threads)
    return collect(PackModels(pack), items, sc.read_calibration(pack), presets,
                   log=lambda s: print(s, flush=True), offset=offset, total=total)


def evaluate_parallel(pack, items, presets=PRESETS, workers: int = 1, threads: int = 1, log=print) -> dict:
    """:func:`evaluate` in ``workers`` processes, each on a contiguous share of ``items`` with ``threads`` threads.
    Every generation is seeded by its own prompt and seed, so the values are those of one process (times aside)."""
    if workers <= 1 or len(items) < 2:
        return evaluate(PackModels(pack), items, sc.read_calibration(pack), presets, log)
    parts = in_processes(_collect_chunk, items, workers,
                         lambda share, offset: (str(pack), share, presets, threads, offset, len(items)))
    rows = {p.name: {k: [x for part in parts for x in part[p.name][k]] for k in parts[0][p.name]} for p in presets}
    return summarize(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.presets", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(DEFAULT_PACK))
    ap.add_argument("--limit", type=int, default=None, help="N of the 96 held-out prompts, evenly spread")
    ap.add_argument("--json", default="benchmarks/target/presets/quality.json")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1,
                    help="share the prompts among N processes (the same values; on N free cores about N times faster)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    models = PackModels(a.pack)
    items = held_out_prompts(models.frames, 2)
    if a.limit:  # evenly spread over the triples, speeds and backgrounds
        items = items[::max(1, len(items) // a.limit)][:a.limit]
    rows = evaluate_parallel(a.pack, items, workers=a.workers, threads=a.threads)
    doc = {
        "pack": models.manifest["name"], "packDirectory": str(a.pack), "prompts": len(items),
        "seeds": [items[0][1], items[-1][1]], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, torch {torch.__version__}, {a.threads} thread(s)"
                   + (f" × {a.workers} processes" if a.workers > 1 else ""),
        "seconds": round(time.time() - t0, 1),
        "command": "PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.presets"
                   + (f" --limit {a.limit}" if a.limit else "") + (f" --workers {a.workers}" if a.workers > 1 else ""),
        "presets": rows,
    }
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    for name, r in rows.items():
        print(f"{name:20s} computed {r['computedSteps']:5.2f}  PSNR {r['psnrMean'] or float('inf'):6.2f} "
              f"(frame min {r['psnrFrameMin'] or float('inf'):6.2f})  attr {100 * r['attributeAccuracy']:5.1f} %  "
              f"all five {100 * r['allFiveRight']:5.1f} %")
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

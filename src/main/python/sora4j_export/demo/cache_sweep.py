"""Parameter sweep of the step-cache rules on the demo pack (issue 18): PSNR (mean, and the minimum per frame) against
the full 30-step run of the same prompt and seed, computed steps, detector attributes.

::

    PYTHONPATH=src/main/python nice -n 10 /usr/bin/python3 -m sora4j_export.demo.cache_sweep --prompts 8

Prints one line per setting; used to choose the presets' parameters (docs/techniques.md quotes its output).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from .. import reference as ref
from .. import stepcache as sc
from . import world as W
from .presets import frame_psnr, video_psnr
from .quality import DEFAULT_PACK, PackModels, held_out_prompts, judge


@torch.no_grad()
def generate(models, prompt, seed, lpl=None, tdtm=0, cache=None):
    from ..tiny import initial_noise
    from ..vae import decode_with_blocks

    y, mask, _ = ref.encode_prompt(models.t5, models.tokenizer, prompt, models.max_length,
                                   models.sampling.get("aestheticScore", 6.5))
    z0 = initial_noise(seed, models.latent_shape(models.frames, models.height, models.width))
    res = models.sampler.sample(z0, y, mask, models.null, height=models.height, width=models.width,
                                num_frames=models.frames, steps=30, guidance=models.guidance, fps=models.sampling.get("fps", 24),
                                lpl=lpl, tdtm_steps=tdtm, record=False, cache=cache)
    video = W.from_model(decode_with_blocks(models.vae_parts, res.z, models.frames, models.vae_cfg)[0].numpy())
    return video, res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default=str(DEFAULT_PACK))
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--only", default=None, help="comma-separated substrings of setting names")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    models = PackModels(a.pack)
    ratios = sc.read_calibration(a.pack)
    items = held_out_prompts(models.frames, 2)
    items = items[::max(1, len(items) // a.prompts)][:a.prompts]
    lpl = ref.LplConfig.fixed(15)
    settings = [("lpl", lpl, 0, None)]
    for reuse in (sc.RESIDUAL, sc.VELOCITY):
        for thr in (0.02, 0.05, 0.1, 0.2, 0.4):
            for ms in (2, 3):
                settings.append((f"lpl+mask {reuse} thr {thr} max {ms}", lpl, 0,
                                 sc.CacheConfig("mask", thr, ms, 3, reuse, ratios)))
        for thr in (0.05, 0.1, 0.2, 0.4):
            settings.append((f"lpl+adaptive {reuse} thr {thr} max 3", lpl, 0,
                             sc.CacheConfig("adaptive", thr, 3, 3, reuse)))
        for thr in (0.05, 0.1, 0.2):
            settings.append((f"mask {reuse} thr {thr} max 3", None, 0, sc.CacheConfig("mask", thr, 3, 3, reuse, ratios)))
    v = sc.VELOCITY
    for thr in (0.2, 0.4):
        settings.append((f"adaptive velocity thr {thr} max 3", None, 0, sc.CacheConfig("adaptive", thr, 3, 3, v)))
    settings += [
        ("lpl+mask velocity thr 0.1 max 3 warmup 2", lpl, 0, sc.CacheConfig("mask", 0.1, 3, 2, v, ratios)),
        ("lpl+mask velocity thr 0.3 max 4 warmup 2", lpl, 0, sc.CacheConfig("mask", 0.3, 4, 2, v, ratios)),
        ("lpl+adaptive velocity thr 0.4 max 4 warmup 2", lpl, 0, sc.CacheConfig("adaptive", 0.4, 4, 2, v)),
        ("lpl+tdtm15 (paper)", lpl, 15, None),
        ("lpl+tdtm15+mask velocity thr 0.1 max 3", lpl, 15, sc.CacheConfig("mask", 0.1, 3, 3, v, ratios)),
        ("tdtm30", None, 30, None),
    ]
    if a.only:
        keys = a.only.split(",")
        settings = [s for s in settings if any(k in s[0] for k in keys)]
    stats = {s[0]: {"psnr": [], "fmin": [], "calls": [], "right": [], "all": []} for s in settings}
    base_right = []
    t0 = time.time()
    for prompt, seed in items:
        base, _ = generate(models, prompt, seed)
        ob = judge(base, prompt)
        base_right.append(np.mean(list(ob.right.values())))
        for name, l, td, cache in settings:
            v, res = generate(models, prompt, seed, l, td, cache)
            o = judge(v, prompt)
            st = stats[name]
            st["psnr"].append(video_psnr(v, base))
            st["fmin"].append(float(np.min(frame_psnr(v, base))))
            st["calls"].append(res.computed_calls)
            st["right"].append(np.mean(list(o.right.values())))
            st["all"].append(o.all_named)
        print(f"done {prompt!r} {seed} ({time.time() - t0:.0f} s)", flush=True)
    print(f"baseline attribute accuracy {100 * np.mean(base_right):.1f} %")
    for name, st in stats.items():
        ps = [p for p in st["psnr"] if np.isfinite(p)]
        print(f"{name:45s} computed {np.mean(st['calls']):5.2f}  PSNR mean {np.mean(ps) if ps else float('inf'):6.2f} "
              f"min-frame {min(st['fmin']):6.2f}  attr {100 * np.mean(st['right']):5.1f} %  all {100 * np.mean(st['all']):5.1f} %",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

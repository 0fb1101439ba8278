"""sora4j's own TDTM and dynamic-LPL rules against the paper's code's (On-device Sora 47a90a5) on the demo pack.

::

    PYTHONPATH=src/main/python nice -n 10 /usr/bin/python3 -m sora4j_export.demo.variants --limit 24

Same machinery as :mod:`.quality` (the pack's TorchScript blocks through the eager reference sampler, which the Java
pipeline reproduces; its upstream presets are checked against upstream's own outputs in
``src/test/resources/upstream``), same held-out prompts and seeds. Two comparisons, each against the full run of
the same prompt and seed:

* **TDTM at 51 frames** (latent T = 15 ≡ 3 mod 4, where the rules differ; the demo pack is trained on 17 frames, so
  51 frames is outside its training range, which is why the baseline's own detector scores drop): no merging vs
  the project's rule (odd last frame its own group, ``TokenMergers.tdtm``) vs upstream's (last frame dropped and
  given the last pair's output, ``TokenMergers.tdtmUpstream``), merging the first 15 and all 30 steps.
* **Dynamic LPL at 17 frames** with K = 30 and K = 16: full run vs the project's rule
  (``StepSchedulers.lplDynamic()``: tolerance 1e-4, whole-velocity cosine, measured from ⌈K/2⌉−1, best from −∞) vs
  upstream's (``lplDynamicUpstream()``: 1e-3, v[0,0,0] row-wise, from step 14, best from 0).

Metrics: PSNR (dB, uint8 frames) and SSIM against that full run; the demo detector's colour and direction against
the prompt; STDiT calls. Prints a Markdown table (paste it into docs/techniques.md with the date and the command).
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .. import reference as ref
from . import world as W
from .detect import detect, parse_prompt
from .quality import DEFAULT_PACK, PackModels, Tally, eval_prompts, psnr, ssim


@dataclass(frozen=True)
class Variant:
    name: str
    frames: int
    steps: int
    lpl: Optional[ref.LplConfig] = None
    tdtm_steps: int = 0
    tdtm_rule: str = ref.TDTM_SORA4J


GROUPS = {
    "tdtm": [
        Variant("51 frames, no merging (reference)", 51, 30),
        Variant("TDTM 15/30, sora4j rule", 51, 30, tdtm_steps=15),
        Variant("TDTM 15/30, upstream rule", 51, 30, tdtm_steps=15, tdtm_rule=ref.TDTM_UPSTREAM),
        Variant("TDTM 30/30, sora4j rule", 51, 30, tdtm_steps=30),
        Variant("TDTM 30/30, upstream rule", 51, 30, tdtm_steps=30, tdtm_rule=ref.TDTM_UPSTREAM),
    ],
    "lpl30": [
        Variant("K = 30, full run (reference)", 17, 30),
        Variant("K = 30, dynamic LPL, sora4j rule", 17, 30, lpl=ref.LplConfig.dynamic()),
        Variant("K = 30, dynamic LPL, upstream rule", 17, 30, lpl=ref.LplConfig.dynamic_upstream()),
    ],
    "lpl16": [
        Variant("K = 16, full run (reference)", 17, 16),
        Variant("K = 16, dynamic LPL, sora4j rule", 17, 16, lpl=ref.LplConfig.dynamic()),
        Variant("K = 16, dynamic LPL, upstream rule", 17, 16, lpl=ref.LplConfig.dynamic_upstream()),
    ],
}


@torch.no_grad()
def generate(models: PackModels, prompt: str, seed: int, v: Variant):
    from ..tiny import initial_noise
    from ..vae import decode_with_blocks

    y, mask, _ = ref.encode_prompt(models.t5, models.tokenizer, prompt, models.max_length,
                                   models.sampling.get("aestheticScore", 6.5))
    z0 = initial_noise(seed, models.latent_shape(v.frames, W.HEIGHT, W.WIDTH))
    res = models.sampler.sample(z0, y, mask, models.null, height=W.HEIGHT, width=W.WIDTH, num_frames=v.frames,
                                steps=v.steps, guidance=7.0, fps=models.sampling.get("fps", 24), lpl=v.lpl,
                                tdtm_steps=v.tdtm_steps, record=False, tdtm_rule=v.tdtm_rule)
    return W.from_model(decode_with_blocks(models.vae_parts, res.z, v.frames, models.vae_cfg)[0].numpy()), res


def run(models, items, groups, log=print):
    tallies = {v.name: Tally() for g in groups for v in GROUPS[g]}
    for k, (clip, prompt, seed) in enumerate(items):
        want = parse_prompt(prompt)
        for g in groups:
            base = None
            for v in GROUPS[g]:
                t0 = time.perf_counter()
                video, res = generate(models, prompt, seed, v)
                tl = tallies[v.name]
                tl.add(detect(video), want, res.calls, time.perf_counter() - t0)
                if base is None:
                    base = video
                else:
                    tl.psnr.append(psnr(video, base))
                    tl.ssim.append(ssim(video, base))
        log(f"[{k + 1}/{len(items)}] {prompt!r} seed {seed}")
    return tallies


def table(tallies, groups) -> str:
    rows = ["| setting | STDiT calls (mean) | PSNR vs reference, dB (mean / min) | SSIM (mean) | colour | direction |"
            " both |", "|---|---|---|---|---|---|---|"]
    for g in groups:
        for v in GROUPS[g]:
            t = tallies[v.name]
            finite = [p for p in t.psnr if np.isfinite(p)]
            ps = "—" if not t.psnr else (
                f"{np.mean(finite):.2f} / {min(finite):.2f}" if finite else "identical")
            if finite and len(finite) < len(t.psnr):
                ps += f" ({len(t.psnr) - len(finite)} identical)"
            ss = "—" if not t.ssim else f"{np.mean(t.ssim):.4f}"
            rows.append(f"| {v.name} | {np.mean(t.calls):.1f} | {ps} | {ss} | {100 * t.colour / t.n:.1f} % | "
                        f"{100 * t.direction / t.n:.1f} % | {100 * t.both / t.n:.1f} % |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.variants", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(DEFAULT_PACK))
    ap.add_argument("--per-combo", type=int, default=1, help="prompts per held-out triple × speed × background")
    ap.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    ap.add_argument("--groups", default="tdtm,lpl30,lpl16")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    groups = [g for g in a.groups.split(",") if g]
    models = PackModels(a.pack)
    items = eval_prompts(a.per_combo, a.limit)
    t0 = time.perf_counter()
    tallies = run(models, items, groups)
    print()
    print(f"{len(items)} held-out prompts (seeds {items[0][2]}..{items[-1][2]}), {time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, torch {torch.__version__}, {time.perf_counter() - t0:.0f} s")
    print()
    print(table(tallies, groups))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

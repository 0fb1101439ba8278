"""sora4j's own TDTM and dynamic-LPL rules against the paper's code's (On-device Sora 47a90a5) on the demo pack.

::

    PYTHONPATH=src/main/python nice -n 10 /usr/bin/python3 -m sora4j_export.demo.variants --limit 24

Same machinery as :mod:`.quality` (the pack's TorchScript blocks through the eager reference sampler, which the Java
pipeline reproduces; its upstream presets are checked against upstream's own outputs in
``src/test/resources/upstream``), same held-out prompts and seeds. Two comparisons, each against the full run of
the same prompt and seed:

* **TDTM at 51 frames** (latent T = 15 ≡ 3 mod 4, where the rules differ; the v2 demo pack's native request, so the
  model was trained on this length; v1 was trained on 17 frames only): no merging vs
  the project's rule (odd last frame its own group, ``TokenMergers.tdtm``) vs upstream's (last frame dropped and
  given the last pair's output, ``TokenMergers.tdtmUpstream``), merging the first 15 and all 30 steps.
* **Dynamic LPL at the pack's native request** (v2: 51 frames) with K = 30 and K = 16: full run vs the project's rule
  (``StepSchedulers.lplDynamic()``: tolerance 1e-4, whole-velocity cosine, measured from ⌈K/2⌉−1, best from −∞) vs
  upstream's (``lplDynamicUpstream()``: 1e-3, v[0,0,0] row-wise, from step 14, best from 0).

Metrics: PSNR (dB, uint8 frames) and SSIM against that full run; the demo detector's verdicts (as in
:mod:`.quality`: colour, direction, speed, all five attributes, every frame clean) against the prompt; STDiT calls. Prints a Markdown table (paste it into docs/techniques.md with the date and the command).
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
from .quality import DEFAULT_PACK, PackModels, Tally, held_out_prompts, judge, psnr, ssim


@dataclass(frozen=True)
class Variant:
    name: str
    frames: Optional[int]  # None: the pack's native request
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
        Variant("K = 30, full run (reference)", None, 30),
        Variant("K = 30, dynamic LPL, sora4j rule", None, 30, lpl=ref.LplConfig.dynamic()),
        Variant("K = 30, dynamic LPL, upstream rule", None, 30, lpl=ref.LplConfig.dynamic_upstream()),
    ],
    "lpl16": [
        Variant("K = 16, full run (reference)", None, 16),
        Variant("K = 16, dynamic LPL, sora4j rule", None, 16, lpl=ref.LplConfig.dynamic()),
        Variant("K = 16, dynamic LPL, upstream rule", None, 16, lpl=ref.LplConfig.dynamic_upstream()),
    ],
}


@torch.no_grad()
def generate(models: PackModels, prompt: str, seed: int, v: Variant):
    from ..tiny import initial_noise
    from ..vae import decode_with_blocks

    y, mask, _ = ref.encode_prompt(models.t5, models.tokenizer, prompt, models.max_length,
                                   models.sampling.get("aestheticScore", 6.5))
    frames = v.frames or models.frames
    z0 = initial_noise(seed, models.latent_shape(frames, W.HEIGHT, W.WIDTH))
    res = models.sampler.sample(z0, y, mask, models.null, height=W.HEIGHT, width=W.WIDTH, num_frames=frames,
                                steps=v.steps, guidance=7.0, fps=models.sampling.get("fps", 24), lpl=v.lpl,
                                tdtm_steps=v.tdtm_steps, record=False, tdtm_rule=v.tdtm_rule)
    return W.from_model(decode_with_blocks(models.vae_parts, res.z, frames, models.vae_cfg)[0].numpy()), res


def run(models, items, groups, log=print):
    """Every (prompt, seed) under every variant; PSNR/SSIM against the first variant of its group."""
    tallies = {v.name: Tally() for g in groups for v in GROUPS[g]}
    for k, (prompt, seed) in enumerate(items):
        for g in groups:
            base = None
            for v in GROUPS[g]:
                t0 = time.perf_counter()
                video, res = generate(models, prompt, seed, v)
                o = judge(video, prompt)
                o.calls, o.seconds = res.calls, time.perf_counter() - t0
                if base is None:
                    base = video
                else:
                    o.psnr, o.ssim = psnr(video, base), ssim(video, base)
                tallies[v.name].outcomes.append(o)
        log(f"[{k + 1}/{len(items)}] {prompt!r} seed {seed}")
    return tallies


def _pct(x: Optional[float]) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def table(tallies, groups) -> str:
    rows = ["| setting | STDiT calls (mean) | PSNR vs reference, dB (mean / min) | SSIM (mean) | colour | direction |"
            " speed | all five | every frame clean |", "|---|---|---|---|---|---|---|---|---|"]
    for g in groups:
        for v in GROUPS[g]:
            t = tallies[v.name]
            ps_all = [o.psnr for o in t.outcomes if o.psnr is not None]
            finite = [p for p in ps_all if np.isfinite(p)]
            ps = "—" if not ps_all else (
                f"{np.mean(finite):.2f} / {min(finite):.2f}" if finite else "identical")
            if finite and len(finite) < len(ps_all):
                ps += f" ({len(ps_all) - len(finite)} identical)"
            ss = t.mean("ssim")
            rows.append(f"| {v.name} | {t.mean('calls'):.1f} | {ps} | {'—' if ss is None else f'{ss:.4f}'} | "
                        f"{_pct(t.attribute('colour'))} | {_pct(t.attribute('direction'))} | "
                        f"{_pct(t.attribute('speed'))} | {_pct(t.all_named())} | {_pct(t.clean())} |")
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
    items = held_out_prompts(models.frames, a.per_combo, a.limit)
    t0 = time.perf_counter()
    tallies = run(models, items, groups)
    print()
    print(f"{len(items)} held-out prompts (seeds {items[0][1]}..{items[-1][1]}), {time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, torch {torch.__version__}, {time.perf_counter() - t0:.0f} s")
    print()
    print(table(tallies, groups))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Embeds a trained demo pack in the jar: copies it, calibrates its step cache, and prints the test goldens.

The pack is copied next to the embedded one, calibrated there (``stepcache calibrate``: 4 prompts × 30 steps), and
only then swapped in, so a failure leaves the embedded pack as it was. Then the Python reference sampler computes the
values that the Java tests compare the library with, since they change with the weights:

* ``MagCacheCalibrationTest``: the MagCache mask of 30 steps (threshold 0.1, 3 skips, 3 warm-up steps, the leap
  step 15 forced);
* ``StepCachePipelineTest``: that mask up to the leap (the ``lpl-cache`` preset), its steps before 15 (TDTM's merged
  ones under the ``all`` preset), and the ``lpl-cache-adaptive`` preset's computed steps for its two prompts at
  seed 42.

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.embed training/demo-v2-deep/pack

After it: update those tests' constants, then rerun the evaluations the docs quote (docs/demo-pack.md, "Embedding a
pack").
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path
from typing import Dict, List

import torch

from .. import reference as ref
from .. import stepcache as sc
from .quality import DEFAULT_PACK, PackModels

LEAP = 15
#: the lpl-cache-adaptive preset (sora4j's Preset.LPL_CACHE_ADAPTIVE) as the reference sampler's cache settings
ADAPTIVE = sc.CacheConfig("adaptive", 0.4, 4, 2, "velocity")
ADAPTIVE_PROMPTS = ("a red circle moving left", "a blue square moving up slowly on a light background")
ADAPTIVE_SEED = 42


def goldens(pack: Path) -> Dict[str, object]:
    """The Java tests' reference values for ``pack`` (calibrated)."""
    from .cache_sweep import generate

    ratios = sc.read_calibration(pack)
    mask = sc.mask_from_ratios(ratios, 30, 0.1, 3, 3, lambda i: i == LEAP)
    computed = [i for i, c in enumerate(mask) if c]
    models = PackModels(pack)
    adaptive = {}
    for prompt in ADAPTIVE_PROMPTS:
        _, res = generate(models, prompt, ADAPTIVE_SEED, lpl=ref.LplConfig.fixed(LEAP), cache=ADAPTIVE)
        adaptive[prompt] = [i for i, c in enumerate(res.computed) if c]
    blocks = models.manifest["blocks"]
    return {"mask": computed, "lpl_mask": [i for i in computed if i <= LEAP],
            "merged": [i for i in computed if i < LEAP], "adaptive": adaptive,
            "depth": int(models.manifest["stdit"]["depth"]), "blocks": len(blocks),
            "bytes": sum(b["bytes"] for b in blocks) + sum(f["bytes"] for f in models.manifest["files"])}


def embed(src: Path, dst: Path, log=print) -> Dict[str, object]:
    """Copies ``src`` to ``dst`` (replacing it), calibrated; returns :func:`goldens`."""
    from ..pack import verify_pack

    src, dst = Path(src), Path(dst)
    staged, old = dst.with_name(dst.name + ".new"), dst.with_name(dst.name + ".old")
    if not dst.exists() and old.exists():  # an earlier embed stopped between its two renames
        os.replace(old, dst)
        log(f"restored {dst} from {old}")
    verify_pack(src)
    if (src / "manifest.json.sig").exists():
        raise SystemExit(f"{src} is signed: calibration changes its manifest; embed an unsigned pack")
    if src.resolve() == dst.resolve():
        raise SystemExit(f"{src} is the embedded pack already")
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(src, staged)
    try:
        t0 = time.time()
        models = PackModels(staged)
        prompts = sc.CALIBRATION_PROMPTS[:4]
        ratios = sc.residual_ratios(models, prompts, sc.CALIBRATION_SEED, 30)
        sc.write_calibration(staged, ratios, prompts, sc.CALIBRATION_SEED, models.guidance)
        verify_pack(staged)
        log(f"calibrated {staged} in {time.time() - t0:.0f} s")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if old.exists():
        shutil.rmtree(old)
    if dst.exists():
        os.replace(dst, old)
    os.replace(staged, dst)
    shutil.rmtree(old, ignore_errors=True)
    return goldens(dst)


def _java(values: List[int]) -> str:
    return ", ".join(str(v) for v in values)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.embed", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pack", type=Path, help="the trained pack (e.g. training/demo-v2-deep/pack)")
    ap.add_argument("--to", type=Path, default=DEFAULT_PACK, help="where (default: the embedded demo pack)")
    a = ap.parse_args(argv)
    if not (a.pack / "manifest.json").is_file():
        ap.error(f"{a.pack} is not a pack (no manifest.json)")
    torch.set_num_threads(1)
    g = embed(a.pack, a.to)
    print(f"embedded {a.pack} as {a.to}: {g['blocks']} blocks, STDiT depth {g['depth']}, {g['bytes']:,} bytes")
    print(f"MagCacheCalibrationTest mask:          containsExactly({_java(g['mask'])})")
    print(f"StepCachePipelineTest lpl-cache mask:  containsExactly({_java(g['lpl_mask'])})")
    print(f"StepCachePipelineTest merged (all):    containsExactly({_java(g['merged'])})")
    for prompt, steps in g["adaptive"].items():
        print(f"StepCachePipelineTest adaptive {prompt!r}: containsExactly({_java(steps)})")
    return 0


if __name__ == "__main__":
    from .entry import run

    run("sora4j_export.demo.embed", main)

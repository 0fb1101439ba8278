"""Step caching (issue 18): skip the STDiT block stack on some sampling steps and reuse what the last computed step
produced, the rules Java's ``io.github.sora4j.cache.StepCaches`` implements, plus the per-pack calibration.

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.stepcache calibrate --pack DIR [--prompts 4]

Calibration runs the pack's full 30-step sampler (CFG, no LPL, no TDTM) on a few prompts and records, per step i ≥ 1,
the magnitude ratio ``mean|r_i| / mean|r_{i-1}|`` of consecutive block-stack residuals ``r = x_out − x_in`` (the
output of the last block pair minus the embed block's output, over both CFG rows), averaged over the prompts. It
writes ``stepcache.json`` into the pack and lists it in the manifest's ``files`` with its size and SHA-256, so Java
reads it through the same confinement and hash checks as every other pack file (``ModelPack.readFile``). A signed pack
is refused (the manifest changes; calibrate an unsigned copy, then sign it).

Rules (decided before step i; the leap step of a fixed LPL and every step from a dynamic LPL's first measured step on
always compute, as does step 0):

* ``mask``: MagCache-style fixed mask from the calibration: the first ``warmup`` steps compute; afterwards
  ``gamma *= ratio_i``, ``err += |1 − gamma|``; the step is skipped while ``err < threshold`` and fewer than
  ``max_skips`` steps in a row were skipped, else it computes and ``gamma, err, skips`` reset.
* ``adaptive``: EasyCache-style: at a computed step j with an earlier computed step c, the transformation rate
  ``k = rel(v_j, v_c) / rel(z_j, z_c)`` (``rel(a, b) = mean|a − b| / mean|b|``, v the CFG velocity, z the latent fed
  to the model); before step i it estimates the output change ``k · rel(z_i, z_c)`` against the last computed step c
  and skips while that is below ``threshold`` and fewer than ``max_skips`` steps in a row were skipped (and from
  ``warmup`` on, with k known).

Reuse: ``residual`` runs the embed and final blocks and adds the cached residual to the embed output; ``velocity``
runs nothing and reuses the last computed CFG velocity.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import torch

FILE = "stepcache.json"
FORMAT = "sora4j-stepcache"
RESIDUAL = "residual"
VELOCITY = "velocity"
CALIBRATION_PROMPTS = ("a red circle moving left slowly on a dark background",
                       "a blue square moving up quickly on a light background",
                       "a green triangle moving right slowly on a light background",
                       "a yellow circle moving down quickly on a dark background",
                       "a purple square moving left quickly on a dark background",
                       "a cyan triangle moving up slowly on a light background")
CALIBRATION_SEED = 70_000


def rel_l1(a: torch.Tensor, b: torch.Tensor) -> float:
    """mean|a − b| / mean|b| in float64 (0 when both are 0)."""
    a64, b64 = a.to(torch.float64), b.to(torch.float64)
    den = float(b64.abs().mean())
    num = float((a64 - b64).abs().mean())
    return 0.0 if num == 0.0 else (num / den if den > 0 else math.inf)


@dataclass(frozen=True)
class CacheConfig:
    """One caching rule: ``kind`` ``mask`` or ``adaptive``; ``reuse`` ``residual`` or ``velocity``."""

    kind: str
    threshold: float
    max_skips: int
    warmup: int
    reuse: str = RESIDUAL
    ratios: Optional[Sequence[float]] = None  # mask: calibration ratios, index i = step i (ratios[0] unused)

    def session(self, steps: int, forced) -> "CacheSession":
        return CacheSession(self, steps, forced)


def mask_from_ratios(ratios: Sequence[float], steps: int, threshold: float, max_skips: int, warmup: int,
                     forced=lambda i: False) -> List[bool]:
    """The MagCache step mask: True = compute."""
    if len(ratios) < steps:
        raise ValueError(f"the calibration has {len(ratios)} steps but the request has {steps}")
    out, gamma, err, skips = [], 1.0, 0.0, 0
    for i in range(steps):
        if i < max(1, warmup) or forced(i):
            out.append(True)
            gamma, err, skips = 1.0, 0.0, 0
            continue
        gamma *= ratios[i]
        err += abs(1.0 - gamma)
        if err < threshold and skips < max_skips:
            out.append(False)
            skips += 1
        else:
            out.append(True)
            gamma, err, skips = 1.0, 0.0, 0
    return out


class CacheSession:
    def __init__(self, cfg: CacheConfig, steps: int, forced):
        self.cfg, self.forced = cfg, forced
        self.mask = (mask_from_ratios(cfg.ratios, steps, cfg.threshold, cfg.max_skips, cfg.warmup, forced)
                     if cfg.kind == "mask" else None)
        self.residual = self.velocity = self.z_c = None
        self.k = None
        self.skips = 0
        self.computed: List[bool] = []

    def compute(self, i: int, z: torch.Tensor) -> bool:
        if self.residual is None and self.velocity is None:
            c = True
        elif self.mask is not None:
            c = self.mask[i] or self.forced(i)
        else:
            c = (i < max(1, self.cfg.warmup) or self.forced(i) or self.k is None or self.skips >= self.cfg.max_skips
                 or self.k * rel_l1(z, self.z_c) >= self.cfg.threshold)
        self.skips = 0 if c else self.skips + 1
        self.computed.append(c)
        return c

    def stored(self, z: torch.Tensor, residual: torch.Tensor, v: torch.Tensor) -> None:
        if self.cfg.kind == "adaptive" and self.z_c is not None:
            dz = rel_l1(z, self.z_c)
            self.k = rel_l1(v, self.velocity) / dz if dz > 0 else None
        self.z_c, self.residual, self.velocity = z.clone(), residual.clone(), v.clone()


# ------------------------------------------------------------------------------------------------------ calibration
def residual_ratios(models, prompts: Sequence[str], seed: int, steps: int = 30) -> List[float]:
    """Mean over prompts of mean|r_i| / mean|r_{i−1}| (index 0: 1.0) on the full run."""
    from . import reference as ref
    from .tiny import initial_noise

    sums = [0.0] * steps
    for k, prompt in enumerate(prompts):
        y, mask, _ = ref.encode_prompt(models.t5, models.tokenizer, prompt, models.max_length,
                                       models.sampling.get("aestheticScore", 6.5))
        z0 = initial_noise(seed + k, models.latent_shape(models.frames, models.height, models.width))
        mags = []
        models.sampler.sample(z0, y, mask, models.null, height=models.height, width=models.width,
                              num_frames=models.frames, steps=steps, guidance=models.guidance,
                              fps=models.sampling.get("fps", 24),
                              record=False, residual_hook=lambda r: mags.append(float(r.abs().to(torch.float64).mean())))
        for i in range(1, steps):
            sums[i] += mags[i] / mags[i - 1]
    return [1.0] + [s / len(prompts) for s in sums[1:]]


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def write_calibration(pack_dir: Path, ratios: Sequence[float], prompts: Sequence[str], seed: int,
                      guidance: float = 7.0) -> Path:
    """Writes stepcache.json and lists it in manifest.json (both via temporary files renamed into place)."""
    pack_dir = Path(pack_dir)
    if (pack_dir / "manifest.json.sig").exists():
        raise ValueError(f"pack {pack_dir} is signed (manifest.json.sig): calibrating changes its manifest and would "
                         f"break the signature; calibrate an unsigned copy, then sign it")
    manifest_path = pack_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    data = {"format": FORMAT, "formatVersion": 1, "steps": len(ratios), "guidance": float(guidance),
            "prompts": list(prompts), "seed": seed,
            "residualMagnitudeRatios": [round(float(r), 6) for r in ratios]}
    body = (json.dumps(data, indent=2) + "\n").encode("utf-8")
    target = pack_dir / FILE
    files = [f for f in manifest.get("files", []) if f.get("file") != FILE]
    files.append({"file": FILE, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()})
    manifest["files"] = files
    mbody = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    for path, content in ((target, body), (manifest_path, mbody)):
        fd, tmp = tempfile.mkstemp(dir=pack_dir, prefix="." + path.name)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    return target


def read_calibration(pack_dir) -> List[float]:
    d = json.loads((Path(pack_dir) / FILE).read_text(encoding="utf-8"))
    if d.get("format") != FORMAT:
        raise ValueError(f"{pack_dir}/{FILE} is not a {FORMAT} file")
    return list(d["residualMagnitudeRatios"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.stepcache", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("calibrate", help="record the residual magnitude ratios of a pack into stepcache.json")
    c.add_argument("--pack", required=True, help="pack directory (unsigned; its manifest gains the file)")
    c.add_argument("--prompts", type=int, default=4, help=f"calibration prompts (1..{len(CALIBRATION_PROMPTS)})")
    c.add_argument("--steps", type=int, default=30)
    c.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    if not 1 <= a.prompts <= len(CALIBRATION_PROMPTS):
        ap.error(f"--prompts must be 1..{len(CALIBRATION_PROMPTS)} but was {a.prompts}")
    if (Path(a.pack) / "manifest.json.sig").exists():
        ap.error(f"pack {a.pack} is signed: calibrate an unsigned copy, then sign it")
    torch.set_num_threads(a.threads)
    from .demo.quality import PackModels

    models = PackModels(a.pack)
    prompts = CALIBRATION_PROMPTS[:a.prompts]
    ratios = residual_ratios(models, prompts, CALIBRATION_SEED, a.steps)
    path = write_calibration(Path(a.pack), ratios, prompts, CALIBRATION_SEED, models.guidance)
    print(f"wrote {path}: {', '.join(f'{r:.4f}' for r in ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

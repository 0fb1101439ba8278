"""Quality of the demo pack: prompt adherence, and the cost of LPL and TDTM against the 30-step baseline.

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.quality            # writes docs/quality.md

It loads the pack's own TorchScript blocks (default: the embedded ``demo`` pack), encodes each prompt with the pack's
T5 blocks, samples with the eager reference sampler (``reference.Sampler``, which runs the scripted STDiT blocks and,
for TDTM, their sub-stage methods) and decodes with the pack's VAE blocks (``vae.decode_with_blocks``), i.e. the
computation the Java pipeline reproduces.

Prompts: the 12 held-out (colour, shape, direction) triples of :mod:`.world` (never in a training caption or clip) ×
2 speeds × 2 backgrounds × ``--per-combo`` (default 2) = 96 prompts, each with its own noise seed (50000 + index;
training never samples noise with these seeds: its noise comes from generators seeded by (seed, stage, step)).
For each prompt the six settings run back to back (so machine load affects them alike):

* ``baseline``: 30 steps, CFG 7.0;
* ``LPL fixed 16/30``: the leap at step index 15 (16 STDiT calls);
* ``LPL dynamic``: paper tolerance 1e-4, patience 3, measured from step 14 (full-tensor cosine);
* ``TDTM 15/30`` and ``TDTM 30/30``: frame pairs merged around self- and cross-attention for the first 15 / all steps;
* ``All``: LPL fixed 16/30 + TDTM 15/30.

Metrics: the detector's colour and direction against the prompt (share of videos; "both" = colour and direction);
PSNR (dB, uint8 frames, MSE over the whole video) and SSIM (Gaussian window 11, σ 1.5, K1 0.01, K2 0.03, L 255,
per channel, "valid" filtering, mean over frames and channels) against the baseline video of the same prompt and
seed; STDiT calls; seconds per video (T5 + sampling + VAE decode, one thread unless ``--threads``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional

import numpy as np
import torch

from .. import reference as ref
from . import world as W
from .detect import detect, parse_prompt

REPO_ROOT = Path(__file__).resolve().parents[5]
DEFAULT_PACK = REPO_ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs" / "demo"
DEFAULT_OUT = REPO_ROOT / "docs" / "quality.md"
COMMAND = "PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.quality"
SEED_BASE = 50_000
EVAL_SEED = 2024  # positions of the (unused for sampling) ground-truth clips of the prompts


@dataclass(frozen=True)
class Setting:
    name: str
    lpl: Optional[ref.LplConfig] = None
    tdtm_steps: int = 0


SETTINGS = (
    Setting("baseline (30 steps)"),
    Setting("LPL fixed 16/30", lpl=ref.LplConfig.fixed(15)),
    Setting("LPL dynamic", lpl=ref.LplConfig.dynamic()),
    Setting("TDTM 15/30", tdtm_steps=15),
    Setting("TDTM 30/30", tdtm_steps=30),
    Setting("All (LPL 16/30 + TDTM 15/30)", lpl=ref.LplConfig.fixed(15), tdtm_steps=15),
)


# ---------------------------------------------------------------------------------------------------------- the pack
class PackModels:
    """A pack's TorchScript blocks, wired for the reference sampler."""

    def __init__(self, pack_dir):
        from ..pack import verify_pack
        from ..tokenizer import WordLevelTokenizer

        self.dir = Path(pack_dir)
        self.manifest = verify_pack(self.dir)
        blocks = {}
        for b in self.manifest["blocks"]:
            blocks.setdefault(b["role"], []).append(torch.jit.load(str(self.dir / b["file"])).eval())
        self.t5_embed, self.t5_blocks, self.t5_final = blocks["t5-embed"][0], blocks["t5-block"], \
            blocks["t5-final-norm"][0]
        self.stdit = SimpleNamespace(embed=blocks["stdit-embed"][0], blocks=blocks["stdit-block"],
                                     final=blocks["stdit-final"][0])
        self.vae_parts = (blocks["vae-temporal"], blocks["vae-spatial"])
        v = self.manifest["vae"]
        self.vae_cfg = SimpleNamespace(latent_channels=v["latentChannels"], scale=v["scale"], shift=v["shift"],
                                       micro_z_frame_size=v["microZFrameSize"], micro_frame_size=v["microFrameSize"],
                                       spatial_micro_batch=v["spatialMicroBatch"],
                                       scaling_factor=v["spatialScalingFactor"])
        self.null = torch.from_numpy(np.load(self.dir / self.manifest["stdit"]["nullEmbedding"]))
        self.tokenizer = WordLevelTokenizer.from_file(self.dir / self.manifest["text"]["tokenizer"])
        self.max_length = int(self.manifest["text"]["modelMaxLength"])
        self.sampling = self.manifest["sampling"]
        self.sampler = ref.Sampler(self.stdit)

    @torch.no_grad()
    def t5(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.t5_embed(ids)
        h, bias = self.t5_blocks[0](h, mask)
        for blk in self.t5_blocks[1:]:
            h, bias = blk(h, bias)
        return self.t5_final(h)

    def latent_shape(self, frames: int, height: int, width: int):
        v = self.manifest["vae"]
        full, rest = divmod(frames, v["microFrameSize"])
        c = v["temporalCompression"]
        t = full * v["microZFrameSize"] + ((rest + (c - rest % c) % c) // c if rest else 0)
        s = v["spatialCompression"]
        return 1, v["latentChannels"], t, height // s, width // s

    @torch.no_grad()
    def generate(self, prompt: str, seed: int, *, steps: int = 30, guidance: float = 7.0, frames: int = W.FRAMES,
                 height: int = W.HEIGHT, width: int = W.WIDTH, lpl=None, tdtm_steps: int = 0):
        """(frames [1, 3, F, H, W] float32, SampleResult)."""
        from ..tiny import initial_noise
        from ..vae import decode_with_blocks

        y, mask, _ = ref.encode_prompt(self.t5, self.tokenizer, prompt, self.max_length,
                                       self.sampling.get("aestheticScore", 6.5))
        z0 = initial_noise(seed, self.latent_shape(frames, height, width))
        res = self.sampler.sample(z0, y, mask, self.null, height=height, width=width, num_frames=frames,
                                  steps=steps, guidance=guidance, fps=self.sampling.get("fps", 24), lpl=lpl,
                                  tdtm_steps=tdtm_steps, record=False)
        return decode_with_blocks(self.vae_parts, res.z, frames, self.vae_cfg), res


# ----------------------------------------------------------------------------------------------------------- metrics
def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 videos (MSE over every pixel of every frame); inf when identical."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-x * x / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of [..., H, W] with the 1-D window g along both axes."""
    n = len(g)
    h, w = img.shape[-2], img.shape[-1]
    rows = sum(g[k] * img[..., k:h - n + 1 + k, :] for k in range(n))
    return sum(g[k] * rows[..., :, k:w - n + 1 + k] for k in range(n))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM (Wang et al. 2004) of two uint8 videos [F, H, W, 3]: Gaussian window 11, σ 1.5, K1 0.01, K2 0.03,
    per channel, valid filtering; the mean of the SSIM map over frames, channels and positions."""
    x = a.astype(np.float64).transpose(0, 3, 1, 2)
    y = b.astype(np.float64).transpose(0, 3, 1, 2)
    g = _gaussian_window()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mx * mx
    syy = _filter_valid(y * y, g) - my * my
    sxy = _filter_valid(x * y, g) - mx * my
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(smap.mean())


# -------------------------------------------------------------------------------------------------------- evaluation
@dataclass
class Tally:
    n: int = 0
    colour: int = 0
    direction: int = 0
    both: int = 0
    calls: List[int] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    psnr: List[float] = field(default_factory=list)
    ssim: List[float] = field(default_factory=list)

    def add(self, det, want, calls, seconds):
        c, d = det.colour == want["colour"], det.direction == want["direction"]
        self.n += 1
        self.colour += c
        self.direction += d
        self.both += c and d
        self.calls.append(calls)
        self.seconds.append(seconds)


def eval_prompts(per_combo: int, limit: Optional[int] = None):
    items = W.held_out_clips(EVAL_SEED, per_combo=per_combo)
    items = [(clip, prompt, SEED_BASE + k) for k, (clip, prompt) in enumerate(items)]
    return items[:limit] if limit else items


def seen_prompts(n: int):
    """``n`` prompts of training triples (seen combinations) with evaluation seeds, for context."""
    rng = np.random.default_rng(EVAL_SEED + 1)
    out = []
    for k in range(n):
        clip = W.sample_clip(rng, W.TRAIN_TRIPLES)
        out.append((clip, clip.caption(0), SEED_BASE + 10_000 + k))
    return out


def evaluate(models: PackModels, items, settings=SETTINGS, log=print, save_dir=None):
    tallies = {s.name: Tally() for s in settings}
    gt = Tally()
    for k, (clip, prompt, seed) in enumerate(items):
        want = parse_prompt(prompt)
        gt.add(detect(W.render(clip)), want, 0, 0.0)
        base = None
        for s in settings:
            t0 = time.perf_counter()
            frames, res = models.generate(prompt, seed, lpl=s.lpl, tdtm_steps=s.tdtm_steps)
            sec = time.perf_counter() - t0
            video = W.from_model(frames[0].numpy())
            det = detect(video)
            tl = tallies[s.name]
            tl.add(det, want, res.calls, sec)
            if base is None:
                base = video
            else:
                tl.psnr.append(psnr(video, base))
                tl.ssim.append(ssim(video, base))
            if save_dir is not None:
                np.save(Path(save_dir) / f"{k:03d}_{settings.index(s)}.npy", video)
        b = tallies[settings[0].name]
        log(f"[{k + 1}/{len(items)}] {prompt!r} seed {seed}: baseline colour {b.colour}/{b.n} "
            f"direction {b.direction}/{b.n}")
    return tallies, gt


def _pct(x, n):
    return f"{100.0 * x / n:.1f} %" if n else "n/a"


def _machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs (shared with other jobs), torch {torch.__version__}, "
            f"{threads} thread(s)")


def report(models: PackModels, tallies, gt: Tally, seen: Optional[Dict[str, Tally]], n_items: int,
           threads: int, wall: float, args) -> str:
    man = models.manifest
    base = tallies[SETTINGS[0].name]
    base_sec = float(np.mean(base.seconds))
    lines = [
        "# Quality of the demo pack, and the cost of LPL and TDTM",
        "",
        "Generated by `src/main/python/sora4j_export/demo/quality.py` (do not edit by hand). Reproduce from the "
        "repository root with:",
        "",
        "```",
        COMMAND + ("" if args.per_combo == 2 and not args.limit else
                   f" --per-combo {args.per_combo}" + (f" --limit {args.limit}" if args.limit else "")),
        "```",
        "",
        f"Pack: `{man['name']}` (the embedded default; trained by `python3 -m sora4j_export.demo.train`, see "
        "[demo-pack.md](demo-pack.md)): 17 frames at 64×64, latent [4, 5, 8, 8], "
        f"STDiT3 hidden {man['stdit']['hiddenSize']}, depth {man['stdit']['depth']}, T5 d_model "
        f"{man['text']['dModel']} × {man['text']['numBlocks']} blocks.",
        "",
        f"Prompts: {n_items} prompts built from the 12 (colour, shape, direction) triples that training never saw "
        "(`world.HELD_OUT_TRIPLES`: no training caption or clip has them) × 2 speeds × 2 backgrounds, e.g. "
        f"\"{eval_prompts(1)[0][1]}\". Noise seeds {SEED_BASE}…{SEED_BASE + n_items - 1} (one per prompt). "
        "CFG 7.0, fps 24. Every setting runs on the same prompt and seed.",
        "",
        "A video *matches* when the detector (`sora4j_export.demo.detect`: per-frame colour masks against the median "
        "background, strength-weighted centroids, a line fit of their track, nearest-palette colour vote) reports "
        "the prompt's colour (of 7) and direction (of 4). On the ground-truth renders of the same prompts the detector "
        f"is right on colour {_pct(gt.colour, gt.n)}, direction {_pct(gt.direction, gt.n)}.",
        "",
        "PSNR and SSIM compare each setting's decoded video (uint8 RGB, 17 × 64 × 64) with the 30-step baseline "
        "video of the same prompt and seed (PSNR: MSE over the whole video; SSIM: Gaussian window 11, σ 1.5, "
        "K1 0.01, K2 0.03, per channel, mean). Means over the prompts. Time: wall seconds per video for T5 + sampling "
        "+ VAE decode (Python reference sampler over the pack's TorchScript blocks).",
        "",
        "| Setting | STDiT calls | colour match | direction match | both | PSNR vs baseline (dB) | SSIM vs baseline "
        "| s / video | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        t = tallies[s.name]
        calls = np.mean(t.calls)
        calls_s = f"{calls:.0f}" if float(calls).is_integer() else f"{calls:.2f} (mean)"
        ps = "–" if not t.psnr else (f"{np.mean([p for p in t.psnr if np.isfinite(p)]):.2f}"
                                     + (f" ({sum(1 for p in t.psnr if not np.isfinite(p))} identical)"
                                        if any(not np.isfinite(p) for p in t.psnr) else ""))
        ss = "–" if not t.ssim else f"{np.mean(t.ssim):.4f}"
        sec = float(np.mean(t.seconds))
        lines.append(f"| {s.name} | {calls_s} | {_pct(t.colour, t.n)} | {_pct(t.direction, t.n)} | "
                     f"{_pct(t.both, t.n)} | {ps} | {ss} | {sec:.3f} | {base_sec / sec:.2f}× |")
    if seen:
        t = seen[SETTINGS[0].name]
        lines += ["", f"For context, the baseline on {t.n} prompts of *seen* triples (training combinations, new seeds "
                      f"{SEED_BASE + 10_000}…): colour {_pct(t.colour, t.n)}, direction {_pct(t.direction, t.n)}, "
                      f"both {_pct(t.both, t.n)}."]
    lines += [
        "",
        f"Machine: {_machine(threads)}. Whole evaluation: {wall / 60:.1f} min. Times are indicative (the machine "
        "is shared); the settings of one prompt run back to back so that load changes affect them alike.",
        "",
        "Notes:",
        "",
        "- The PSNR/SSIM columns measure how far an accelerated run drifts from the 30-step video of the same seed, "
        "not absolute quality. PSNR is computed on whole frames, most of which is the flat background.",
        "- The latent has T = 5 frames, so TDTM merges frame pairs (0, 1), (2, 3) and keeps frame 4 alone "
        "(odd T), i.e. attention sees 3 instead of 5 latent frames.",
        "- Per-video time includes the parts that LPL and TDTM do not change (T5, VAE decode), so the speed-up is "
        "below the STDiT-call ratio.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.quality", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(DEFAULT_PACK), help="pack directory (default: the embedded demo pack)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="Markdown report (default docs/quality.md)")
    ap.add_argument("--per-combo", type=int, default=2, help="prompts per held-out triple × speed × background")
    ap.add_argument("--limit", type=int, default=None, help="only the first N prompts (quick check)")
    ap.add_argument("--seen", type=int, default=24, help="baseline-only prompts of seen triples, for context")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-videos", default=None, help="also save every decoded video (.npy) in this folder")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    models = PackModels(args.pack)
    items = eval_prompts(args.per_combo, args.limit)
    if args.save_videos:
        Path(args.save_videos).mkdir(parents=True, exist_ok=True)
    tallies, gt = evaluate(models, items, log=lambda s: print(s, flush=True), save_dir=args.save_videos)
    seen = None
    if args.seen:
        seen, _ = evaluate(models, seen_prompts(args.seen), settings=SETTINGS[:1], log=lambda s: None)
    text = report(models, tallies, gt, seen, len(items), args.threads, time.time() - t0, args)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    summary = {name: {"n": t.n, "colour": t.colour, "direction": t.direction, "both": t.both,
                      "psnr": float(np.mean(t.psnr)) if t.psnr else None,
                      "ssim": float(np.mean(t.ssim)) if t.ssim else None,
                      "seconds": float(np.mean(t.seconds)), "calls": float(np.mean(t.calls))}
               for name, t in tallies.items()}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        threads = "1"
        for i, arg in enumerate(sys.argv):
            if arg == "--threads" and i + 1 < len(sys.argv):
                threads = sys.argv[i + 1]
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
        os.execve(sys.executable, [sys.executable, "-m", "sora4j_export.demo.quality"] + sys.argv[1:], env)
    sys.exit(main())

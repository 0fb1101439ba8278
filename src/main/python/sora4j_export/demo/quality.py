"""Quality of the demo pack against issue 16's bars, and the cost of LPL and TDTM against the 30-step baseline.

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.quality [--pack DIR] [--label TEXT]
                                                                             # writes docs/quality.md

It loads the pack's own TorchScript blocks (default: the embedded ``demo`` pack), encodes each prompt with the pack's
T5 blocks, samples with the eager reference sampler (``reference.Sampler``, which runs the scripted STDiT blocks and,
for TDTM, their sub-stage methods) and decodes with the pack's VAE blocks (``vae.decode_with_blocks``), i.e. the
computation the Java pipeline reproduces, at the pack's native request (manifest ``request``; 17 frames at 64×64 for
packs without one).

Prompt sets, each with its own noise seeds (training never samples noise with these: its noise comes from generators
seeded by (seed, stage, step)):

* held-out: the 12 held-out (colour, shape, direction) triples of :mod:`.world` (never in a training caption or clip)
  × 2 speeds × 2 backgrounds × ``--per-combo`` (default 2) = 96 full prompts, under six settings run back to back:
  ``baseline`` (30 steps, CFG 7.0), ``LPL fixed 16/30``, ``LPL dynamic`` (tolerance 1e-4, patience 3, from step 14),
  ``TDTM 15/30``, ``TDTM 30/30`` and ``All`` (LPL fixed 16/30 + TDTM 15/30);
* short: :data:`SHORT_EXAMPLES` and :data:`SHORT_FORMS` × the held-out triples (attributes left out, other orders);
* the README prompt on seeds 0–19; and, for context, full prompts of seen triples.

Per video (:func:`judge`): the detector's colour, direction, speed and background, the majority shape of its
frames, and the every-frame check (one object of the prompt's colour and shape, no second blob); PSNR and SSIM
against the baseline video of the same prompt and seed; STDiT calls; seconds (one thread unless ``--threads``). The
report (:mod:`.quality_report`) starts with the issue's bars.
"""

from __future__ import annotations

import argparse
import json
import platform
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
    steps: int = 30
    frames: Optional[int] = None  # None: the pack's native request
    tdtm_rule: str = ref.TDTM_SORA4J


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
        #: the pack's classifier-free guidance scale (manifest sampling.guidanceScale), as the CLI uses it
        self.guidance = float(self.sampling.get("guidanceScale", 7.0))
        self.sampler = ref.Sampler(self.stdit)
        # the pack's native request (manifest "request"; packs written before it: the v1 demo's 17 frames, 64×64)
        req = self.manifest.get("request") or {"frames": W.FRAMES_V1, "width": W.WIDTH, "height": W.HEIGHT}
        self.frames, self.width, self.height = int(req["frames"]), int(req["width"]), int(req["height"])

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
    def generate(self, prompt: str, seed: int, *, steps: int = 30, guidance: float = None, frames: int = None,
                 height: int = None, width: int = None, lpl=None, tdtm_steps: int = 0,
                 tdtm_rule: str = ref.TDTM_SORA4J):
        """(frames [1, 3, F, H, W] float32, SampleResult); frames and size default to the pack's native request,
        the guidance scale to the pack's."""
        from ..tiny import initial_noise
        from ..vae import decode_with_blocks

        frames, height, width = frames or self.frames, height or self.height, width or self.width
        y, mask, _ = ref.encode_prompt(self.t5, self.tokenizer, prompt, self.max_length,
                                       self.sampling.get("aestheticScore", 6.5))
        z0 = initial_noise(seed, self.latent_shape(frames, height, width))
        res = self.sampler.sample(z0, y, mask, self.null, height=height, width=width, num_frames=frames,
                                  steps=steps, guidance=self.guidance if guidance is None else guidance,
                                  fps=self.sampling.get("fps", 24), lpl=lpl,
                                  tdtm_steps=tdtm_steps, record=False, tdtm_rule=tdtm_rule)
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
ATTRIBUTES = ("colour", "shape", "direction", "speed", "background")

#: short prompts (issue 16): forms with attributes left out and other word orders, filled with each held-out triple;
#: {sw} is the speed synonym (slow / fast) and {bg} a background, both chosen per prompt
SHORT_FORMS = (
    "a {c} {s} moving {d}",
    "{c} {s}",
    "moving {d}, a {c} {s}",
    "a {c} shape moving {d} {sw}",
    "a {s} moving {d} on a {bg} background",
    "{sw} moving {d}, a {c} {s} on a {bg} background",
)
#: the issue's own examples, always included
SHORT_EXAMPLES = ("a red circle moving left", "blue square", "moving up, a green triangle")
README_PROMPT = "a red circle moving left"


@dataclass
class Outcome:
    """One video against its prompt: the detector's clip attributes, the every-frame check, and the settings' cost."""

    prompt: str
    want: Dict[str, str]
    right: Dict[str, bool]          # per named attribute
    clean: bool                     # every frame clean
    first_bad: int
    calls: int = 0
    seconds: float = 0.0
    psnr: Optional[float] = None
    ssim: Optional[float] = None

    @property
    def all_named(self) -> bool:
        return all(self.right.values())


def judge(video: np.ndarray, prompt: str, speed_split: Optional[float] = None) -> Outcome:
    """The detector's verdict on one uint8 video [F, H, W, 3] for ``prompt`` (only the attributes it names)."""
    from .detect import check_frames

    want = parse_prompt(prompt)
    d = detect(video, speed_split=speed_split)
    chk = check_frames(video, want)
    got = {"colour": d.colour, "shape": chk.shape_vote(), "direction": d.direction, "speed": d.speed,
           "background": d.background}
    return Outcome(prompt, want, {k: got[k] == v for k, v in want.items()}, chk.all_clean, chk.first_bad)


@dataclass
class Tally:
    outcomes: List[Outcome] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.outcomes)

    def share(self, pred, where=None) -> Optional[float]:
        sel = [o for o in self.outcomes if where is None or where(o)]
        return None if not sel else sum(1 for o in sel if pred(o)) / len(sel)

    def attribute(self, k: str) -> Optional[float]:
        return self.share(lambda o: o.right[k], lambda o: k in o.want)

    def all_named(self) -> Optional[float]:
        return self.share(lambda o: o.all_named)

    def clean(self, background: Optional[str] = None) -> Optional[float]:
        return self.share(lambda o: o.clean, None if background is None else
                          (lambda o: o.want.get("background", "dark") == background))

    def mean(self, name: str) -> Optional[float]:
        v = [getattr(o, name) for o in self.outcomes if getattr(o, name) is not None]
        v = [x for x in v if np.isfinite(x)]
        return float(np.mean(v)) if v else None


def held_out_prompts(frames: int, per_combo: int, limit: Optional[int] = None):
    """(prompt, seed): the held-out triples × 2 speeds × 2 backgrounds × ``per_combo``, full captions."""
    items = W.held_out_clips(EVAL_SEED, per_combo=per_combo, frames=frames)
    items = [(prompt, SEED_BASE + k) for k, (_, prompt) in enumerate(items)]
    return items[:limit] if limit else items


def short_prompts():
    """(prompt, seed): :data:`SHORT_EXAMPLES` and every :data:`SHORT_FORMS` × held-out triple."""
    out = [(p, SEED_BASE + 20_000 + k) for k, p in enumerate(SHORT_EXAMPLES)]
    k = 0
    for c, s, d in W.HELD_OUT_TRIPLES:
        for form in SHORT_FORMS:
            sw = W.SPEED_WORDS[list(W.SPEEDS)[k % 2]][1]
            bg = list(W.BACKGROUNDS)[(k // 2) % 2]
            out.append((form.format(c=c, s=s, d=d, sw=sw, bg=bg), SEED_BASE + 20_100 + k))
            k += 1
    return out


def seen_prompts(n: int, frames: int):
    """(prompt, seed): ``n`` full captions of training triples (seen combinations), for context."""
    rng = np.random.default_rng(EVAL_SEED + 1)
    return [(W.sample_clip(rng, W.TRAIN_TRIPLES, frames=frames).caption(0), SEED_BASE + 10_000 + k) for k in range(n)]


def evaluate(models: PackModels, items, settings=SETTINGS, log=print, save_dir=None,
             offset: int = 0, total: Optional[int] = None) -> Dict[str, Tally]:
    """Every (prompt, seed) under every setting (back to back per prompt); PSNR/SSIM against the first setting.
    ``offset``: the index of ``items[0]`` in the whole set of ``total`` items (log lines, saved videos' names)."""
    tallies = {s.name: Tally() for s in settings}
    total = total or offset + len(items)
    for k, (prompt, seed) in enumerate(items, start=offset):
        base = None
        for i, s in enumerate(settings):
            t0 = time.perf_counter()
            frames, res = models.generate(prompt, seed, steps=s.steps, frames=s.frames, lpl=s.lpl,
                                          tdtm_steps=s.tdtm_steps, tdtm_rule=s.tdtm_rule)
            sec = time.perf_counter() - t0
            video = W.from_model(frames[0].numpy())
            o = judge(video, prompt)
            o.calls, o.seconds = res.calls, sec
            if base is None:
                base = video
            else:
                o.psnr, o.ssim = psnr(video, base), ssim(video, base)
            tallies[s.name].outcomes.append(o)
            if save_dir is not None:
                np.save(Path(save_dir) / f"{k:03d}_{i}.npy", video)
        b = tallies[settings[0].name].outcomes[-1]
        log(f"[{k + 1}/{total}] {prompt!r} seed {seed}: baseline named {b.all_named} "
            f"{ {a: v for a, v in b.right.items() if not v} } clean {b.clean}")
    return tallies


def _evaluate_chunk(job) -> Dict[str, Tally]:
    pack, items, settings, threads, save_dir, offset, total, guidance = job
    torch.set_num_threads(threads)
    models = PackModels(pack)
    models.guidance = guidance
    return evaluate(models, items, settings=settings, log=lambda s: print(s, flush=True),
                    save_dir=save_dir, offset=offset, total=total)


def evaluate_parallel(models: PackModels, pack, items, settings=SETTINGS, workers: int = 1, threads: int = 1,
                      log=print, save_dir=None) -> Dict[str, Tally]:
    """:func:`evaluate` in ``workers`` processes, each on a contiguous share of ``items`` with ``threads`` threads;
    the tallies are the same outcomes in the same order as one process's (every generation is seeded by its own
    prompt and seed)."""
    if workers <= 1 or len(items) < 2:
        return evaluate(models, items, settings=settings, log=log, save_dir=save_dir)
    parts = in_processes(_evaluate_chunk, items, workers,
                         lambda share, offset: (str(pack), share, settings, threads, save_dir, offset, len(items),
                                                models.guidance))
    return {s.name: Tally([o for p in parts for o in p[s.name].outcomes]) for s in settings}


def in_processes(chunk_fn, items, workers: int, job):
    """``chunk_fn(job(share, offset))`` for ``workers`` contiguous shares of ``items`` (offset: the share's first
    index), each in its own spawned process; the results in the order of the shares."""
    import multiprocessing as mp

    n = min(workers, len(items))
    bounds = [len(items) * i // n for i in range(n + 1)]
    with mp.get_context("spawn").Pool(n) as pool:
        return pool.map(chunk_fn, [job(items[a:b], a) for a, b in zip(bounds, bounds[1:])])


def ground_truth(frames: int, per_combo: int, limit: Optional[int] = None) -> Tally:
    """The detector on the world's own renders of the held-out prompts (what a perfect model would score)."""
    t = Tally()
    for clip, prompt in W.held_out_clips(EVAL_SEED, per_combo=per_combo, frames=frames)[:limit or None]:
        t.outcomes.append(judge(W.render(clip), prompt))
    return t


PRESETS_BEGIN, PRESETS_END = "<!-- presets:begin -->", "<!-- presets:end -->"


def keep_presets_section(text: str, out: Path) -> str:
    """Carries the presets' table (written by ``benchmarks/ablation.sh --presets``) over into a regenerated report."""
    old = out.read_text(encoding="utf-8") if out.is_file() else ""
    b, e = old.find(PRESETS_BEGIN), old.find(PRESETS_END)
    if b < 0 or e < b:
        return text
    return text.rstrip("\n") + "\n\n" + old[b:e + len(PRESETS_END)] + "\n"


def main(argv=None) -> int:
    from .quality_report import report

    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.quality", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(DEFAULT_PACK), help="pack directory (default: the embedded demo pack)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="Markdown report (default docs/quality.md)")
    ap.add_argument("--label", default=None, help="the report's title line (default: the pack's name)")
    ap.add_argument("--per-combo", type=int, default=2, help="prompts per held-out triple × speed × background")
    ap.add_argument("--limit", type=int, default=None, help="only the first N prompts of each set (quick check)")
    ap.add_argument("--seen", type=int, default=24, help="baseline-only prompts of seen triples, for context")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1,
                    help="processes sharing the prompts, each with --threads threads (the same results for any number)")
    ap.add_argument("--save-videos", default=None, help="also save every decoded video (.npy) in this folder")
    ap.add_argument("--guidance", type=float, default=None,
                    help="classifier-free guidance scale (default: the pack's sampling.guidanceScale)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    models = PackModels(args.pack)
    if args.guidance is not None:
        models.guidance = args.guidance
    if args.save_videos:
        Path(args.save_videos).mkdir(parents=True, exist_ok=True)

    def log(s):
        print(s, flush=True)

    lim = args.limit

    def run(items, settings=SETTINGS, **kw):
        return evaluate_parallel(models, args.pack, items, settings=settings, workers=args.workers,
                                 threads=args.threads, **kw)

    res = {
        "held_out": run(held_out_prompts(models.frames, args.per_combo, lim), log=log, save_dir=args.save_videos),
        "short": run(short_prompts()[:lim or None], settings=SETTINGS[:1], log=log)[SETTINGS[0].name],
        "readme": run([(README_PROMPT, s) for s in range(20)][:lim or None], settings=SETTINGS[:1],
                      log=log)[SETTINGS[0].name],
        "seen": run(seen_prompts(args.seen, models.frames), settings=SETTINGS[:1],
                    log=lambda s: None)[SETTINGS[0].name] if args.seen else None,
        "truth": ground_truth(models.frames, args.per_combo, lim),
    }
    text = keep_presets_section(report(models, res, args, time.time() - t0), Path(args.out))
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    from .entry import run

    run("sora4j_export.demo.quality", main)

"""One CFG denoising step of the bench pack's STDiT3, run eagerly in PyTorch: what a user would otherwise run.

Used by the ablation runner (``io.github.sora4j.benchmarks.Ablation``, docs/benchmarks.md), which starts it once per
repetition and compares its step time with the Java pipeline's. Run it with the Python that has PyTorch (Debian:
``/usr/bin/python3`` with ``python3-torch``) from the repository root::

    PYTHONPATH=src/main/python PYTHONHASHSEED=0 /usr/bin/python3 benchmarks/eager_step.py \\
        [--pack benchmarks/target/packs/bench-opensora] [--threads 1] [--steps 5] [--warmup 1] \\
        [--size 256] [--caption-tokens 18]

It builds the same STDiT3 modules as the bench pack (``sora4j_export.bench.build_bench_models`` with the pack's seed,
so the same weights; checked against the pack's block files when ``--pack`` exists), the same blocks
(``stdit_blocks``: embed, each spatial+temporal pair, final) and the same inputs as the Java pipeline's step at the
compute setting (68 frames at 256x256: latent [1, 4, 20, 32, 32], 5,120 tokens per sample, CFG batch 2, the caption
rows [2, L, C_cap]), and times one step: concatenate z for CFG, embed, the pairs' ``forward``, final layer,
``v_uncond + g (v_cond - v_uncond)``. Alternating with it (eager, TorchScript, eager, ...) it runs the same step on the
pack's TorchScript files (``torch.jit.load``, graph optimizer off as in the Java runs), which separates the cost of
Java from that of the PyTorch version. The last line of the output is one JSON object: ``eager_s`` and
``torchscript_s`` (every measured step, seconds), ``torch`` (version), ``threads``, ``weights_match`` (true, false or
null without a pack).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from sora4j_export.bench import SEED, build_bench_models
from sora4j_export.stdit3 import stdit_blocks

GUIDANCE = 7.0
TIMESTEP = 900.0
FPS = 24.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pack", default="benchmarks/target/packs/bench-opensora", help="bench pack directory")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the Java runs' count)")
    p.add_argument("--steps", type=int, default=5, help="measured steps per mode")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured steps per mode first")
    p.add_argument("--size", type=int, default=256, help="frame width and height in pixels (256: 5,120 tokens)")
    p.add_argument("--frames", type=int, default=68, help="video frames (68: 20 latent frames)")
    p.add_argument("--caption-tokens", type=int, default=18, help="prompt tokens L in cross-attention")
    p.add_argument("--seed", type=int, default=SEED, help="the bench pack's weight seed")
    a = p.parse_args(argv)
    for name in ("threads", "steps", "size", "frames", "caption_tokens"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1 but was {getattr(a, name)}")
    if a.warmup < 0:
        p.error(f"--warmup must be >= 0 but was {a.warmup}")
    return a


def latent_frames(frames: int) -> int:
    """Open-Sora v1.2's VAE: 17 frames per chunk of 5 latent frames (68 -> 20)."""
    return frames // 17 * 5 + (0 if frames % 17 == 0 else (frames % 17 - 1) // 4 + 1)


def inputs(cfg, size: int, frames: int, caption_tokens: int) -> dict:
    """The step's inputs at the pipeline's shapes and dtypes (values drawn at random: the cost does not depend on them)."""
    gen = torch.Generator().manual_seed(42)
    t = latent_frames(frames)
    h = size // 8
    return dict(
        z=torch.randn(1, cfg.in_channels, t, h, h, generator=gen),
        captions=torch.randn(2, caption_tokens, cfg.caption_channels, generator=gen),
        fps=torch.tensor([FPS]), height=torch.tensor([float(size)]), width=torch.tensor([float(size)]),
        num_frames=torch.tensor(t, dtype=torch.int64),
        latent_size=torch.tensor([t, h, h], dtype=torch.int64),
    )


def cfg_step(embed, pairs, final, inp: dict, in_channels: int) -> torch.Tensor:
    """One CFG step, as io.github.sora4j.internal.Denoiser#velocity does it."""
    z = inp["z"]
    z_in = torch.cat([z, z], 0)
    t = torch.tensor([TIMESTEP, TIMESTEP], dtype=torch.float32)
    x, y_tokens, t_mlp, t_emb = embed(z_in, t, inp["captions"], inp["fps"], inp["height"], inp["width"])
    for pair in pairs:
        x = pair(x, y_tokens, t_mlp, inp["num_frames"])
    o = final(x, t_emb, inp["latent_size"])
    v_cond = o[0:1, :in_channels]
    v_uncond = o[1:2, :in_channels]
    return v_uncond + (v_cond - v_uncond) * GUIDANCE


def load_scripted(pack: Path, specs):
    """The pack's STDiT block files, or None without a pack."""
    if not (pack / "manifest.json").is_file():
        return None
    return [torch.jit.load(str(pack / s.file), map_location="cpu").eval() for s in specs]


def weights_match(specs, scripted) -> bool:
    """Whether every eager block holds exactly the parameters of the pack's file."""
    for spec, mod in zip(specs, scripted):
        eager = spec.module.state_dict()
        packed = mod.state_dict()
        if set(eager) != set(packed):
            return False
        if any(not torch.equal(eager[k].float(), packed[k].float()) for k in eager):
            return False
    return True


def timed(fn) -> float:
    start = time.perf_counter()
    v = fn()
    float(v.sum())  # the step's result is used
    return time.perf_counter() - start


def main(argv=None) -> int:
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    torch._C._set_graph_executor_optimize(False)  # as the Java runs (-Dai.djl.pytorch.graph_optimizer=false)

    models = build_bench_models(a.seed)
    cfg = models.stdit_config
    specs = stdit_blocks(models.stdit)
    scripted = load_scripted(Path(a.pack), specs)
    match = None if scripted is None else weights_match(specs, scripted)
    inp = inputs(cfg, a.size, a.frames, a.caption_tokens)

    modes = {"eager": [s.module for s in specs]}
    if scripted is not None:
        modes["torchscript"] = scripted
    times = {m: [] for m in modes}
    with torch.inference_mode():
        for i in range(a.warmup + a.steps):
            for mode, blocks in modes.items():  # alternate, so that drift in the load hits both alike
                s = timed(lambda: cfg_step(blocks[0], blocks[1:-1], blocks[-1], inp, cfg.in_channels))
                if i >= a.warmup:
                    times[mode].append(s)
                print(f"{mode:12s} step {i + 1}: {s:.4f} s{'' if i >= a.warmup else ' (warm-up)'}",
                      file=sys.stderr)
    for mode, xs in times.items():
        print(f"{mode}: median {statistics.median(xs):.4f} s over {len(xs)} steps", file=sys.stderr)
    print(json.dumps({"eager_s": times["eager"], "torchscript_s": times.get("torchscript", []),
                      "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "weights_match": match, "tokens_per_sample": int(inp["z"].shape[2]) * (a.size // 16) ** 2,
                      "caption_tokens": a.caption_tokens}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast the demo trainer's two hot loops run with glibc's default malloc and with the trainer's setting
(``train.MALLOC_TUNABLES``), interleaved, medians (docs/demo-pack.md, "Faster training").

Each measurement is a fresh process (a malloc setting only takes effect at process start), one thread:
``encode``: seconds to encode one 51-frame prompt-world clip with the run's spatial and temporal encoders
(the ``latents`` stage's work); ``step``: seconds of one diffusion step (STDiT3 forward and backward on random
latents at the run's size) at batch 32 and at batch 16 (one process's share with ``--procs 2``).

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.train_speed --run training/demo-v2 [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _encode(run: str, clips: int) -> float:
    import numpy as np
    import torch

    from . import vae_stages as V
    from . import world as W

    rng = np.random.default_rng(1)
    rows = [V.clip_row(W.sample_clip(rng)) for _ in range(clips + 1)]
    V._latents_worker_init(os.path.join(run, "spatial.pt"), os.path.join(run, "temporal.pt"))
    V._encode_rows(rows[:1])  # warm-up
    t0 = time.perf_counter()
    V._encode_rows(rows[1:])
    return (time.perf_counter() - t0) / clips


def _step(batch: int, reps: int) -> float:
    import torch

    from .. import reference as ref
    from . import models as M

    torch.manual_seed(0)
    stdit = M.build_stdit(1, hidden_size=128, depth=4)
    M.learnable_null(stdit)
    embed, blocks, final = ref.stdit_pieces(stdit)
    f32 = torch.float32
    fps, hh, ww = (torch.tensor([v], dtype=f32) for v in (24.0, 64.0, 64.0))
    lsize = torch.tensor([15, 8, 8])
    ych = stdit.y_embedder.y_embedding.shape[-1]

    def one(b):
        x, y_tok, t_mlp, t_emb = embed(torch.randn(b, 4, 15, 8, 8), torch.rand(b) * 1000, torch.randn(b, 12, ych),
                                       fps, hh, ww)
        for blk in blocks:
            x = ref.block_forward(blk, x, y_tok, t_mlp, 15, x.shape[1] // 15, False)
        final(x, t_emb, lsize).pow(2).mean().backward()

    one(2)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        one(batch)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _child(kind: str, run: str) -> None:
    import torch

    torch.set_num_threads(1)
    out = {"encode": lambda: _encode(run, 6), "step32": lambda: _step(32, 3), "step16": lambda: _step(16, 3)}[kind]()
    print(json.dumps(out))


def main(argv=None) -> int:
    from .train import MALLOC_TUNABLES

    p = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.train_speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default="training/demo-v2", help="a training directory with spatial.pt and temporal.pt")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        _child(a.child, a.run)
        return 0
    base = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    base.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    settings = {"glibc default": base, "trainer's setting": dict(base, GLIBC_TUNABLES=MALLOC_TUNABLES)}
    res = {(k, s): [] for k in ("encode", "step32", "step16") for s in settings}
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    for _ in range(a.rounds):
        for kind in ("encode", "step32", "step16"):
            for name, env in settings.items():
                out = subprocess.run([sys.executable, "-m", "sora4j_export.demo.train_speed", "--run", a.run,
                                      "--child", kind], env=env, check=True, capture_output=True, text=True).stdout
                res[(kind, name)].append(float(out.strip().splitlines()[-1]))
    print(f"{time.strftime('%Y-%m-%d')}, {a.rounds} rounds, one thread per process, load average {load} at start")
    print("| | glibc default (s) | trainer's setting (s) | speed-up |")
    print("|---|---|---|---|")
    labels = {"encode": "encode one 51-frame clip", "step32": "diffusion step, batch 32",
              "step16": "diffusion step, batch 16"}
    for kind, label in labels.items():
        d, t = (statistics.median(res[(kind, s)]) for s in settings)
        print(f"| {label} | {d:.3f} | {t:.3f} | {d / t:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

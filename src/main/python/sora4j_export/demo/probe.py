"""Probes a training run's latest checkpoint on the bar that still fails: every frame clean on light backgrounds.

The pack is written from a copy of the checkpoint into ``--work`` (default a new temporary folder), so a running
training is not touched (its log, stage marks and checkpoint stay as they are). Then the held-out full prompts on a
light background (the 48 of ``quality``'s set; baseline sampler, 30 steps) are generated and judged by the every-frame
check, as in the full evaluation. A probe is not a full evaluation: a pack is embedded only after ``quality``.

::

    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.probe training/demo-v2-deep
    PYTHONPATH=src/main/python /usr/bin/python3 -m sora4j_export.demo.probe --pack DIR   # a finished pack
    ... --guidance 3,5,7     # the same prompts at other guidance scales

About 3 min on one core for the 48 prompts (2026-12-05).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import torch

from . import world as W
from .decoder_stage import DECODER_FILE
from .quality import PackModels, held_out_prompts, judge

#: what the pack stage reads from a training directory besides the checkpoint
RUN_FILES = ("latents.npz", "spatial.pt", "temporal.pt")


def pack_from_run(run: Path, work: Path) -> Path:
    """A pack of ``run``'s latest diffusion checkpoint (EMA weights; the STDiT's hidden size and depth read from it),
    written under ``work``; returns its folder."""
    from .grow import checkpoint_depth
    from .runloop import compact_path, load_checkpoint
    from .train import write_demo_pack

    full = run / "diffusion_ckpt.pt"
    src = full if full.exists() else compact_path(full)
    if not src.exists():
        raise SystemExit(f"{run} has no diffusion checkpoint (diffusion_ckpt.pt or diffusion_ckpt.compact.pt)")
    copy = work / "run"
    if copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True)
    for f in RUN_FILES:
        if not (run / f).exists():
            raise SystemExit(f"{run / f} is missing: resume the run once to rebuild it")
        os.symlink((run / f).resolve(), copy / f)
    if (run / DECODER_FILE).exists():  # the decoder stage's fine-tuned decoder, as the pack stage would use it
        os.symlink((run / DECODER_FILE).resolve(), copy / DECODER_FILE)
    shutil.copy(src, copy / src.name)  # a copy: the running training replaces its checkpoint atomically
    stdit = load_checkpoint(copy / "diffusion_ckpt.pt")["ema"]["stdit"]
    hidden, depth = int(stdit["x_embedder.proj.weight"].shape[0]), checkpoint_depth(stdit)
    pack = work / "pack"
    write_demo_pack(copy, pack, from_checkpoint=True, hidden=hidden, depth=depth)
    return pack


def probe(pack: Path, guidance: float = None, log=print) -> dict:
    """Every frame clean for the held-out full prompts on light backgrounds; ``guidance``: the scale (default: the
    pack's)."""
    models = PackModels(pack)
    if guidance is not None:
        models.guidance = guidance
    items = [(p, s) for p, s in held_out_prompts(models.frames, 2) if p.endswith("on a light background")]
    clean, unclean = 0, []
    for prompt, seed in items:
        frames, _ = models.generate(prompt, seed)
        o = judge(W.from_model(frames[0].numpy()), prompt)
        clean += o.clean
        if not o.clean:
            unclean.append(f"{prompt} (seed {seed})")
    squares = sum(1 for p, _ in items if " square " in p)
    bad_squares = sum(1 for u in unclean if " square " in u)
    log(f"guidance {models.guidance:g}: every frame clean on light, held-out full prompts: {clean}/{len(items)} "
        f"({clean / len(items):.1%}); squares {squares - bad_squares}/{squares}")
    for u in unclean:
        log(f"  not clean: {u}")
    return {"clean": clean, "n": len(items), "unclean": unclean, "guidance": models.guidance}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.probe", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", type=Path, help="a training directory (its latest diffusion checkpoint)")
    ap.add_argument("--pack", type=Path, default=None, help="probe this pack instead of a run's checkpoint")
    ap.add_argument("--work", type=Path, default=None,
                    help="where the pack is written (default: a new temporary folder)")
    ap.add_argument("--guidance", default=None,
                    help="comma-separated guidance scales to probe (default: the pack's, 5.0 for the demo pack)")
    a = ap.parse_args(argv)
    if (a.run is None) == (a.pack is None):
        ap.error("give a training directory or --pack DIR (one of them)")
    torch.set_num_threads(1)
    t0 = time.time()
    import tempfile

    pack = a.pack or pack_from_run(a.run, a.work or Path(tempfile.mkdtemp(prefix="sora4j-probe-")))
    for g in [float(v) for v in a.guidance.split(",")] if a.guidance else [None]:
        probe(pack, g)
    print(f"probe: {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    from .entry import run

    run("sora4j_export.demo.probe", main)

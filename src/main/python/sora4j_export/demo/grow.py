"""Deepens a diffusion-stage checkpoint: the STDiT gains spatial/temporal block pairs that start as the identity.

A new block's three residual branches (self-attention, cross-attention, MLP) end in output projections that are set to
zero, weight and bias, so the grown model computes exactly what the checkpoint's model computed; training then moves
them away from zero. The existing blocks, the T5, the EMA weights and the AdamW moments of every existing parameter are
kept (the moments remapped by parameter name); the new parameters start without moments, as AdamW does. The step is
kept, so a ``constant`` learning-rate run continues where it was.

Command line (the grown checkpoint is written as ``OUT/diffusion_ckpt.pt``; train on with ``--depth`` set to the new
depth and ``--resume``)::

    python3 -m sora4j_export.demo.grow training/demo-v2-light/diffusion_ckpt.compact.pt --depth 6 --out training/x
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from . import models as M
from .runloop import read_compact, save_atomic

#: the output projections of a block's residual branches: zero in a new block, which makes it the identity
ZERO_PROJECTIONS = ("attn.proj", "cross_attn.proj", "mlp.fc2")


def _models(vocab_size: int, seed: int, hidden: int, depth: int):
    t5 = M.build_t5(vocab_size, seed)
    stdit = M.build_stdit(seed + 1, hidden_size=hidden, depth=depth)
    M.learnable_null(stdit)
    return t5, stdit


def parameter_names(t5, stdit) -> List[Tuple[str, str]]:
    """(module, name) of each trained parameter, in the order of the diffusion stage's optimiser."""
    return [("t5", n) for n, _ in t5.named_parameters()] + \
        [("stdit", n) for n, p in stdit.named_parameters() if p.requires_grad]


def checkpoint_depth(state: Dict[str, torch.Tensor]) -> int:
    """The number of spatial blocks in an STDiT state dict."""
    idx = {int(k.split(".")[1]) for k in state if k.startswith("spatial_blocks.")}
    return max(idx) + 1 if idx else 0


def grow_stdit_state(old: Dict[str, torch.Tensor], fresh: Dict[str, torch.Tensor], depth: int) -> Dict[str, torch.Tensor]:
    """``fresh`` (a newly built model's state at ``depth``) with every key of ``old`` copied in, and the new blocks'
    output projections zeroed."""
    have = checkpoint_depth(old)
    missing = [k for k in old if k not in fresh]
    if missing:
        raise ValueError(f"the checkpoint has STDiT keys a depth-{depth} model lacks, e.g. {missing[:3]}: "
                         f"is --hidden the trained one?")
    out = {}
    for k, v in fresh.items():
        if k in old:
            if old[k].shape != v.shape:
                raise ValueError(f"STDiT key {k}: checkpoint shape {list(old[k].shape)}, model {list(v.shape)}: "
                                 f"is --hidden the trained one?")
            out[k] = old[k].clone()
        else:
            parts = k.split(".")
            if parts[0] not in ("spatial_blocks", "temporal_blocks") or int(parts[1]) < have:
                raise ValueError(f"STDiT key {k} is neither in the checkpoint nor in a new block")
            zero = any(".".join(parts[2:]).startswith(p + ".") for p in ZERO_PROJECTIONS)
            out[k] = torch.zeros_like(v) if zero else v.clone()
    return out


def grow_checkpoint(state: dict, depth: int, vocab_size: int, hidden: int = 128, seed: int = 0) -> dict:
    """A diffusion-stage :class:`~sora4j_export.demo.runloop.Loop` checkpoint (full form) grown to ``depth``."""
    old_depth = checkpoint_depth(state["modules"]["stdit"])
    if depth <= old_depth:
        raise ValueError(f"--depth {depth}: the checkpoint already has depth {old_depth}; growing needs a larger one")
    t5_old, stdit_old = _models(vocab_size, seed, hidden, old_depth)
    t5_new, stdit_new = _models(vocab_size, seed, hidden, depth)
    fresh = stdit_new.state_dict()
    modules = {"t5": state["modules"]["t5"], "stdit": grow_stdit_state(state["modules"]["stdit"], fresh, depth)}
    ema = {"t5": state["ema"]["t5"], "stdit": grow_stdit_state(state["ema"]["stdit"], fresh, depth)}
    old_names = parameter_names(t5_old, stdit_old)
    new_index = {n: i for i, n in enumerate(parameter_names(t5_new, stdit_new))}
    groups = [dict(g) for g in state["opt"]["param_groups"]]
    if len(groups) != 1:
        raise ValueError(f"expected one optimiser parameter group, found {len(groups)}")
    if len(groups[0]["params"]) != len(old_names):
        raise ValueError(f"the checkpoint's optimiser has {len(groups[0]['params'])} parameters but a depth-"
                         f"{old_depth} model trains {len(old_names)}: not a diffusion-stage checkpoint of this trainer")
    opt_state = {}
    for i, st in state["opt"]["state"].items():
        module, name = old_names[int(i)]
        want = tuple(state["modules"][module][name].shape)
        got = tuple(st["exp_avg"].shape) if "exp_avg" in st else want
        if got != want:
            raise ValueError(f"optimiser entry {i} ({module}.{name}) has moments of shape {list(got)} but the "
                             f"parameter is {list(want)}: the parameter order is not the trainer's")
        opt_state[new_index[(module, name)]] = st
    groups[0]["params"] = list(range(len(new_index)))
    return {"modules": modules, "ema": ema, "opt": {"state": opt_state, "param_groups": groups},
            "step": state["step"]}


def main(argv=None) -> int:
    from ..tokenizer import build_vocab

    p = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.grow", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="a diffusion_ckpt.pt or diffusion_ckpt.compact.pt")
    p.add_argument("--depth", type=int, required=True, help="the new STDiT depth (block pairs)")
    p.add_argument("--hidden", type=int, default=128, help="the trained hidden size")
    p.add_argument("--seed", type=int, default=0, help="the training seed (the new blocks' unzeroed weights)")
    p.add_argument("--out", type=Path, required=True, help="the new training directory")
    a = p.parse_args(argv)
    if not a.checkpoint.is_file():
        p.error(f"{a.checkpoint} does not exist")
    state = read_compact(a.checkpoint) if a.checkpoint.name.endswith(".compact.pt") else torch.load(a.checkpoint)
    dst = a.out / "diffusion_ckpt.pt"
    if dst.exists() or dst.with_name("diffusion_ckpt.compact.pt").exists():
        p.error(f"{a.out} already holds a diffusion checkpoint; choose a new directory")
    a.out.mkdir(parents=True, exist_ok=True)
    grown = grow_checkpoint(state, a.depth, len(build_vocab()), a.hidden, a.seed)
    save_atomic(grown, dst)
    print(f"{dst}: step {grown['step']}, depth {checkpoint_depth(state['modules']['stdit'])} -> {a.depth}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

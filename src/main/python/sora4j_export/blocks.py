"""The unit of a model pack: one scriptable module that the Java BlockLoader loads and frees."""

from dataclasses import dataclass

import torch


@dataclass
class BlockSpec:
    """One block of a pack, before it is scripted and saved.

    name:   unique, dotted, e.g. "t5.block.00", "stdit.embed", "vae.spatial.02"
    set:    "t5" | "stdit" | "vae" (blocks of one set run in `order`)
    role:   one of the roles in docs/model-pack.md ("t5-embed", "t5-block", "t5-final-norm", "stdit-embed",
            "stdit-block", "stdit-final", "vae-temporal", "vae-spatial")
    order:  position within the set, from 0
    file:   path inside the pack, e.g. "t5/block_00.pt"
    module: an nn.Module that torch.jit.script accepts; its forward (and, for stdit-block, sub-stage methods)
            follow docs/model-pack.md; float32 in and out.
    """

    name: str
    set: str
    role: str
    order: int
    file: str
    module: torch.nn.Module

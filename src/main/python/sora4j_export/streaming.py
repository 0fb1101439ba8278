"""Streaming export: the real Open-Sora v1.2 checkpoints to a pack while holding about one block in memory.

The three models are built as skeletons whose parameters are meta tensors (no memory). Their checkpoints are opened
lazily (:func:`~sora4j_export.checkpoint.read_lazy_state_dict`: headers and pickles only). Every check the eager loader
made (kind, exact keys and shapes, the VAE's normalisation) runs on the tensor references before anything is written.
Then :func:`~sora4j_export.pack.write_pack` goes through the blocks with a ``materialize`` hook: entering a block loads
exactly the tensors its modules own from the checkpoint (cast to float32), leaving it puts the meta tensors back, so the
block's weights are freed before the next block is read.

Peak memory is therefore about the largest block (a float32 T5 block, 772 MB) times a small factor (the float16 cast or
the int8 copy), plus torch itself: measured figures are in docs/model-pack.md.
"""

import contextlib
import gc
import time

import torch
import torch.nn as nn

from .checkpoint import CheckpointError, check_fits, check_kind, read_lazy_state_dict

__all__ = ["open_checkpoint", "to_meta", "Materializer"]


def open_checkpoint(flag: str, path, kind: str, expected: dict, ignore=(), log=None, prepare=None):
    """Opens ``path`` lazily, checks its kind and that it fits ``expected`` (key -> shape); ``prepare(refs)`` may
    rename or add references first. Returns the fitting references (key -> TensorRef). Errors name ``flag``."""
    try:
        refs = read_lazy_state_dict(path, log=log)
        check_kind(refs, kind)
        if prepare is not None:
            refs = prepare(refs)
        return check_fits(_WHAT[kind], expected, refs, ignore, getattr(refs, "source", None))
    except CheckpointError as e:
        raise CheckpointError(f"{flag}: {e}") from None


_WHAT = {"t5": "T5Encoder", "stdit": "STDiT3", "vae": "VideoVAEDecoder"}


def to_meta(model: nn.Module) -> nn.Module:
    """Replaces every parameter and persistent buffer of ``model`` by a meta tensor of the same shape and dtype
    (tensors shared between modules stay shared); non-persistent buffers stay as they are."""
    replaced = {}
    for mod in model.modules():
        for name, p in list(mod._parameters.items()):
            if p is None:
                continue
            if id(p) not in replaced:
                replaced[id(p)] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device="meta"), requires_grad=False)
            mod._parameters[name] = replaced[id(p)]
        for name, b in list(mod._buffers.items()):
            if b is None or name in mod._non_persistent_buffers_set:
                continue
            if id(b) not in replaced:
                replaced[id(b)] = torch.empty(b.shape, dtype=b.dtype, device="meta")
            mod._buffers[name] = replaced[id(b)]
    return model


class Materializer:
    """The ``materialize`` hook of :func:`~sora4j_export.pack.write_pack` for meta-tensor models.

    ``models``: (model, refs) pairs, refs mapping the model's state-dict keys to tensor references. ``log`` hears one
    line per block with its load time. ``timings`` collects ``{"block", "loadSeconds", "bytes"}`` per block.
    """

    def __init__(self, pairs, log=None):
        self.names = {}  # id(meta tensor) -> (refs, key)
        for model, refs in pairs:
            for key, t in model.state_dict(keep_vars=True).items():
                if key in refs and id(t) not in self.names:
                    self.names[id(t)] = (refs, key)
        self.log = log
        self.timings = []

    @contextlib.contextmanager
    def __call__(self, spec):
        start = time.monotonic()
        slots, loaded, nbytes = [], {}, 0
        try:
            for mod in spec.module.modules():
                for table, is_param in ((mod._parameters, True), (mod._buffers, False)):
                    for name, t in list(table.items()):
                        if t is None or not t.is_meta:
                            continue
                        if id(t) not in loaded:
                            where = self.names.get(id(t))
                            if where is None:
                                raise CheckpointError(f"block {spec.name}: {type(mod).__name__}.{name} has no "
                                                      "checkpoint tensor (not a state-dict entry of the model)")
                            refs, key = where
                            value = refs[key].load(t.dtype)
                            if tuple(value.shape) != tuple(t.shape):
                                raise CheckpointError(f"block {spec.name}: {key} loads as {list(value.shape)}, "
                                                      f"expected {list(t.shape)}")
                            loaded[id(t)] = nn.Parameter(value, requires_grad=False) if is_param else value
                            nbytes += value.numel() * value.element_size()
                        slots.append((table, name, t))
                        table[name] = loaded[id(t)]
            seconds = time.monotonic() - start
            self.timings.append({"block": spec.name, "loadSeconds": round(seconds, 3), "bytes": nbytes})
            yield
        finally:
            for table, name, meta in reversed(slots):
                table[name] = meta
            loaded.clear()
            # the scripted module and its compilation leave reference cycles that keep the block's tensors alive
            # until the cycle collector runs; without this, two or three blocks are resident at times (measured)
            gc.collect()

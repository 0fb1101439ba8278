"""Brings the STDiT block pairs of an existing pack up to the current exporter's code, weights untouched.

Packs exported before ``forward_merged`` existed (the pair's TDTM step with the token merges inside, stdit3.py) still
work: sora4j sees that a block lacks the method and merges tokens in Java around the sub-stage methods, with the same
result bit for bit but slower. This command rescripts each ``stdit-block`` that lacks the method from the current
``STDiT3BlockPair`` with the block's own state dict (every parameter and buffer copied exactly, same dtype), keeps the
role tag, and checks, before anything is replaced, that the new block holds the same tensors and that its
``forward`` gives the old block's output bit for bit on a random input. The manifest's sizes and sha256s are updated;
a signature is removed, as it no longer matches (sign the pack again). Blocks that already have the method are left
alone, so running it twice changes nothing the second time.

Command line: ``python3 -m sora4j_export.upgrade PACK`` (re-executes with ``PYTHONHASHSEED=0`` like the exporter, so
the same pack gives the same bytes).
"""

import io
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from .archive import block_tag
from .pack import MANIFEST, SIGNATURE, PackError, save_scripted, sha256_file, verify_pack
from .stdit3 import RotaryEmbedding, STDiT3Block, STDiT3BlockPair

__all__ = ["MERGED_METHOD", "upgrade_pack"]

MERGED_METHOD = "forward_merged"
_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def _has_method(module, name: str) -> bool:
    return name in module._c._method_names()


def _rebuilt_pair(state: dict, hidden: int, heads: int, dtype: torch.dtype) -> STDiT3BlockPair:
    """A STDiT3BlockPair of the current code holding exactly ``state``."""
    fc1 = state["spatial.mlp.fc1.weight"]
    mlp_ratio = fc1.shape[0] / hidden
    qk_norm = "spatial.attn.q_norm.weight" in state
    pair = STDiT3BlockPair(STDiT3Block(hidden, heads, mlp_ratio, qk_norm, temporal=False),
                           STDiT3Block(hidden, heads, mlp_ratio, qk_norm, temporal=True),
                           RotaryEmbedding(hidden // heads))
    pair = pair.to(dtype).eval()
    pair.load_state_dict(state, strict=True)
    for key, value in pair.state_dict().items():
        if value.dtype != state[key].dtype or not torch.equal(value, state[key]):
            raise PackError(f"rebuilding the pair changed {key} ({state[key].dtype} -> {value.dtype})")
    for p in pair.parameters():
        p.requires_grad_(False)
    return pair


def _same_forward(old, new, hidden: int) -> bool:
    """Whether both blocks' ``forward`` give the same bits on a seeded random step (B 2, T 3, S 4, L 5)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, hidden, generator=g)
    y = torch.randn(2, 5, hidden, generator=g)
    t_mlp = torch.randn(2, 6 * hidden, generator=g)
    nf = torch.tensor(3, dtype=torch.int64)
    with torch.no_grad():
        return torch.equal(old(x, y, t_mlp, nf), new(x, y, t_mlp, nf))


def upgrade_pack(pack_dir, log=print) -> int:
    """Rescripts the pack's ``stdit-block`` files that lack ``forward_merged``, in place; returns how many changed."""
    d = Path(pack_dir)
    manifest = verify_pack(d)
    stdit = manifest["stdit"]
    hidden, heads = int(stdit["hiddenSize"]), int(stdit["numHeads"])
    changed = 0
    for b in manifest["blocks"]:
        if b["role"] != "stdit-block":
            continue
        p = d / b["file"]
        if b["dtype"] not in _DTYPES:
            raise PackError(f"block {b['name']} has dtype {b['dtype']}; only float32 and float16 pairs are known")
        old = torch.jit.load(io.BytesIO(p.read_bytes()))
        if _has_method(old, MERGED_METHOD):
            continue
        pair = _rebuilt_pair(old.state_dict(), hidden, heads, _DTYPES[b["dtype"]])
        scripted = torch.jit.script(pair)
        with tempfile.TemporaryDirectory(dir=p.parent, prefix=".upgrade-") as tmp:
            staged = Path(tmp) / p.name  # same name: the archive's root folder is the file's stem
            save_scripted(scripted, staged, block_tag(b["name"], b["set"], b["role"], b["order"]))
            new = torch.jit.load(str(staged))
            if not _has_method(new, MERGED_METHOD):
                raise PackError(f"block {b['name']}: the rescripted pair has no {MERGED_METHOD}")
            if b["dtype"] == "float32" and not _same_forward(old, new, hidden):
                raise PackError(f"block {b['name']}: the rescripted pair's forward differs from the old block's")
            os.replace(staged, p)
        b["bytes"], b["sha256"] = p.stat().st_size, sha256_file(p)
        changed += 1
        log(f"{b['file']}: added {MERGED_METHOD} ({b['bytes']:,} bytes)")
    if changed:
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        tmp = d / f".{MANIFEST}.tmp-{os.getpid()}"
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, d / MANIFEST)
        (d / SIGNATURE).unlink(missing_ok=True)
    verify_pack(d)
    return changed


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python3 -m sora4j_export.upgrade PACK", file=sys.stderr)
        return 2
    try:
        n = upgrade_pack(args[0])
        print(f"upgraded {n} STDiT block pair(s) of {args[0]}")
        return 0
    except PackError as e:
        print(f"sora4j_export.upgrade: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    if "PYTHONHASHSEED" not in os.environ:
        os.execve(sys.executable, [sys.executable, "-m", "sora4j_export.upgrade"] + sys.argv[1:],
                  dict(os.environ, PYTHONHASHSEED="0"))
    sys.exit(main())

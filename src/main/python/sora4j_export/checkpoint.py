"""Reading and writing checkpoints, and loading them strictly into modules.

Supported inputs of :func:`read_state_dict`:

* a ``.safetensors`` file (parsed here: 8-byte little-endian header length, JSON header, raw little-endian data);
* a torch pickle (``.bin``, ``.pt``, ``.pth``, ``.ckpt``), loaded with ``map_location="cpu"`` and ``weights_only=True``;
  ``{"state_dict": …}``, ``{"model": …}``, ``{"module": …}`` and ``{"ema": …}`` wrappers are unwrapped, and a ``module.``
  prefix on every key (DDP) is dropped;
* a sharded index (``*.safetensors.index.json``, ``pytorch_model.bin.index.json``) whose ``weight_map`` names the shards;
* a directory holding one of the above (an index is preferred over single files).

Safetensors files are memory-mapped copy-on-write, so a tensor's pages are read when they are first used.

:func:`read_lazy_state_dict` reads the same inputs without loading any tensor: its values are
:class:`~sora4j_export.safetensors.TensorRef` records (``shape``, ``dtype``, ``load()``), for the streaming export.
Safetensors files and torch zip pickles (``torch.save`` since torch 1.6) are read lazily; a legacy (pre-1.6, non-zip)
pickle is loaded whole, since its layout does not allow anything else.
"""

import json
import mmap
import os
import struct
import sys
from pathlib import Path

import torch

__all__ = [
    "CheckpointError",
    "StateDict",
    "read_state_dict",
    "read_lazy_state_dict",
    "write_safetensors",
    "check_fits",
    "strict_load",
    "detect_kind",
    "KIND_NAMES",
]


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, of the wrong kind, or does not fit the module it is loaded into."""


class StateDict(dict):
    """A ``dict[str, Tensor]`` that remembers where it was read from (``source``, or None) and the safetensors
    ``__metadata__`` (``metadata``, a dict of str, possibly empty)."""

    def __init__(self, *args, source=None, metadata=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        self.metadata = dict(metadata or {})


# safetensors dtype name <-> torch dtype
_ST_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_TORCH_TO_ST = {v: k for k, v in _ST_DTYPES.items()}

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_MAX_HEADER = 100 * 1024 * 1024

KIND_NAMES = {"t5": "T5 text encoder", "stdit": "STDiT3", "vae": "VAE"}
# key fragments that identify each kind of checkpoint (see detect_kind)
# (most specific first: a VAE or STDiT checkpoint never holds "encoder.block.", a T5 one never the others)
_KIND_MARKERS = (("vae", "temporal_vae."), ("stdit", "spatial_blocks."), ("t5", "encoder.block."))


# ----------------------------------------------------------------------------------------------------------- reading
def read_state_dict(path) -> StateDict:
    """Reads every tensor of a checkpoint (file, sharded index or directory) into a :class:`StateDict` on the CPU."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    if p.is_dir():
        return read_state_dict(_find_in_directory(p))
    name = p.name.lower()
    if name.endswith(".index.json"):
        return _read_index(p)
    if name.endswith(".safetensors"):
        return _read_safetensors(p)
    if name.endswith(_PICKLE_SUFFIXES):
        return _read_pickle(p)
    # unknown suffix: sniff the content
    with open(p, "rb") as f:
        head = f.read(9)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return _read_pickle(p)
    if len(head) >= 9 and head[8:9] == b"{":
        return _read_safetensors(p)
    raise CheckpointError(
        f"not a checkpoint: {p} (expected .safetensors, .bin/.pt/.pth, a *.index.json or a directory holding one)")


def _find_in_directory(d: Path) -> Path:
    files = sorted(x for x in d.iterdir() if x.is_file())
    names = {x.name: x for x in files}
    for preferred in ("model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.json",
                      "pytorch_model.bin.index.json"):
        if preferred in names:
            return names[preferred]
    indexes = [x for x in files if x.name.endswith(".index.json")]
    if len(indexes) == 1:
        return indexes[0]
    if len(indexes) > 1:
        raise CheckpointError(f"ambiguous checkpoint directory {d}: several indexes ({', '.join(x.name for x in indexes)})")
    for preferred in ("model.safetensors", "diffusion_pytorch_model.safetensors", "pytorch_model.bin"):
        if preferred in names:
            return names[preferred]
    for group in ([x for x in files if x.name.endswith(".safetensors")],
                  [x for x in files if x.name.lower().endswith(_PICKLE_SUFFIXES)]):
        if len(group) == 1:
            return group[0]
        if len(group) > 1:
            raise CheckpointError(
                f"ambiguous checkpoint directory {d}: several weight files ({', '.join(x.name for x in group)}); "
                "pass one file or an index")
    raise CheckpointError(f"no checkpoint in directory {d} (no *.safetensors, *.bin, *.pt, *.pth or *.index.json)")


def _read_index(p: Path, reader=None) -> StateDict:
    try:
        with open(p, "r", encoding="utf-8") as f:
            index = json.load(f)
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("weight_map is not an object")
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"not a checkpoint index: {p} ({e})") from None
    by_shard = {}
    for key, shard in weight_map.items():
        by_shard.setdefault(shard, []).append(key)
    out = StateDict(source=str(p), metadata=index.get("metadata") or {})
    for shard in sorted(by_shard):
        sp = p.parent / shard
        if not sp.is_file():
            raise CheckpointError(f"shard {shard} named by {p} not found")
        sd = (reader or read_state_dict)(sp)
        missing = [k for k in by_shard[shard] if k not in sd]
        if missing:
            raise CheckpointError(f"shard {sp} lacks {len(missing)} tensor(s) its index names: {_head(missing)}")
        for k in by_shard[shard]:
            out[k] = sd[k]
    return out


def _read_safetensors(p: Path) -> StateDict:
    size = p.stat().st_size
    with open(p, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"not a safetensors file: {p} (too short)")
        (n,) = struct.unpack("<Q", raw)
        if n == 0 or n > _MAX_HEADER or 8 + n > size:
            raise CheckpointError(f"not a safetensors file: {p} (bad header length {n})")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise CheckpointError(f"not a safetensors file: {p} (header is not JSON: {e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"not a safetensors file: {p} (header is not an object)")
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + n
    data_len = size - base
    out = StateDict(source=str(p), metadata=metadata)
    if not header:
        return out
    with open(p, "rb") as f:
        if data_len > 0:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        else:
            buf = bytearray()
    for key, info in header.items():
        try:
            dtype = _ST_DTYPES[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except KeyError as e:
            raise CheckpointError(f"bad safetensors entry {key!r} in {p}: unsupported dtype or missing field {e}") from None
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"bad safetensors entry {key!r} in {p}: {e}") from None
        itemsize = torch.empty((), dtype=dtype).element_size()
        numel = 1
        for s in shape:
            numel *= s
        if not (0 <= begin <= end <= data_len) or end - begin != numel * itemsize:
            raise CheckpointError(
                f"bad safetensors entry {key!r} in {p}: offsets {begin}..{end} do not fit shape {shape} {info['dtype']}")
        if numel == 0:
            t = torch.empty(shape, dtype=dtype)
        elif (base + begin) % itemsize == 0:
            t = torch.frombuffer(buf, dtype=dtype, count=numel, offset=base + begin).view(shape)
        else:  # unaligned: copy the bytes out
            t = torch.frombuffer(bytearray(buf[base + begin:base + end]), dtype=dtype).view(shape)
        out[key] = t
    return out


def _read_pickle(p: Path) -> StateDict:
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except TypeError:  # torch without weights_only
        obj = torch.load(str(p), map_location="cpu")
    except Exception as e:  # noqa: BLE001 - torch raises many kinds here
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"not a readable torch checkpoint: {p} ({msg})") from None
    return _state_dict_of(obj, p, lambda v: isinstance(v, torch.Tensor))


def _state_dict_of(obj, p: Path, is_tensor) -> StateDict:
    """The dict of tensors in an unpickled checkpoint: wrappers unwrapped, a DDP ``module.`` prefix dropped."""
    for wrapper in ("state_dict", "model", "module", "ema"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict) \
                and not _is_tensor_dict(obj, is_tensor):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not _is_tensor_dict(obj, is_tensor):
        raise CheckpointError(f"not a checkpoint: {p} (the pickle does not hold a dict of tensors)")
    sd = {k: v for k, v in obj.items() if is_tensor(v)}
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return StateDict(sd, source=str(p))


def _is_tensor_dict(d, is_tensor=lambda v: isinstance(v, torch.Tensor)) -> bool:
    return bool(d) and all(isinstance(k, str) for k in d) and any(is_tensor(v) for v in d.values()) \
        and sum(bool(is_tensor(v)) for v in d.values()) * 2 >= len(d)


# ------------------------------------------------------------------------------------------------------ lazy reading
def read_lazy_state_dict(path, log=None) -> StateDict:
    """Like :func:`read_state_dict`, but the values are tensor references (``.shape``, ``.dtype``, ``.load(dtype)``)
    and no tensor data is read. ``log`` (a ``print``-like callable) hears about checkpoints that must be loaded whole."""
    from .safetensors import SafetensorsError, open_safetensors
    from .torchzip import TorchZipError, is_torch_zip, open_torch_zip

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    if p.is_dir():
        return read_lazy_state_dict(_find_in_directory(p), log)
    name = p.name.lower()
    if name.endswith(".index.json"):
        return _read_index(p, lambda sp: read_lazy_state_dict(sp, log))
    with open(p, "rb") as f:
        head = f.read(9)
    if name.endswith(".safetensors") or (not name.endswith(_PICKLE_SUFFIXES) and head[8:9] == b"{"):
        try:
            refs, metadata = open_safetensors(p)
        except SafetensorsError as e:
            raise CheckpointError(str(e)) from None
        return StateDict(refs, source=str(p), metadata=metadata)
    if name.endswith(_PICKLE_SUFFIXES) or head[:2] == b"PK" or head[:1] == b"\x80":
        if is_torch_zip(p):
            try:
                obj = open_torch_zip(p)
            except TorchZipError as e:
                raise CheckpointError(f"not a readable torch checkpoint: {e}") from None
            return _state_dict_of(obj, p, lambda v: hasattr(v, "load") and hasattr(v, "shape"))
        from .safetensors import InMemoryRef

        if log:
            log(f"  {p.name}: legacy (non-zip) torch pickle, loading it whole ({p.stat().st_size / 1e9:.2f} GB of RAM)")
        sd = _read_pickle(p)
        return StateDict({k: InMemoryRef(v) for k, v in sd.items()}, source=str(p))
    raise CheckpointError(
        f"not a checkpoint: {p} (expected .safetensors, .bin/.pt/.pth, a *.index.json or a directory holding one)")


# ----------------------------------------------------------------------------------------------------------- writing
def write_safetensors(path, state_dict, metadata=None) -> None:
    """Writes a dict of tensors as a safetensors file (tensors ordered by descending element size, then name, so
    every tensor is aligned; header padded with spaces to a multiple of 8 bytes). ``metadata`` is a dict of str."""
    entries = []
    for key, t in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state_dict key {key!r} is not a str")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] is not a tensor")
        if t.dtype not in _TORCH_TO_ST:
            raise TypeError(f"state_dict[{key!r}] has unsupported dtype {t.dtype}")
        entries.append((key, t.detach().cpu().contiguous()))
    entries.sort(key=lambda kv: (-kv[1].element_size(), kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for key, t in entries:
        data = _tensor_bytes(t)
        header[key] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    elif t.dtype == torch.bool:
        t = t.to(torch.uint8)
    if sys.byteorder != "little":
        raise RuntimeError("write_safetensors needs a little-endian machine")
    return t.numpy().tobytes()


# ----------------------------------------------------------------------------------------------------------- loading
def detect_kind(state_dict):
    """Returns "t5", "stdit" or "vae" from the key names (``encoder.block.``, ``spatial_blocks.``, ``temporal_vae.``),
    or None when no marker is present."""
    for kind, marker in _KIND_MARKERS:
        if any(marker in k for k in state_dict):
            return kind
    return None


def check_kind(state_dict, expected: str, what: str = None) -> None:
    """Raises CheckpointError when ``state_dict`` is not a checkpoint of kind ``expected``."""
    found = detect_kind(state_dict)
    if found == expected:
        return
    src = _source_of(state_dict, None)
    where = f" {src}" if src else ""
    label = what or KIND_NAMES.get(expected, expected)
    if found is None:
        raise CheckpointError(
            f"checkpoint{where} is not a {label} checkpoint (no key contains {dict(_KIND_MARKERS)[expected]!r}; "
            f"first keys: {_head(sorted(state_dict), 5)})")
    raise CheckpointError(f"checkpoint{where} is a {KIND_NAMES[found]} checkpoint, expected a {label} checkpoint")


def strict_load(module: torch.nn.Module, state_dict, ignore_prefixes=(), source=None) -> None:
    """Loads ``state_dict`` into ``module`` after checking that the key sets and shapes match exactly.

    Keys of the checkpoint that start with one of ``ignore_prefixes`` are skipped. Any missing, unexpected or
    mis-shaped key raises :class:`CheckpointError`, whose message lists all three groups (the first 20 of each, with
    shapes) and the checkpoint path (``source``, or ``state_dict.source``). Tensors are cast to the dtype of the
    module's parameter or buffer they are loaded into.
    """
    src = _source_of(state_dict, source)
    expected = module.state_dict()
    given = check_fits(type(module).__name__, {k: v.shape for k, v in expected.items()}, state_dict,
                       ignore_prefixes, src)
    cast = {}
    for k, target in expected.items():
        v = given[k]
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"checkpoint{' ' + src if src else ''}: {k} is not a tensor")
        cast[k] = v.to(dtype=target.dtype) if v.dtype != target.dtype else v
    with torch.no_grad():
        module.load_state_dict(cast, strict=True)


def check_fits(what: str, expected: dict, state_dict, ignore_prefixes=(), src=None) -> dict:
    """Checks that ``state_dict`` (values with a ``.shape``: tensors or tensor references) holds exactly the keys of
    ``expected`` (key -> shape) with those shapes, ignoring keys that start with one of ``ignore_prefixes``. Returns the
    entries it kept; raises :class:`CheckpointError` listing missing, unexpected and mis-shaped keys (20 of each).
    ``what`` names the module in the message."""
    ignore = tuple(ignore_prefixes)
    given = {k: v for k, v in state_dict.items() if not (ignore and k.startswith(ignore))}
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    misshaped = [k for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k])]
    if missing or unexpected or misshaped:
        parts = [f"checkpoint{' ' + src if src else ''} does not fit {what}:"]
        if missing:
            parts.append(f"{len(missing)} missing key(s): "
                         + _head([f"{k} {_dims(expected[k])}" for k in missing]))
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): "
                         + _head([f"{k} {_shape(given[k])}" for k in unexpected]))
        if misshaped:
            parts.append(f"{len(misshaped)} mis-shaped key(s): "
                         + _head([f"{k} checkpoint {_shape(given[k])} vs model {_dims(expected[k])}"
                                  for k in misshaped]))
        raise CheckpointError("\n  ".join(parts))
    return given


def _source_of(state_dict, source):
    if source is not None:
        return str(source)
    return getattr(state_dict, "source", None)


def _shape(t) -> str:
    return _dims(t.shape)


def _dims(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _head(items, n: int = 20) -> str:
    items = list(items)
    s = ", ".join(items[:n])
    if len(items) > n:
        s += f", … ({len(items) - n} more)"
    return s

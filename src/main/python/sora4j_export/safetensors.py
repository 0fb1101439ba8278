"""Lazy reading of checkpoint tensors: a tensor is a :class:`TensorRef` (file, byte offset, dtype, shape) until it is
loaded, so an exporter can hold the index of a 19 GB checkpoint and read one block's tensors at a time.

:func:`open_safetensors` parses a ``.safetensors`` file's header (8-byte little-endian length, JSON) and returns one
:class:`TensorRef` per tensor; nothing of the data section is read. :meth:`TensorRef.load` reads just that tensor's
bytes with ``readinto`` straight into a new array, so the process holds one copy of it. (Copying out of a
``numpy.memmap`` would hold it twice at the moment of the copy: a mapping's touched pages count in the resident set,
VmHWM included, until it is unmapped.) ``BF16`` has no numpy dtype: it is read as ``uint16`` and widened to float32 by
a 16-bit shift, which is exact.

Only the safetensors dtypes below are accepted; the header is checked (offsets inside the data section, byte count =
element count x element size) before anything is read.
"""

import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch

__all__ = ["SafetensorsError", "TensorRef", "InMemoryRef", "open_safetensors", "ST_DTYPES"]

_MAX_HEADER = 100 * 1024 * 1024

# safetensors dtype -> (numpy dtype of the stored bytes, torch dtype the loaded tensor has)
ST_DTYPES = {
    "F64": (np.float64, torch.float64),
    "F32": (np.float32, torch.float32),
    "F16": (np.float16, torch.float16),
    "BF16": (np.uint16, torch.float32),  # widened on load
    "I64": (np.int64, torch.int64),
    "I32": (np.int32, torch.int32),
    "I16": (np.int16, torch.int16),
    "I8": (np.int8, torch.int8),
    "U8": (np.uint8, torch.uint8),
    "BOOL": (np.bool_, torch.bool),
}


class SafetensorsError(ValueError):
    """A file is not a well-formed safetensors file (the message names the file and what is wrong)."""


class TensorRef:
    """Where a tensor lives in a file: ``path``, absolute byte ``offset`` of its first element, ``stored`` dtype name
    (safetensors names: F32, F16, BF16, …), ``shape`` (a tuple), and for views into a larger storage the element
    ``strides`` (None = contiguous). :meth:`load` reads it."""

    __slots__ = ("path", "offset", "stored", "src_shape", "strides", "shape")

    def __init__(self, path, offset: int, stored: str, shape, strides=None):
        if stored not in ST_DTYPES:
            raise SafetensorsError(f"{path}: unsupported dtype {stored!r} (supported: {', '.join(ST_DTYPES)})")
        self.path = str(path)
        self.offset = int(offset)
        self.stored = stored
        self.src_shape = tuple(int(s) for s in shape)
        self.strides = None if strides is None else tuple(int(s) for s in strides)
        self.shape = self.src_shape

    @property
    def numel(self) -> int:
        return int(np.prod(self.src_shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes of the tensor's elements as stored."""
        return self.numel * np.dtype(ST_DTYPES[self.stored][0]).itemsize

    @property
    def dtype(self) -> torch.dtype:
        """The dtype :meth:`load` returns (BF16 is widened to float32)."""
        return ST_DTYPES[self.stored][1]

    def reshaped(self, shape) -> "TensorRef":
        """The same elements loaded as ``shape`` (same element count), e.g. a [C, C, 1, 1] conv weight as [C, C]."""
        shape = tuple(int(s) for s in shape)
        if int(np.prod(shape, dtype=np.int64)) != self.numel:
            raise SafetensorsError(f"cannot view {list(self.src_shape)} as {list(shape)}")
        r = TensorRef(self.path, self.offset, self.stored, self.src_shape, self.strides)
        r.shape = shape
        return r

    def load(self, dtype: torch.dtype = None) -> torch.Tensor:
        """A new tensor (owning its memory) with the stored values, cast to ``dtype`` when given."""
        if sys.byteorder != "little":
            raise RuntimeError("reading checkpoints needs a little-endian machine")
        np_dtype = ST_DTYPES[self.stored][0]
        itemsize = np.dtype(np_dtype).itemsize
        if self.numel == 0:
            arr = np.zeros(self.src_shape, dtype=np_dtype)
        elif self.strides is None:
            arr = _read(self.path, self.offset, self.numel, np_dtype).reshape(self.src_shape)
        else:  # a strided view into a storage: read the span it touches, copy the view out
            extent = 1 + sum((s - 1) * st for s, st in zip(self.src_shape, self.strides))
            span = _read(self.path, self.offset, extent, np_dtype)
            arr = np.array(np.lib.stride_tricks.as_strided(span, shape=self.src_shape,
                                                           strides=[s * itemsize for s in self.strides]))
            del span
        arr = arr.reshape(self.shape)
        if self.stored == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        t = torch.from_numpy(arr)
        if dtype is not None and t.dtype != dtype:
            t = t.to(dtype)
        return t

    def __repr__(self):
        return f"TensorRef({Path(self.path).name}@{self.offset}, {self.stored}, {list(self.shape)})"


def _read(path, offset: int, count: int, np_dtype) -> np.ndarray:
    """``count`` elements at byte ``offset`` of ``path``, read straight into a new array (no mapping: a mapping's
    pages count in the resident set while it exists, so copying out of one would hold the tensor twice)."""
    arr = np.empty(count, dtype=np_dtype)
    view = memoryview(arr).cast("B")
    with open(path, "rb", buffering=0) as f:
        f.seek(offset)
        done = 0
        while done < len(view):
            n = f.readinto(view[done:])
            if not n:
                raise SafetensorsError(f"{path}: file ends inside a tensor (offset {offset}, {count} elements)")
            done += n
    return arr


class InMemoryRef:
    """A tensor already in memory behind the :class:`TensorRef` interface (for checkpoints that cannot be read lazily:
    legacy, non-zip torch pickles)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    @property
    def shape(self):
        return tuple(self.tensor.shape)

    @property
    def dtype(self):
        return self.tensor.dtype

    @property
    def nbytes(self):
        return self.tensor.numel() * self.tensor.element_size()

    def reshaped(self, shape) -> "InMemoryRef":
        return InMemoryRef(self.tensor.reshape(shape))

    def load(self, dtype: torch.dtype = None) -> torch.Tensor:
        t = self.tensor
        return t.to(dtype) if dtype is not None and t.dtype != dtype else t


def read_header(path):
    """(header dict without ``__metadata__``, metadata dict, byte offset of the data section, data length)."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise SafetensorsError(f"not a safetensors file: {p} (too short)")
        (n,) = struct.unpack("<Q", raw)
        if n == 0 or n > _MAX_HEADER or 8 + n > size:
            raise SafetensorsError(f"not a safetensors file: {p} (bad header length {n})")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise SafetensorsError(f"not a safetensors file: {p} (header is not JSON: {e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"not a safetensors file: {p} (header is not an object)")
    metadata = header.pop("__metadata__", None) or {}
    return header, metadata, 8 + n, size - 8 - n


def open_safetensors(path):
    """(dict of name -> :class:`TensorRef` in header order, metadata dict). Reads only the header."""
    header, metadata, base, data_len = read_header(path)
    refs = {}
    for key, info in header.items():
        try:
            stored = info["dtype"]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except KeyError as e:
            raise SafetensorsError(f"bad safetensors entry {key!r} in {path}: missing field {e}") from None
        except (TypeError, ValueError) as e:
            raise SafetensorsError(f"bad safetensors entry {key!r} in {path}: {e}") from None
        if stored not in ST_DTYPES:
            raise SafetensorsError(f"bad safetensors entry {key!r} in {path}: unsupported dtype {stored!r}")
        ref = TensorRef(path, base + begin, stored, shape)
        if not (0 <= begin <= end <= data_len) or end - begin != ref.nbytes:
            raise SafetensorsError(
                f"bad safetensors entry {key!r} in {path}: offsets {begin}..{end} do not fit shape {shape} {stored}")
        refs[key] = ref
    return refs, metadata

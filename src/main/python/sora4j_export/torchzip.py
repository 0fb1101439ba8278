"""Lazy reading of torch's zip checkpoints (``torch.save`` since torch 1.6: ``pytorch_model.bin``, ``.pt``, ``.pth``).

Such a file is an uncompressed zip archive holding ``<root>/data.pkl`` (the pickled object, whose tensors refer to
storages by key) and one entry ``<root>/data/<key>`` per storage, raw little-endian. :func:`open_torch_zip` unpickles
``data.pkl`` with a restricted unpickler: storages become (file offset, dtype) records and tensors become
:class:`~sora4j_export.safetensors.TensorRef` views into them, so nothing but the pickle is read until a tensor is
loaded. (torch 1.13 has no ``torch.load(mmap=True)``.)

Only what state dicts contain is accepted: ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``,
``torch._utils._rebuild_parameter`` and the typed storage classes; any other global in the pickle raises
:class:`TorchZipError` (like ``torch.load(weights_only=True)``, nothing in the file is executed).
"""

import collections
import pickle
import struct
import zipfile
from pathlib import Path

from .safetensors import TensorRef

__all__ = ["TorchZipError", "is_torch_zip", "open_torch_zip"]

_STORAGE_DTYPES = {
    "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16", "DoubleStorage": "F64",
    "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8", "ByteStorage": "U8",
    "BoolStorage": "BOOL",
}


class TorchZipError(ValueError):
    """A torch zip checkpoint that cannot be read lazily (the message names the file and the reason)."""


def is_torch_zip(path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/data.pkl") or n == "data.pkl" for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Storage:
    __slots__ = ("offset", "stored", "numel")

    def __init__(self, offset, stored, numel):
        self.offset, self.stored, self.numel = offset, stored, numel


def _data_offset(f, info: zipfile.ZipInfo) -> int:
    """Byte offset of an entry's data: after its local header (30 bytes + name + extra field)."""
    f.seek(info.header_offset)
    local = f.read(30)
    if local[:4] != b"PK\x03\x04":
        raise TorchZipError(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


def open_torch_zip(path):
    """The unpickled object of a torch zip checkpoint with every tensor replaced by a :class:`TensorRef`."""
    p = Path(path)
    try:
        z = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as e:
        raise TorchZipError(f"{p}: not a zip archive ({e})") from None
    with z, open(p, "rb") as raw:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise TorchZipError(f"{p}: expected one data.pkl in the archive, found {len(pkl)}")
        root = pkl[0][: -len("data.pkl")]
        infos = {i.filename: i for i in z.infolist()}
        storages = {}

        def storage(key, stype, numel):
            if key in storages:
                return storages[key]
            info = infos.get(f"{root}data/{key}")
            if info is None:
                raise TorchZipError(f"{p}: storage {key} is not in the archive")
            if info.compress_type != zipfile.ZIP_STORED:
                raise TorchZipError(f"{p}: storage {key} is compressed; torch writes them uncompressed")
            s = _Storage(_data_offset(raw, info), _STORAGE_DTYPES[stype.name], int(numel))
            storages[key] = s
            return s

        def rebuild_tensor(st, storage_offset, size, stride, *rest):
            if not isinstance(st, _Storage):
                raise TorchZipError(f"{p}: tensor without a storage")
            size = tuple(int(s) for s in size)
            stride = tuple(int(s) for s in stride)
            ref = TensorRef(p, 0, st.stored, size)
            itemsize = ref.nbytes // ref.numel if ref.numel else 0
            ref.offset = st.offset + int(storage_offset) * itemsize
            contiguous, expect = True, 1
            for s, sd in zip(reversed(size), reversed(stride)):
                if s != 1 and sd != expect:
                    contiguous = False
                expect *= s
            if not contiguous:
                ref.strides = stride
            span = 1 + sum((s - 1) * sd for s, sd in zip(size, stride)) if ref.numel else 0
            if int(storage_offset) + span > st.numel:
                raise TorchZipError(f"{p}: tensor {list(size)} at {storage_offset} exceeds its storage of {st.numel}")
            return ref

        allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        }

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) in allowed:
                    return allowed[(module, name)]
                if module == "torch" and name in _STORAGE_DTYPES:
                    return _StorageType(name)
                raise TorchZipError(f"{p}: the pickle needs {module}.{name}, which a state dict does not hold "
                                    "(only tensors, parameters and ordered dicts can be read lazily)")

            def persistent_load(self, pid):
                if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
                    raise TorchZipError(f"{p}: unknown persistent id {pid!r:.80}")
                _, stype, key, _location, numel = pid[:5]
                if not isinstance(stype, _StorageType):
                    raise TorchZipError(f"{p}: unknown storage type {stype!r:.80}")
                return storage(str(key), stype, numel)

        with z.open(pkl[0]) as f:
            try:
                return Unpickler(f).load()
            except TorchZipError:
                raise
            except Exception as e:  # noqa: BLE001 - a corrupt pickle raises many kinds
                raise TorchZipError(f"{p}: cannot unpickle data.pkl ({type(e).__name__}: {e})") from None

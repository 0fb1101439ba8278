"""Test fixture: hostile block files for the TorchScript allowlist tests (Java: BlockArchiveTest; Python:
test_archive.py). Regenerate with

    PYTHONPATH=src/main/python python3 src/test/python/hostile_blocks.py

which writes src/test/resources/hostile/*.pt. Each file is a ``t5-final-norm`` block (tagged as ``t5.final_norm``, so
only the allowlist can stop it) whose forward returns its input unchanged after touching the file system the way a
crafted pack would:

* ``from_file.pt``: ``torch.from_file(MARKER, shared=True, size=4)``, which creates (or maps and so can overwrite) the
  file MARKER: run, it leaves MARKER behind, which the Java test uses as proof that the block really is hostile;
* ``from_file_hidden.pt``: the same call written as ``torch . from_file`` across a line continuation, with a decoy
  comment, to check that the scanner is not fooled by spacing;
* ``save.pt``: ``torch.save`` is not scriptable in torch 1.13, so this one calls ``ops.aten.save`` through an alias the
  printer would not write; it is never run, only scanned.
"""

import io
import sys
import zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "src" / "test" / "resources" / "hostile"
MARKER = "/tmp/sora4j-hostile-block-ran"
sys.path.insert(0, str(ROOT / "src" / "main" / "python"))

from sora4j_export.archive import block_tag  # noqa: E402
from sora4j_export.pack import _rewrite_archive  # noqa: E402


class FromFile(torch.nn.Module):
    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        s = torch.from_file("/tmp/sora4j-hostile-block-ran", True, 4, dtype=torch.uint8)
        return hidden + s.sum().float() * 0


def _archive(module) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buf)
    return buf.getvalue()


def _replace_source(data: bytes, old: str, new: str) -> bytes:
    """The archive with ``old`` replaced by ``new`` in its code (as an attacker would edit the .py entry)."""
    src, out = io.BytesIO(data), io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename.endswith(".py"):
                body = body.decode("utf-8").replace(old, new).encode("utf-8")
            zout.writestr(info.filename, body)
    return out.getvalue()


def blocks() -> dict:
    tag = block_tag("t5.final_norm", "t5", "t5-final-norm", 0)
    plain = _archive(FromFile())
    return {
        "from_file.pt": _rewrite_archive(plain, "final_norm", tag),
        "from_file_hidden.pt": _rewrite_archive(
            _replace_source(plain, "    s = torch.from_file(", "    # torch.add(\n    s = torch . \\\n      from_file("), "final_norm",
            tag),
        "save.pt": _rewrite_archive(
            _replace_source(plain, "torch.from_file(", "ops.aten.save(hidden, \"/tmp/x\")\n    _9 = torch.from_file("),
            "final_norm", tag),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in blocks().items():
        (OUT / name).write_bytes(data)
        print(f"wrote {OUT / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()

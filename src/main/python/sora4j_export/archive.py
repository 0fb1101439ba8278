"""What a block file may contain: the role tag and the TorchScript operator allowlist (docs/model-pack.md, "Threat
model").

A TorchScript file is a zip archive whose ``code/`` entries are TorchScript source that libtorch compiles when it
loads the file, so a pack's blocks are code. The Java side (``io.github.sora4j.pack.BlockArchive``) reads every
``.py`` entry of a block before libtorch sees it and refuses names the exporter never emits. This module is the
Python twin of that scanner: the exporter checks its own output with it, and ``python3 -m sora4j_export.archive
PACK…`` prints the names a pack uses (to update the allowlist when the exporter's modules change).

The scan is deliberately simple and conservative: the source is split into identifiers, ``.``, ``(`` and other
characters (whitespace, comments and string contents are *not* skipped, so a name hidden in a comment or string is
checked too). Chains ``a.b.c`` are then classified:

* starting with ``torch`` or ``ops``, or with ``__torch__.torch.classes`` (C++ custom classes): the whole chain must
  be in the ``op`` section of the allowlist, called or not;
* called (followed by ``(``), one name: a builtin (``call`` section), a ``def`` of the archive or a local alias
  ``_0``, ``_1``, … (the printer's names for values such as ``_0 = torch.linear``, whose chain is checked where it
  is assigned);
* called, several names (a method on a value, ``x.size(…)``) or reached through ``(expr).name(``: the last name must
  be a ``method`` of the allowlist or a ``def`` of the archive; chains starting with ``__torch__`` name the archive's
  own classes and functions and are allowed.

Each block also carries a tag entry ``<root>/extra/sora4j-block.json`` (``{"format": "sora4j-block", "version": 1,
"name", "set", "role", "order"}``), which torch ignores and sora4j checks against the manifest before the block
first runs, so a block file put in another block's place fails with "block X has role Y, expected Z".
"""

import io
import json
import re
import sys
import zipfile
from pathlib import Path

__all__ = ["TAG_ENTRY", "ALLOWLIST_PATH", "block_tag", "scan_source", "archive_names", "read_allowlist",
           "disallowed", "read_tag"]

TAG_ENTRY = "extra/sora4j-block.json"
ALLOWLIST_PATH = (Path(__file__).resolve().parents[2] / "main" / "resources" / "io" / "github" / "sora4j" / "pack"
                  / "torchscript-allowlist.txt")
if not ALLOWLIST_PATH.is_file():  # src/main/python/sora4j_export -> src/main/resources
    ALLOWLIST_PATH = (Path(__file__).resolve().parents[2] / "resources" / "io" / "github" / "sora4j" / "pack"
                      / "torchscript-allowlist.txt")

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9][A-Za-z0-9_.]*|\\\r?\n|\s+|.", re.S)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Python keywords are not names (``return (a, b)`` is no call); the same list as BlockArchive.KEYWORDS in Java
KEYWORDS = frozenset((
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield"))
_ALIAS = re.compile(r"_[0-9]+")


def block_tag(name: str, set_: str, role: str, order: int) -> bytes:
    """The bytes of a block's tag entry (compact JSON, sorted keys: deterministic)."""
    return json.dumps({"format": "sora4j-block", "version": 1, "name": name, "set": set_, "role": role,
                       "order": int(order)}, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _tokens(src: str):
    for m in _TOKEN.finditer(src):
        t = m.group(0)
        if t.isspace() or t.startswith("\\"):
            continue
        yield t


def scan_source(src: str):
    """(ops, calls, methods, defs) found in one TorchScript source: see the module doc."""
    toks = list(_tokens(src))
    ops, calls, methods, defs = set(), set(), set(), set()
    i = 0
    while i < len(toks):
        t = toks[i]
        if not _IDENT.fullmatch(t) or t in KEYWORDS:
            i += 1
            continue
        after_dot = i > 0 and toks[i - 1] == "."
        chain = [t]
        j = i + 1
        while j + 1 < len(toks) and toks[j] == "." and _IDENT.fullmatch(toks[j + 1]) and toks[j + 1] not in KEYWORDS:
            chain.append(toks[j + 1])
            j += 2
        called = j < len(toks) and toks[j] == "("
        prev = toks[i - 1] if i > 0 else None
        if prev in ("def", "class"):
            defs.add(t)
        elif after_dot:
            if called:
                methods.add(chain[-1])
        elif chain[0] in ("torch", "ops") or chain[:3] == ["__torch__", "torch", "classes"]:
            ops.add(".".join(chain))
        elif called and chain[0] != "__torch__":
            (calls if len(chain) == 1 else methods).add(chain[-1])
        i = j
    return ops, calls, methods, defs


def _stored_entries(data, want=lambda name: True):
    """(name, body) of the entries ``want`` accepts, from archive bytes or a path (only those bodies are read)."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    with zipfile.ZipFile(source) as z:
        for info in z.infolist():
            if want(info.filename):
                yield info.filename, z.read(info.filename)


def archive_names(data):
    """(ops, calls, methods, defs) of every ``.py`` entry of a TorchScript archive (bytes or a path)."""
    ops, calls, methods, defs = set(), set(), set(), set()
    for name, body in _stored_entries(data, lambda n: n.lower().endswith(".py")):
        if True:
            o, c, m, d = scan_source(body.decode("utf-8"))
            ops |= o
            calls |= c
            methods |= m
            defs |= d
    return ops, calls, methods, defs


def read_allowlist(path=None):
    """{section: set of names} of the allowlist file (``op NAME``, ``call NAME``, ``method NAME`` lines)."""
    out = {"op": set(), "call": set(), "method": set()}
    for line in Path(path or ALLOWLIST_PATH).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, name = line.split()
        out[kind].add(name)
    return out


def disallowed(data, allow=None):
    """Sorted names of a block archive that the allowlist does not allow (empty: the block passes)."""
    allow = allow or read_allowlist()
    ops, calls, methods, defs = archive_names(data)
    bad = {o for o in ops if o not in allow["op"]}
    bad |= {c for c in calls if c not in allow["call"] and c not in defs and not _ALIAS.fullmatch(c)}
    bad |= {m for m in methods if m not in allow["method"] and m not in defs}
    return sorted(bad)


def read_tag(data: bytes):
    """The parsed tag entry of a block archive, or None for a block exported before tags."""
    for name, body in _stored_entries(data):
        if name.split("/", 1)[-1] == TAG_ENTRY:
            return json.loads(body.decode("utf-8"))
    return None


def main(argv=None) -> int:
    """Prints, as allowlist lines, every name the block files of the given packs use."""
    sections = {"op": set(), "call": set(), "method": set()}
    for pack in (argv if argv is not None else sys.argv[1:]):
        for f in sorted(Path(pack).rglob("*.pt")):
            ops, calls, methods, defs = archive_names(f.read_bytes())
            sections["op"] |= ops
            sections["call"] |= {c for c in calls - defs if not _ALIAS.fullmatch(c)}
            sections["method"] |= methods - defs
    for kind in ("op", "call", "method"):
        for name in sorted(sections[kind]):
            print(kind, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Resuming an interrupted export (``export --resume``).

:func:`~sora4j_export.pack.write_pack` writes a pack into ``.<name>.partial-<pid>`` next to the output and renames it
into place only once the manifest is written, so an interrupted export never leaves a pack that looks complete. Each
block file is written whole or not at all (``save_scripted`` renames it into place), and after each block the writer
appends its manifest entry to a journal in the partial directory (:data:`JOURNAL`, one JSON line, flushed and synced).

With ``--resume``, an export that stops (Ctrl-C, ``kill``, a full disk, or a process killed outright) keeps its partial
directory, and the same command run again adopts it: the journal's first line must name the same export (the
checkpoints' paths, sizes and modification times, the dtype, int8, the pack's name and the block list), and every
journalled block whose file still has the recorded size and SHA-256 is kept rather than exported again. The journal is
removed before the manifest is written, so a finished pack holds no trace of it.
"""

import json
import os
import shutil
from pathlib import Path

JOURNAL = ".export-journal.jsonl"
_BLOCK_KEYS = ("name", "set", "role", "order", "file", "bytes", "parameterBytes", "dtype", "sha256")


class ResumeError(ValueError):
    """The partial export cannot be resumed by this command (it was made with other options or is damaged)."""


def source_identity(path) -> list:
    """What identifies a checkpoint for resuming: its resolved path, size and modification time (a file, or every
    file of a directory or sharded index's directory)."""
    p = Path(path).resolve()
    files = sorted(f for f in p.parent.iterdir() if f.is_file()) if p.is_file() and p.suffix == ".json" else (
        sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    return [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _read_journal(d: Path):
    """(header, entries) of a partial directory's journal; a last line cut short by a kill is ignored."""
    f = d / JOURNAL
    if not f.is_file():
        return None, []
    lines = f.read_text(encoding="utf-8").splitlines()
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:
                break  # the write was interrupted
            raise ResumeError(f"{f}: line {i + 1} is not JSON") from None
    if not records or not isinstance(records[0], dict) or "export" not in records[0]:
        return None, []
    return records[0]["export"], [r for r in records[1:] if isinstance(r, dict) and set(_BLOCK_KEYS) <= set(r)]


def adopt_partial(out: Path, tmp: Path, key: dict, sha256_file, log=None) -> dict:
    """Finds the partial directory an interrupted export of ``out`` left (its process no longer running), moves it to
    ``tmp`` and returns the journalled blocks that are intact, by name. Returns {} when there is none. Raises
    :class:`ResumeError` when it was made by another export (``key`` differs), leaving it where it was."""
    candidates = []
    for d in out.parent.glob(f".{out.name}.partial-*"):
        try:
            pid = int(d.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if d.is_dir() and pid != os.getpid() and not _pid_alive(pid):
            header, entries = _read_journal(d)
            candidates.append((len(entries) if header is not None else -1, d, header, entries))
    if not candidates:
        return {}
    candidates.sort(key=lambda c: c[0], reverse=True)
    _, d, header, entries = candidates[0]
    if header is None:
        if log:
            log(f"  {d} has no export journal (an export without --resume): starting over")
        return {}
    if header != key:
        diff = sorted(k for k in set(header) | set(key) if header.get(k) != key.get(k))
        raise ResumeError(f"--resume: the partial export {d} was made with other options or checkpoints "
                          f"(different: {', '.join(diff)}); rerun the command it was started with, or run without "
                          f"--resume to start over (that removes it)")
    for _, other, _, _ in candidates[1:]:
        shutil.rmtree(other, ignore_errors=True)
    os.replace(d, tmp)
    for leftover in list(tmp.rglob("*.jit-tmp")) + list(tmp.rglob("*.pt.tmp")):
        leftover.unlink()
    kept = {}
    for e in entries:
        f = tmp / e["file"]
        if f.is_file() and f.stat().st_size == e["bytes"] and sha256_file(f) == e["sha256"]:
            kept[e["name"]] = {k: e[k] for k in _BLOCK_KEYS}
        elif log:
            log(f"  {e['file']} is missing or changed: exporting it again")
    if log:
        log(f"  resuming the export in {d}: {len(kept)} of its blocks are kept")
    return kept


class Journal:
    """Appends the export's header, then one manifest entry per finished block, to :data:`JOURNAL` in ``d``."""

    def __init__(self, d: Path, key: dict, kept: dict):
        self.path = d / JOURNAL
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(json.dumps({"export": key}, sort_keys=True) + "\n")
            for e in kept.values():
                f.write(json.dumps(e, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def record(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({k: entry[k] for k in _BLOCK_KEYS}, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

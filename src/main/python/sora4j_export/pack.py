"""Writing, reading and verifying model packs (docs/model-pack.md).

A pack is written into a temporary sibling directory and renamed into place at the end, so a failed export leaves
nothing half-written behind.

Reproducibility: ``torch.jit.save`` (torch 1.13) writes zip entries with a fixed date (1980-01-01) and a deterministic
layout, so the same weights give the same bytes, with two caveats found by experiment:

* the root folder inside the zip is the file's stem (``block_00/…``), so a block's bytes depend on its file name
  (pack files have fixed names, so this is harmless);
* the order of ``Final`` constants in the generated TorchScript code follows the iteration order of a Python ``set``
  of names, i.e. of ``PYTHONHASHSEED``. Two processes give identical bytes only with the same ``PYTHONHASHSEED``;
  ``python3 -m sora4j_export`` therefore re-executes itself with ``PYTHONHASHSEED=0`` when the variable is unset.

Within one process, exporting the same weights twice gives byte-identical packs.

A third caveat is handled here: TorchScript's ``*.debug_pkl`` entries record the absolute path of the Python source
the module was scripted from, so the bytes would depend on where the repository is checked out. :func:`save_scripted`
drops those entries (they only serve source locations in TorchScript error messages; torch and DJL load the files
without them) and rewrites the archive with fixed dates, so a pack's sha256s are the same in every checkout.
"""

import contextlib
import copy
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch

from .archive import TAG_ENTRY, block_tag, disallowed, read_tag
from .blocks import BlockSpec
from .quantize import quantize_t5_int8, quantized_parameter_bytes
from .tokenizer import max_token_id

__all__ = [
    "PackError", "FORMAT", "FORMAT_VERSION", "DEFAULT_SAMPLING", "WEIGHT_DTYPES", "ROLES",
    "write_pack", "read_manifest", "verify_pack", "sha256_file", "save_scripted", "retag_pack", "sign_pack",
    "generate_signing_key", "SIGNATURE",
]

FORMAT = "sora4j-pack"
FORMAT_VERSION = 1
FAMILY = "open-sora-v1.2"
SETS = ("t5", "stdit", "vae")
ROLES = {
    "t5": ("t5-embed", "t5-block", "t5-final-norm"),
    "stdit": ("stdit-embed", "stdit-block", "stdit-final"),
    "vae": ("vae-temporal", "vae-spatial"),
}
WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16}
DEFAULT_SAMPLING = {
    "numTimesteps": 1000,
    "steps": 30,
    "guidanceScale": 7.0,
    "timestepTransform": True,
    "transformScale": 1.0,
    "fps": 24,
    "aestheticScore": 6.5,
}
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
NULL_EMBEDDING = "null_embedding.npy"
SIGNATURE = "manifest.json.sig"
_FILE_RE = re.compile(r"^[a-z0-9]+(/[A-Za-z0-9_.-]+)+\.pt$")


class PackError(Exception):
    """A pack cannot be written, or a pack on disk is incomplete, corrupt or not a pack."""


# ------------------------------------------------------------------------------------------------------------ helpers
def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


_MISSING = object()


def _get(cfg, *names, default=_MISSING):
    """The first of ``names`` found on ``cfg`` (attribute, dict key, or key of ``cfg.to_dict()``)."""
    d = cfg if isinstance(cfg, dict) else None
    for n in names:
        if d is not None and n in d:
            return d[n]
        if d is None and hasattr(cfg, n):
            return getattr(cfg, n)
    if d is None and hasattr(cfg, "to_dict"):
        td = cfg.to_dict()
        for n in names:
            if n in td:
                return td[n]
    if default is _MISSING:
        raise PackError(f"{type(cfg).__name__} has none of the fields {', '.join(names)}")
    return default


def _floats(values):
    return [float(v) for v in values]


def _text_section(t5_config, max_length: int, int8: bool) -> dict:
    return {
        "modelMaxLength": int(max_length),
        "dModel": int(_get(t5_config, "d_model")),
        "numBlocks": int(_get(t5_config, "num_layers", "num_blocks")),
        "numHeads": int(_get(t5_config, "num_heads")),
        "padTokenId": int(_get(t5_config, "pad_token_id", default=0)),
        "eosTokenId": int(_get(t5_config, "eos_token_id", default=1)),
        "tokenizer": TOKENIZER,
        "int8": bool(int8),
    }


def _stdit_section(stdit_config) -> dict:
    pred_sigma = bool(_get(stdit_config, "pred_sigma", default=True))
    in_ch = int(_get(stdit_config, "in_channels", default=4))
    out_ch = _get(stdit_config, "out_channels", default=None)
    return {
        "hiddenSize": int(_get(stdit_config, "hidden_size")),
        "depth": int(_get(stdit_config, "depth")),
        "numHeads": int(_get(stdit_config, "num_heads")),
        "patchSize": [int(p) for p in _get(stdit_config, "patch_size")],
        "inChannels": in_ch,
        "outChannels": int(out_ch) if out_ch is not None else (2 * in_ch if pred_sigma else in_ch),
        "captionChannels": int(_get(stdit_config, "caption_channels")),
        "inputSqSize": int(_get(stdit_config, "input_sq_size", default=512)),
        "nullEmbedding": NULL_EMBEDDING,
    }


def _vae_scale_shift(vae_model, vae_config):
    out = []
    for name in ("scale", "shift"):
        value = _get(vae_config, name, default=None)
        buf = None
        for mod in (vae_model, getattr(vae_model, "module", None)):
            if mod is not None and isinstance(getattr(mod, name, None), torch.Tensor):
                buf = getattr(mod, name).detach().float().flatten()
                break
        if value is None and buf is None:
            raise PackError(f"VAE {name} is neither in the config nor a buffer of the model")
        if value is not None:
            value = _floats(value if isinstance(value, (list, tuple)) else [value])
            if buf is not None and not torch.equal(torch.tensor(value, dtype=torch.float32), buf):
                value = None  # the checkpoint's buffer wins
        out.append(value if value is not None else [float(v) for v in buf.tolist()])
    return out


def _vae_section(vae_model, vae_config) -> dict:
    if hasattr(vae_config, "manifest_dict"):
        d = dict(vae_config.manifest_dict())
        d["scale"], d["shift"] = _vae_scale_shift(vae_model, vae_config)
        return d
    scale, shift = _vae_scale_shift(vae_model, vae_config)
    return {
        "latentChannels": int(_get(vae_config, "latent_channels", "out_channels", "z_channels", default=4)),
        "scale": scale,
        "shift": shift,
        "temporalCompression": int(_get(vae_config, "temporal_compression", default=4)),
        "spatialCompression": int(_get(vae_config, "spatial_compression", default=8)),
        "microFrameSize": int(_get(vae_config, "micro_frame_size", default=17)),
        "microZFrameSize": int(_get(vae_config, "micro_z_frame_size", default=5)),
        "spatialMicroBatch": int(_get(vae_config, "spatial_micro_batch", "micro_batch_size", default=4)),
        "spatialScalingFactor": float(_get(vae_config, "spatial_scaling_factor", "scaling_factor", default=0.18215)),
    }


def _check_specs(specs) -> None:
    names, files = set(), set()
    for s in specs:
        if not isinstance(s, BlockSpec):
            raise PackError(f"not a BlockSpec: {s!r}")
        if s.set not in SETS or s.role not in ROLES[s.set]:
            raise PackError(f"block {s.name}: role {s.role!r} does not belong to set {s.set!r}")
        if not _FILE_RE.match(s.file) or not s.file.startswith(s.set + "/"):
            raise PackError(f"block {s.name}: bad file name {s.file!r} (expected {s.set}/<name>.pt)")
        if s.name in names or s.file in files:
            raise PackError(f"duplicate block name or file: {s.name} / {s.file}")
        names.add(s.name)
        files.add(s.file)
    for st in SETS:
        if not any(s.set == st for s in specs):
            raise PackError(f"no {st} blocks")
        for role in ROLES[st]:
            orders = sorted(s.order for s in specs if s.role == role)
            if orders != list(range(len(orders))):
                raise PackError(f"{role} block orders must be 0..{len(orders) - 1}, got {orders}")


def _block_sort_key(b):
    """Manifest order: set (t5, stdit, vae), then role in pipeline order, then ``order`` (orders count per role)."""
    st, role, order = (b.set, b.role, b.order) if isinstance(b, BlockSpec) else (b["set"], b["role"], b["order"])
    return SETS.index(st), ROLES[st].index(role), order


def _prepare_block(spec: BlockSpec, dtype: torch.dtype, int8: bool, copy_module: bool = True):
    """A frozen, eval-mode copy of the block module cast to its stored dtype; returns (module, dtype name).
    With ``copy_module=False`` (streaming export: the block's weights are dropped after it is written) a float cast
    happens in place and only int8 quantization copies."""
    m = (copy.deepcopy(spec.module) if copy_module else spec.module).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    has_linear = any(isinstance(x, torch.nn.Linear) for x in m.modules())
    if int8 and spec.set == "t5" and has_linear:
        # int8 blocks keep every non-Linear weight in float32: dynamic int8 Linears take float32 activations
        return quantize_t5_int8(m, inplace=copy_module), "int8"
    if dtype != torch.float32:
        m = m.to(dtype)
    return m, {torch.float32: "float32", torch.float16: "float16"}[dtype]


def _blank_or_absent(p: Path) -> bool:
    return not p.exists() or (p.is_dir() and not any(p.iterdir()))


# ------------------------------------------------------------------------------------------------------------- writing
def save_scripted(scripted, target, tag: bytes = None) -> None:
    """``torch.jit.save`` without the path-dependent ``*.debug_pkl`` entries, deterministically (see module doc),
    with the block's role tag (``archive.block_tag``) as the last entry ``<root>/extra/sora4j-block.json``.
    Goes through files next to ``target``, entry by entry, so a 772 MB block is never copied in memory; the bytes
    are those ``_rewrite_archive`` makes of the same archive."""
    target = Path(target)
    raw = target.with_name(target.name + ".jit-tmp")
    tmp = target.with_name(target.name + ".tmp")
    # The root folder inside the archive is named after the file, as torch.jit.save(path) would name it.
    stem = target.stem
    try:
        torch.jit.save(scripted, str(raw))
        with zipfile.ZipFile(raw) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                if info.filename.endswith(".debug_pkl"):
                    continue
                name = stem + info.filename[info.filename.index("/"):]
                if tag is not None and name == f"{stem}/{TAG_ENTRY}":
                    continue
                entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_STORED
                entry.external_attr = 0o644 << 16
                entry.file_size = info.file_size  # as writestr sets it, so the header bytes are the same
                with zin.open(info) as src, zout.open(entry, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
            if tag is not None:
                entry = zipfile.ZipInfo(f"{stem}/{TAG_ENTRY}", date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_STORED
                entry.external_attr = 0o644 << 16
                zout.writestr(entry, tag)
        os.replace(tmp, target)
    finally:
        for p in (raw, tmp):
            if p.exists():
                p.unlink()


def _rewrite_archive(data: bytes, stem: str, tag: bytes = None) -> bytes:
    """The archive with stored entries, fixed dates, no ``*.debug_pkl``, root folder ``stem`` and (when given) the
    tag entry replacing any earlier one; the same bytes whether the archive comes from torch or from this function."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        entries = [(stem + i.filename[i.filename.index("/"):], zin.read(i.filename)) for i in zin.infolist()
                   if not i.filename.endswith(".debug_pkl")]
        if tag is not None:
            entries = [e for e in entries if e[0] != f"{stem}/{TAG_ENTRY}"] + [(f"{stem}/{TAG_ENTRY}", tag)]
        for name, body in entries:
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_STORED
            entry.external_attr = 0o644 << 16
            zout.writestr(entry, body)
    return out.getvalue()


def _check_archive(label: str, data) -> None:
    """PackError when a block (archive bytes or path) uses a name outside the TorchScript allowlist (archive.py)."""
    bad = disallowed(data)
    if bad:
        raise PackError(f"block {label} uses {', '.join(bad)}, which the TorchScript allowlist "
                        f"(src/main/resources/io/github/sora4j/pack/torchscript-allowlist.txt) does not allow; sora4j "
                        f"would refuse the block (if the exporter's own modules changed, regenerate the allowlist with "
                        f"python3 -m sora4j_export.archive)")


def write_pack(out_dir, *, name: str, description: str = "", t5_model, t5_config, stdit_model, stdit_config,
               vae_model, vae_config, tokenizer_json_path, weight_dtype: str = "float32", t5_int8: bool = False,
               sampling: dict = None, overwrite: bool = False, log=None, architecture: dict = None,
               materialize=None, request: dict = None, vocabulary=None, resume: dict = None) -> dict:
    """Exports the three models as a pack in ``out_dir`` and returns the manifest (a dict).

    Blocks come from ``t5_blocks``, ``stdit_blocks`` and ``vae_blocks``; each is copied, cast to ``weight_dtype``
    (``"float32"`` or ``"float16"``; with ``t5_int8`` the T5 blocks that hold Linears are int8-quantized from float32
    instead), scripted and saved. ``sampling`` overrides entries of :data:`DEFAULT_SAMPLING`. ``log`` is an optional
    ``print``-like callable for progress lines. ``architecture`` (optional, JSON-able) is stored as the manifest's
    ``architecture`` object: the full model configs, which readers of the pack may use (e.g. FLOP models) and the
    library itself ignores.

    ``materialize`` (streaming export, ``streaming.py``): a callable ``spec -> context manager`` that puts the block's
    weights in place on entry and drops them on exit; blocks are then not copied, so memory holds one block at a time.
    ``request`` (optional, ``{"frames", "width", "height"}``) is the request the model was
    trained for, which requests that leave frames and size unset get; ``vocabulary`` (optional, a list of words) is
    stored as ``text.vocabulary``: the closed vocabulary the model was trained on (prompt words outside it are
    reported as unknown).

    ``resume`` (optional, JSON-able: what identifies the export's sources, see ``resume.py``): the partial directory of
    an interrupted export with the same sources and options is adopted and its intact blocks kept, and an interruption
    (Ctrl-C, SIGTERM, an OSError such as a full disk) keeps the partial directory so that the same call can resume it.
    """
    from . import resume as resuming
    from .stdit3 import null_embedding, stdit_blocks
    from .t5 import t5_blocks
    from .vae import vae_blocks

    if weight_dtype not in WEIGHT_DTYPES:
        raise PackError(f"unsupported weight dtype {weight_dtype!r} (use one of {', '.join(WEIGHT_DTYPES)})")
    dtype = WEIGHT_DTYPES[weight_dtype]
    unknown = set(sampling or {}) - set(DEFAULT_SAMPLING)
    if unknown:
        raise PackError(f"unknown sampling keys: {', '.join(sorted(unknown))}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PackError(f"output {out} exists and is not a directory")
    if not overwrite and not _blank_or_absent(out):
        raise PackError(f"output directory {out} is not empty (pass overwrite=True / --overwrite to replace it)")
    tok_path = Path(tokenizer_json_path)
    if not tok_path.is_file():
        raise PackError(f"tokenizer not found: {tok_path}")
    try:
        tok_data = json.loads(tok_path.read_text(encoding="utf-8"))
        if not isinstance(tok_data, dict) or "model" not in tok_data:
            raise ValueError("no 'model' entry")
    except (ValueError, UnicodeDecodeError) as e:
        raise PackError(f"not a tokenizers JSON: {tok_path} ({e})") from None
    vocab_size = _get(t5_config, "vocab_size", default=None)
    top = max_token_id(tok_data)
    if vocab_size is not None and top >= int(vocab_size):
        raise PackError(f"tokenizer {tok_path} produces ids up to {top} but the T5 embedding has {vocab_size} rows")

    null = null_embedding(stdit_model).detach().to(torch.float32).cpu()
    if null.dim() != 2:
        raise PackError(f"null embedding must be [model_max_length, caption_channels], got {list(null.shape)}")

    specs = list(t5_blocks(t5_model)) + list(stdit_blocks(stdit_model)) + list(vae_blocks(vae_model))
    _check_specs(specs)
    specs.sort(key=_block_sort_key)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    key = None if resume is None else json.loads(json.dumps({
        "sources": resume, "name": name, "description": description, "weightDtype": weight_dtype,
        "t5Int8": bool(t5_int8), "blocks": [[s.name, s.file] for s in specs]}, sort_keys=True))
    try:
        kept = resuming.adopt_partial(out, tmp, key, sha256_file, log) if key is not None else {}
    except resuming.ResumeError as e:
        raise PackError(str(e)) from None
    try:
        tmp.mkdir(exist_ok=True)
        journal = resuming.Journal(tmp, key, kept)
        blocks = []
        for spec in specs:
            if spec.name in kept:
                blocks.append(kept[spec.name])
                continue
            with (materialize(spec) if materialize else contextlib.nullcontext()):
                module, dname = _prepare_block(spec, dtype, t5_int8, copy_module=materialize is None)
                param_bytes = quantized_parameter_bytes(module)
                target = tmp / spec.file
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    scripted = torch.jit.script(module)
                except Exception as e:  # noqa: BLE001 - TorchScript raises many kinds
                    raise PackError(f"block {spec.name} cannot be scripted: {str(e).strip().splitlines()[0]}") from e
                save_scripted(scripted, target, block_tag(spec.name, spec.set, spec.role, spec.order))
                del scripted, module
            _check_archive(spec.name, target)
            blocks.append({
                "name": spec.name, "set": spec.set, "role": spec.role, "order": int(spec.order), "file": spec.file,
                "bytes": target.stat().st_size, "parameterBytes": int(param_bytes), "dtype": dname,
                "sha256": sha256_file(target),
            })
            journal.record(blocks[-1])
            if log:
                log(f"  {spec.file}  {blocks[-1]['bytes']:,} bytes  {dname}")
        journal.remove()

        np.save(str(tmp / NULL_EMBEDDING), null.numpy().astype(np.float32, copy=False), allow_pickle=False)
        shutil.copyfile(tok_path, tmp / TOKENIZER)
        files = [{"file": f, "bytes": (tmp / f).stat().st_size, "sha256": sha256_file(tmp / f)}
                 for f in (NULL_EMBEDDING, TOKENIZER)]

        manifest = {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "name": name,
            "family": FAMILY,
            "description": description,
            "weightDtype": weight_dtype,
            "text": _text_section(t5_config, null.shape[0], t5_int8),
            "stdit": _stdit_section(stdit_config),
            "vae": _vae_section(vae_model, vae_config),
            "sampling": {**DEFAULT_SAMPLING, **(sampling or {})},
            "blocks": blocks,
            "files": files,
        }
        if architecture is not None:
            manifest["architecture"] = architecture
        if request is not None:
            manifest["request"] = {k: int(request[k]) for k in ("frames", "width", "height")}
        if vocabulary is not None:
            manifest["text"]["vocabulary"] = list(vocabulary)
        if manifest["stdit"]["captionChannels"] != null.shape[1]:
            raise PackError(f"null embedding has {null.shape[1]} channels, STDiT caption_channels is "
                            f"{manifest['stdit']['captionChannels']}")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _move_into_place(tmp, out, overwrite)
    except (KeyboardInterrupt, OSError):
        if key is not None and (tmp / resuming.JOURNAL).is_file() and not (tmp / MANIFEST).exists():
            if log:
                log(f"  stopped: the blocks written so far stay in {tmp}; run the same command with --resume to "
                    f"continue")
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.exists():
        if not overwrite and not _blank_or_absent(out):
            raise PackError(f"output directory {out} is not empty")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


# ------------------------------------------------------------------------------------------------------------- reading
def read_manifest(pack_dir) -> dict:
    """The parsed ``manifest.json`` of a pack; PackError when absent, not JSON, or not a version-1 sora4j pack."""
    d = Path(pack_dir)
    if not d.is_dir():
        raise PackError(f"pack directory not found: {d}")
    mf = d / MANIFEST
    if not mf.is_file():
        raise PackError(f"not a model pack: {d} has no {MANIFEST}")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise PackError(f"{mf} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackError(f"{mf}: format is not {FORMAT!r}")
    if manifest.get("formatVersion") != FORMAT_VERSION:
        raise PackError(f"{mf}: unsupported formatVersion {manifest.get('formatVersion')!r} (expected {FORMAT_VERSION})")
    return manifest


def _inside(root: Path, p: Path) -> bool:
    try:
        p.resolve(strict=True).relative_to(root.resolve(strict=True))
        return True
    except (ValueError, OSError):
        return False


def _archive_problems(entry: dict, data: bytes):
    """Role-tag and allowlist problems of one block file (what the Java side checks before the block first runs)."""
    label = entry.get("name")
    try:
        tag = read_tag(data)
        bad = disallowed(data)
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as e:
        return [f"block {label}: not a readable TorchScript archive ({e})"]
    out = [f"block {label} uses {', '.join(bad)}, which the TorchScript allowlist does not allow"] if bad else []
    if tag is not None:
        for key in ("name", "set", "role", "order"):
            if tag.get(key) != entry.get(key):
                out.append(f"block {label} has {key} {tag.get(key)!r} in its tag, the manifest says "
                           f"{entry.get(key)!r}")
    return out


def verify_pack(pack_dir, check_hashes: bool = True) -> dict:
    """Checks a pack on disk: manifest readable, every listed block and file present inside the pack with the listed
    size and sha256, block names/files unique, each set present with orders 0..n-1 and known roles, and every block's
    role tag and TorchScript names (archive.py). Returns the manifest; raises
    PackError listing every problem found."""
    d = Path(pack_dir)
    manifest = read_manifest(d)
    problems = []
    for key in ("name", "weightDtype", "text", "stdit", "vae", "sampling", "blocks", "files"):
        if key not in manifest:
            problems.append(f"manifest lacks {key!r}")
    blocks = manifest.get("blocks") or []
    files = manifest.get("files") or []
    seen_names, seen_files = set(), set()
    for i, b in enumerate(blocks):
        label = b.get("name", f"blocks[{i}]")
        st, role = b.get("set"), b.get("role")
        if st not in ROLES or role not in ROLES[st]:
            problems.append(f"block {label}: unknown set/role {st!r}/{role!r}")
        if b.get("dtype") not in ("float32", "float16", "int8"):
            problems.append(f"block {label}: unknown dtype {b.get('dtype')!r}")
        if b.get("name") in seen_names:
            problems.append(f"block {label}: duplicate name")
        seen_names.add(b.get("name"))
    for st in SETS:
        if not any(b.get("set") == st for b in blocks):
            problems.append(f"no {st} blocks")
        for role in ROLES[st]:
            orders = [b.get("order") for b in blocks if b.get("role") == role]
            if orders != list(range(len(orders))):
                problems.append(f"{role} blocks are not listed in order 0..{len(orders) - 1}: {orders}")
    if not problems:
        keys = [_block_sort_key(b) for b in blocks]
        if keys != sorted(keys):
            problems.append("blocks are not listed set by set (t5, stdit, vae) in pipeline order")
    for entry in list(blocks) + list(files):
        rel = entry.get("file")
        if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in Path(rel).parts:
            problems.append(f"bad file name {rel!r}")
            continue
        if rel in seen_files:
            problems.append(f"{rel}: listed twice")
        seen_files.add(rel)
        p = d / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
            continue
        if not _inside(d, p):
            problems.append(f"{rel}: resolves outside the pack (symbolic link?)")
            continue
        size = p.stat().st_size
        if size != entry.get("bytes"):
            problems.append(f"{rel}: {size} bytes, manifest says {entry.get('bytes')}")
            continue
        if check_hashes and sha256_file(p) != entry.get("sha256"):
            problems.append(f"{rel}: sha256 does not match the manifest")
            continue
        if entry in blocks:
            problems.extend(_archive_problems(entry, p.read_bytes()))
    for section, field in (("text", "tokenizer"), ("stdit", "nullEmbedding")):
        named = (manifest.get(section) or {}).get(field)
        if named is not None and named not in seen_files:
            problems.append(f"{section}.{field} names {named!r}, which is not in files")
    if problems:
        raise PackError(f"pack {d} failed verification ({len(problems)} problem(s)):\n  " + "\n  ".join(problems))
    return manifest

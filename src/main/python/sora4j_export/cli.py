"""Command line: ``python3 -m sora4j_export {export,tiny,bench,references,verify} …``.

  export --t5 PATH --stdit PATH --vae PATH --tokenizer PATH --out DIR [--dtype float32|float16] [--t5-int8]
         [--name N] [--description D] [--overwrite] [--resume] [--sign-key PEM]
      [--t5-config JSON] [--stdit-config JSON] [--vae-config JSON]
      Real checkpoints (file, sharded index or directory). The T5 config comes from --t5-config, else the Hugging
      Face config.json next to the T5 weights, else T5Config.xxl(); STDiT uses --stdit-config or
      STDiT3Config.xl2(), the VAE --vae-config or VAEConfig.v1_2(). Every checkpoint is checked strictly (VAE encoder
      keys, the VAE scale/shift buffers and T5 decoder keys are ignored) on its header before anything is written,
      then streamed one block at a time (streaming.py). --tokenizer: a tokenizer.json, T5's spiece.model (converted,
      tokenizer.py), or a directory holding either.

  tiny --out DIR [--seed N] [--dtype float32|float16] [--t5-int8] [--name N] [--overwrite] [--sign-key PEM]
      A pack of seeded random tiny models with the project's word-level tokenizer (tiny.py's builder and writer:
      with --seed 0 and the defaults, the committed tiny-random pack byte for byte).

  bench --out DIR [--seed N] [--overwrite]
      The bench pack (bench.py): Open-Sora v1.2's shapes at the paper's token counts (68 frames at 256x256: 5,120
      tokens per sample, T5 on 300 tokens) with cut widths and depth, seeded random weights; for benchmarks/.

  references [--seed N] [--pack-out DIR] [--ref-out DIR] [--no-pack] [--no-refs]
      Regenerates the committed tiny-random pack and its reference files (same as ``python3 -m sora4j_export.tiny``);
      the defaults are the repository's src/main/resources/…/packs/tiny-random and src/test/resources/reference/
      tiny-random.

  verify DIR
      Checks sizes and sha256 of every file a pack lists, that files stay inside the pack, and every block's role tag
      and TorchScript names (archive.py).

  With --sign-key, export and tiny also write manifest.json.sig (trust.py; keys: python3 -m sora4j_export.trust keygen).

Errors print one line (``sora4j_export: error: …``) and exit with status 2; nothing is left half-written.
"""

import argparse
import contextlib
import json
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError, check_kind, read_state_dict, strict_load
from .pack import WEIGHT_DTYPES, PackError, verify_pack, write_pack

PROG = "sora4j_export"
# T5 checkpoints of a full encoder-decoder model carry these; the encoder does not use them
T5_IGNORED_PREFIXES = ("decoder.", "lm_head.")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Turns Open-Sora v1.2 checkpoints into sora4j model packs.")
    sub = p.add_subparsers(dest="command", metavar="{export,tiny,bench,references,verify}", parser_class=_Parser)
    sub.required = True
    dtypes = ", ".join(WEIGHT_DTYPES)

    e = sub.add_parser("export", help="export real checkpoints as a pack")
    e.add_argument("--t5", required=True, metavar="PATH", help="T5 encoder weights (file, index or directory)")
    e.add_argument("--stdit", required=True, metavar="PATH", help="STDiT3 weights")
    e.add_argument("--vae", required=True, metavar="PATH", help="VAE weights")
    e.add_argument("--tokenizer", required=True, metavar="PATH", help="tokenizer.json, T5's spiece.model, or a directory "
                                                                      "holding either")
    e.add_argument("--out", required=True, metavar="DIR", help="pack directory to create")
    e.add_argument("--dtype", default="float32", metavar="DTYPE", help=f"stored weight dtype ({dtypes})")
    e.add_argument("--t5-int8", action="store_true", help="int8 dynamic quantization of the T5 Linears")
    e.add_argument("--t5-config", metavar="JSON", help="T5 config (HF config.json keys); default: the config.json "
                                                       "next to the T5 weights, else T5-v1.1-XXL")
    e.add_argument("--stdit-config", metavar="JSON", help="STDiT3 config (STDiT3Config keys); default XL/2")
    e.add_argument("--vae-config", metavar="JSON", help="VAE config (VAEConfig.to_dict keys); default v1.2")
    e.add_argument("--name", default=None, help="pack name (default open-sora-v1.2-<dtype>[-t5int8])")
    e.add_argument("--description", default=None, help="pack description")
    e.add_argument("--overwrite", action="store_true", help="replace an existing non-empty output directory")
    e.add_argument("--resume", action="store_true", help="continue an interrupted export of the same command (keeps "
                                                         "the blocks it wrote), and keep this one's blocks if it is "
                                                         "interrupted")
    e.add_argument("--sign-key", metavar="PEM", help="sign the manifest with this Ed25519 private key "
                                                     "(python3 -m sora4j_export.trust keygen; needs python3-cryptography)")

    t = sub.add_parser("tiny", help="write a pack of seeded random tiny models")
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--seed", default="0", metavar="N", help="random seed (default 0)")
    t.add_argument("--dtype", default="float32", metavar="DTYPE", help=f"stored weight dtype ({dtypes})")
    t.add_argument("--t5-int8", action="store_true")
    t.add_argument("--name", default=None, help="pack name (default tiny-random)")
    t.add_argument("--overwrite", action="store_true")
    t.add_argument("--sign-key", metavar="PEM", help="sign the manifest with this Ed25519 private key")

    b = sub.add_parser("bench", help="write the bench pack (real token counts, cut widths)")
    b.add_argument("--out", required=True, metavar="DIR")
    b.add_argument("--seed", default="0", metavar="N", help="random seed (default 0)")
    b.add_argument("--overwrite", action="store_true")

    r = sub.add_parser("references", help="regenerate the committed tiny-random pack and reference files")
    r.add_argument("--seed", default="0", metavar="N", help="random seed (default 0, the committed one)")
    r.add_argument("--pack-out", default=None, metavar="DIR", help="pack directory (replaced; default: the "
                                                                   "repository's packs/tiny-random)")
    r.add_argument("--ref-out", default=None, metavar="DIR", help="reference directory (default: the repository's "
                                                                  "src/test/resources/reference/tiny-random)")
    r.add_argument("--no-pack", action="store_true", help="only write the references")
    r.add_argument("--no-refs", action="store_true", help="only write the pack")

    v = sub.add_parser("verify", help="check a pack's files against its manifest")
    v.add_argument("dir", metavar="DIR")
    return p


@contextlib.contextmanager
def _term_as_interrupt():
    """SIGTERM (``kill``) ends an export like Ctrl-C: write_pack removes its partial directory (keeps it with
    --resume), exit status 130."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None) -> int:
    with _term_as_interrupt():
        return _main(argv)


def _main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "verify":
            manifest = verify_pack(args.dir)
            print(f"ok: {args.dir}: {manifest['name']}, {len(manifest['blocks'])} blocks, "
                  f"{sum(b['bytes'] for b in manifest['blocks']):,} bytes of blocks")
            return 0
        if args.command == "references":
            return write_references(args)
        if args.command == "bench":
            from . import bench

            manifest = bench.write_bench_pack(args.out, seed=_seed(args), overwrite=args.overwrite)
            print(f"wrote {args.out}: {len(manifest['blocks'])} blocks, "
                  f"{sum(b['bytes'] for b in manifest['blocks']):,} bytes of blocks")
            return 0
        if args.dtype not in WEIGHT_DTYPES:
            raise UsageError(f"unsupported --dtype {args.dtype!r} (use one of {', '.join(WEIGHT_DTYPES)})")
        if args.command == "tiny":
            manifest = export_tiny(args)
        else:
            manifest = export_real(args)
        print(f"wrote {args.out}: {len(manifest['blocks'])} blocks, "
              f"{sum(b['bytes'] for b in manifest['blocks']):,} bytes of blocks")
        if args.sign_key:
            from .trust import sign_pack

            print(f"signed: {sign_pack(args.out, args.sign_key)}")
        return 0
    except (UsageError, CheckpointError, PackError) as e:
        msg = " ".join(str(e).split()) if isinstance(e, UsageError) else str(e)
        lines = msg.splitlines() or [""]
        print(f"{PROG}: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:  # detail lines (lists of keys, pack problems)
            print(f"  {line.strip()}", file=sys.stderr)
        return 2
    except OSError as e:  # permissions, full disk, …: still one line, nothing half-written (write_pack cleans up)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


# ------------------------------------------------------------------------------------------------------------ tiny
def _seed(args) -> int:
    try:
        return int(args.seed)
    except ValueError:
        raise UsageError(f"--seed must be an integer, got {args.seed!r}") from None


def export_tiny(args) -> dict:
    """tiny.py's models and writer (the one code path of tiny packs): with the defaults and ``--seed 0`` this is the
    committed tiny-random pack, byte for byte under the same PYTHONHASHSEED."""
    from . import tiny

    m = tiny.build_tiny_models(_seed(args))
    return tiny.write_tiny_pack(args.out, m, name=args.name or tiny.PACK_NAME, weight_dtype=args.dtype,
                                t5_int8=args.t5_int8, overwrite=args.overwrite)


def write_references(args) -> int:
    """``references``: regenerate the committed tiny-random pack and reference files (tiny.write_committed)."""
    from . import tiny

    if args.no_pack and args.no_refs:
        raise UsageError("--no-pack and --no-refs together leave nothing to write")
    for flag, path, default in (("--pack-out", args.pack_out, tiny.PACK_DIR), ("--ref-out", args.ref_out,
                                                                                 tiny.REF_DIR)):
        if path is None and not (tiny.REPO_ROOT / "src" / "main" / "python" / "sora4j_export").is_dir():
            raise UsageError(f"{flag}: not running from a sora4j source tree, so there is no default ({default}); "
                             f"pass {flag} DIR")
    tiny.write_committed(_seed(args), args.pack_out or tiny.PACK_DIR, args.ref_out or tiny.REF_DIR,
                         pack=not args.no_pack, refs=not args.no_refs)
    return 0


# ------------------------------------------------------------------------------------------------------------ export
def _existing(path: str, flag: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{flag}: not found: {path}")
    return p


def _config_json(flag: str, path: Path, factory):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return factory(data)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise UsageError(f"{flag}: bad config {path}: {e}") from None


def _configs(args, t5_path: Path):
    from .stdit3 import STDiT3Config
    from .t5 import T5Config
    from .vae import VAEConfig

    if args.t5_config:
        t5 = _config_json("--t5-config", _existing(args.t5_config, "--t5-config"), T5Config.from_hf_config)
    else:
        beside = (t5_path if t5_path.is_dir() else t5_path.parent) / "config.json"
        t5 = _config_json("--t5", beside, T5Config.from_hf_config) if beside.is_file() else T5Config.xxl()
    stdit = (_config_json("--stdit-config", _existing(args.stdit_config, "--stdit-config"), STDiT3Config.from_dict)
             if args.stdit_config else STDiT3Config.xl2())
    vae = (_config_json("--vae-config", _existing(args.vae_config, "--vae-config"), VAEConfig.from_dict)
           if args.vae_config else VAEConfig.v1_2())
    return t5, stdit, vae


def _tie_t5_embeddings(sd) -> None:
    """HF T5 ties ``encoder.embed_tokens.weight`` to ``shared.weight``; safetensors exports keep only one."""
    a, b = "shared.weight", "encoder.embed_tokens.weight"
    if a in sd and b not in sd:
        sd[b] = sd[a]
    elif b in sd and a not in sd:
        sd[a] = sd[b]


def _prepare_vae_refs(refs, cfg):
    """The VAE checkpoint's scale/shift buffers (two small tensors, loaded) must match the config, from which the
    manifest is written and Java de-normalises latents; legacy diffusers attention names are renamed (1x1-conv
    shaped weights viewed as linear)."""
    from .vae import _LEGACY_ATTENTION, _LEGACY_ATTENTION_RE

    src = getattr(refs, "source", "")
    if "scale" in refs and "shift" in refs:
        for label, want in (("scale", cfg.scale), ("shift", cfg.shift)):
            got = [float(x) for x in refs[label].load(torch.float32).reshape(-1)]
            if len(got) != len(want) or any(abs(a - b) > 1e-5 for a, b in zip(got, want)):
                raise CheckpointError(f"checkpoint {src} has VAE {label} {got}, the v1.2 config says {list(want)}")
    out = type(refs)(source=src, metadata=getattr(refs, "metadata", None))
    for k, v in refs.items():
        m = _LEGACY_ATTENTION_RE.match(k)
        if m:
            k = f"{m.group(1)}.{_LEGACY_ATTENTION[m.group(2)]}.{m.group(3)}"
            if m.group(3) == "weight" and len(v.shape) == 4:
                v = v.reshaped(v.shape[:2])
        if k in out:
            raise CheckpointError(f"checkpoint {src}: has both legacy and current names for {k}")
        out[k] = v
    return out


def _tokenizer_json(tok: Path, given: str, out: Path, log) -> Path:
    """--tokenizer: a tokenizer.json, a SentencePiece spiece.model (converted, tokenizer.py), or a directory holding
    either (tokenizer.json preferred). A converted file is written next to the pack's partial directory."""
    from .tokenizer import write_t5_tokenizer_json

    if tok.is_dir():
        if (tok / "tokenizer.json").is_file():
            return tok / "tokenizer.json"
        if not (tok / "spiece.model").is_file():
            raise UsageError(f"--tokenizer: neither tokenizer.json nor spiece.model in {given}")
        tok = tok / "spiece.model"
    if tok.suffix == ".json":
        return tok
    target = out.parent / f".{out.name}.tokenizer.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_t5_tokenizer_json(tok, target)
    except ValueError as e:
        raise UsageError(f"--tokenizer: {e}") from None
    log(f"  converted {tok} to a tokenizers JSON")
    return target


def _remove_stale_partials(out: Path, log) -> None:
    """write_pack writes into ``.<name>.partial-<pid>`` next to ``out`` and removes it on failure; a process killed
    outright (SIGKILL, power loss) cannot, so leftovers of dead processes are removed before a new export of ``out``."""
    import os
    import shutil

    if not out.parent.is_dir():
        return
    for d in out.parent.glob(f".{out.name}.partial-*"):
        try:
            pid = int(d.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
            continue  # its process is alive (another export): leave it
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        log(f"  removing {d} (left by an export that was killed)")
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _no_weight_init():
    """Skip the random initialisation of Linear/Conv/Embedding weights while building models whose every parameter a
    strict load overwrites (saves minutes for the 4.7 B-parameter T5-XXL). Buffers are built as usual."""
    classes = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Embedding)
    saved = {c: c.reset_parameters for c in classes}
    try:
        for c in classes:
            c.reset_parameters = lambda self: None
        yield
    finally:
        for c, f in saved.items():
            c.reset_parameters = f


def export_real(args) -> dict:
    """The streaming export (streaming.py): checkpoints opened lazily and checked before anything is written, then one
    block at a time loaded, cast, scripted, saved and freed."""
    import time

    from .stdit3 import STDiT3
    from .streaming import Materializer, open_checkpoint, to_meta
    from .t5 import T5Encoder
    from .vae import IGNORED_CHECKPOINT_PREFIXES, VideoVAEDecoder

    started = time.monotonic()
    t5_path = _existing(args.t5, "--t5")
    stdit_path = _existing(args.stdit, "--stdit")
    vae_path = _existing(args.vae, "--vae")
    tok = _existing(args.tokenizer, "--tokenizer")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not args.overwrite)):
        raise UsageError(f"--out: {args.out} exists and is not an empty directory (pass --overwrite to replace it)")
    t5_config, stdit_config, vae_config = _configs(args, t5_path)
    log = (lambda line: print(line, file=sys.stderr))

    # skeletons: parameters on the meta device (the VAE has no device argument: built empty, then moved)
    with _no_weight_init():
        vae = to_meta(VideoVAEDecoder(vae_config).eval())
    stdit = STDiT3(stdit_config, device="meta").eval()
    t5 = T5Encoder(t5_config, device="meta").eval()

    def shapes(model):
        return {k: tuple(v.shape) for k, v in model.state_dict().items()}

    def tie(refs):
        _tie_t5_embeddings(refs)
        return refs

    # smallest first, so that a wrong file fails before the big ones are even opened
    vae_refs = open_checkpoint("--vae", vae_path, "vae", shapes(vae), IGNORED_CHECKPOINT_PREFIXES, log,
                               prepare=lambda r: _prepare_vae_refs(r, vae_config))
    stdit_refs = open_checkpoint("--stdit", stdit_path, "stdit", shapes(stdit), (), log)
    t5_refs = open_checkpoint("--t5", t5_path, "t5", shapes(t5), T5_IGNORED_PREFIXES, log, prepare=tie)
    tok_json = _tokenizer_json(tok, args.tokenizer, out, log)
    resume = None
    if args.resume:
        from .resume import source_identity

        resume = {"t5": source_identity(t5_path), "stdit": source_identity(stdit_path),
                  "vae": source_identity(vae_path), "tokenizer": source_identity(tok),
                  "configs": [t5_config.to_dict(), stdit_config.to_dict(), vae_config.to_dict()]}
    else:
        _remove_stale_partials(out, log)
    try:
        # the CFG null caption (4.9 MB) is written by write_pack from the STDiT model
        stdit.y_embedder._buffers["y_embedding"] = stdit_refs["y_embedder.y_embedding"].load(torch.float32)
        name = args.name or f"open-sora-v1.2-{args.dtype}" + ("-t5int8" if args.t5_int8 else "")
        description = args.description or (
            f"Open-Sora v1.2 (T5 {'int8' if args.t5_int8 else args.dtype}, STDiT3-XL/2 and VAE {args.dtype}) "
            f"exported by sora4j_export from {t5_path.name}, {stdit_path.name}, {vae_path.name}")
        materializer = Materializer([(t5, t5_refs), (stdit, stdit_refs), (vae, vae_refs)])
        manifest = write_pack(out, name=name, description=description, t5_model=t5, t5_config=t5_config,
                              stdit_model=stdit, stdit_config=stdit_config, vae_model=vae, vae_config=vae_config,
                              tokenizer_json_path=tok_json, weight_dtype=args.dtype, t5_int8=args.t5_int8,
                              overwrite=args.overwrite, log=log, materialize=materializer, resume=resume)
    finally:
        if tok_json.name.startswith(f".{out.name}.") and tok_json.exists():
            tok_json.unlink()
    loads = sum(t["loadSeconds"] for t in materializer.timings)
    log(f"exported {len(manifest['blocks'])} blocks in {time.monotonic() - started:.1f} s "
        f"({loads:.1f} s reading checkpoints)")
    return manifest

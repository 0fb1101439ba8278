"""Publisher signatures and role tags of existing packs (docs/model-pack.md, "Threat model").

* ``sign_pack`` writes ``manifest.json.sig``: the Base64 Ed25519 signature of the exact bytes of ``manifest.json``.
  The manifest lists the sha256 of every file, so the signature covers the whole pack; Java's
  ``ModelPack.open(dir, PackTrust.signedBy(key))`` checks it before anything else is read.
* ``generate_signing_key`` writes a key pair: the private key as unencrypted PKCS#8 PEM (keep it secret), the public
  key as X.509 SubjectPublicKeyInfo PEM (give it to users; Java reads it with ``PackTrust.readPublicKey``).
* ``retag_pack`` adds the role tag (archive.py) to the blocks of a pack written before tags existed, keeping every
  other archive entry (weights, code) byte for byte, and updates the manifest's sizes and sha256s.

Signing needs the ``cryptography`` package (Debian: python3-cryptography), imported only here.

Command line: ``python3 -m sora4j_export.trust keygen PRIVATE.pem PUBLIC.pem``, ``… sign PACK PRIVATE.pem``,
``… retag PACK``.
"""

import base64
import json
import os
import sys
from pathlib import Path

from .archive import block_tag, read_tag
from .pack import MANIFEST, SIGNATURE, PackError, _rewrite_archive, read_manifest, sha256_file, verify_pack

__all__ = ["sign_pack", "verify_signature", "generate_signing_key", "retag_pack"]


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise PackError("signing needs the Python package 'cryptography' (Debian: apt install "
                        "python3-cryptography)") from e
    return serialization, ed25519


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def generate_signing_key(private_pem, public_pem) -> None:
    """Writes a new Ed25519 key pair (the private key owner-only, 0600); refuses to overwrite either file."""
    serialization, ed25519 = _crypto()
    for p in (Path(private_pem), Path(public_pem)):
        if p.exists():
            raise PackError(f"{p} exists; not overwriting a key")
    key = ed25519.Ed25519PrivateKey.generate()
    _write_atomic(Path(private_pem), key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()), 0o600)
    _write_atomic(Path(public_pem), key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def sign_pack(pack_dir, private_pem) -> Path:
    """Verifies the pack (sizes, sha256s, tags, allowlist), then writes ``manifest.json.sig``; returns its path."""
    serialization, ed25519 = _crypto()
    d = Path(pack_dir)
    verify_pack(d)
    try:
        key = serialization.load_pem_private_key(Path(private_pem).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise PackError(f"cannot read the Ed25519 private key {private_pem}: {e}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise PackError(f"{private_pem} is not an Ed25519 private key")
    signature = key.sign((d / MANIFEST).read_bytes())
    out = d / SIGNATURE
    _write_atomic(out, base64.b64encode(signature) + b"\n")
    return out


def verify_signature(pack_dir, public_pem) -> bool:
    """Whether ``manifest.json.sig`` is a valid signature of ``manifest.json`` by the key in ``public_pem``."""
    serialization, _ = _crypto()
    from cryptography.exceptions import InvalidSignature

    d = Path(pack_dir)
    key = serialization.load_pem_public_key(Path(public_pem).read_bytes())
    try:
        key.verify(base64.b64decode((d / SIGNATURE).read_bytes().strip(), validate=True), (d / MANIFEST).read_bytes())
        return True
    except (InvalidSignature, ValueError, OSError):
        return False


def retag_pack(pack_dir) -> int:
    """Adds the role tag to every block of a verified pack, in place; returns how many blocks changed. The blocks'
    other entries keep their bytes, so the model computes exactly what it computed before. A signature is removed
    (it no longer matches the manifest)."""
    d = Path(pack_dir)
    manifest = verify_pack(d)
    changed = 0
    for b in manifest["blocks"]:
        p = d / b["file"]
        data = p.read_bytes()
        tag = block_tag(b["name"], b["set"], b["role"], b["order"])
        new = _rewrite_archive(data, p.stem, tag)
        if new == data:
            continue
        if read_tag(data) not in (None, json.loads(tag)):
            raise PackError(f"block {b['name']} already has another tag: {read_tag(data)}")
        _write_atomic(p, new)
        b["bytes"], b["sha256"] = len(new), sha256_file(p)
        changed += 1
    if changed:
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        _write_atomic(d / MANIFEST, text.encode("utf-8"))
        (d / SIGNATURE).unlink(missing_ok=True)
    verify_pack(d)
    return changed


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["keygen"] and len(args) == 3:
            generate_signing_key(args[1], args[2])
            print(f"wrote {args[1]} (private, keep it secret) and {args[2]} (public)")
        elif args[:1] == ["sign"] and len(args) == 3:
            print(f"wrote {sign_pack(args[1], args[2])}")
        elif args[:1] == ["retag"] and len(args) == 2:
            print(f"tagged {retag_pack(args[1])} block(s) of {read_manifest(args[1])['name']}")
        else:
            print("usage: python3 -m sora4j_export.trust {keygen PRIVATE.pem PUBLIC.pem | sign PACK PRIVATE.pem | "
                  "retag PACK}", file=sys.stderr)
            return 2
        return 0
    except PackError as e:
        print(f"sora4j_export.trust: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

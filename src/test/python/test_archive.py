"""archive.py and trust.py: role tags, the TorchScript allowlist (the Python twin of Java's BlockArchive), publisher
signatures and retagging."""

import base64
import json
import os
import shutil
import tempfile
import unittest
from pathlib import Path

from sora4j_export import archive as A
from sora4j_export import pack as P
from sora4j_export import trust as T

import hostile_blocks

ROOT = Path(__file__).resolve().parents[3]
PACKS = ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs"
HOSTILE = ROOT / "src" / "test" / "resources" / "hostile"
SIGNING = ROOT / "src" / "test" / "resources" / "signing"
# The same vector as PackSignatureTest.VECTOR (Java): Ed25519 is deterministic, so both sides must agree.
VECTOR = "NG51X69i47e3UaxU7S9ak9OZVGBhNH3MRwMyGc8DQADDG+IfacpDu877Psy2S2m8FtHQCHotqPwSO8C8njsiDQ=="


class ScannerTest(unittest.TestCase):
    def test_a_chain_of_torch_names_is_an_op_called_or_not(self):
        ops, calls, methods, defs = A.scan_source("def forward(self, x):\n  f = torch.from_file\n  return f(x)\n")
        self.assertEqual(ops, {"torch.from_file"})
        self.assertEqual(defs, {"forward"})
        self.assertEqual(calls, {"f"})

    def test_spacing_and_line_continuations_do_not_hide_a_name(self):
        ops, *_ = A.scan_source("s = torch . \\\n   from_file('x')\n")
        self.assertEqual(ops, {"torch.from_file"})

    def test_names_in_comments_and_strings_are_checked_too(self):
        ops, *_ = A.scan_source("# torch.save(x)\ny = 'ops.aten.save'\n")
        self.assertEqual(ops, {"torch.save", "ops.aten.save"})

    def test_keywords_are_not_calls(self):
        _, calls, _, _ = A.scan_source("return (a, b) if not (c) else (d)\n")
        self.assertEqual(calls, set())

    def test_methods_on_values_and_custom_classes(self):
        ops, _, methods, _ = A.scan_source("(self).evil(x)\ny = __torch__.torch.classes.io.File()\n")
        self.assertEqual(methods, {"evil"})
        self.assertEqual(ops, {"__torch__.torch.classes.io.File"})


class AllowlistTest(unittest.TestCase):
    def test_the_embedded_packs_pass_and_carry_tags_that_match_their_manifests(self):
        for name in ("demo", "tiny-random"):
            m = P.verify_pack(PACKS / name)
            for b in m["blocks"]:
                data = (PACKS / name / b["file"]).read_bytes()
                self.assertEqual(A.disallowed(data), [], b["name"])
                self.assertEqual(A.read_tag(data), json.loads(A.block_tag(b["name"], b["set"], b["role"], b["order"])))

    def test_every_exporter_variant_passes_the_allowlist(self):
        # write_pack refuses a block whose code leaves the allowlist, so writing is the test
        from sora4j_export.tiny import build_tiny_models, write_tiny_pack
        with tempfile.TemporaryDirectory() as d:
            m = write_tiny_pack(Path(d) / "p", build_tiny_models(1), weight_dtype="float16", t5_int8=True)
            self.assertEqual({b["dtype"] for b in m["blocks"]}, {"float16", "int8"})
            for b in m["blocks"]:
                self.assertEqual(A.disallowed((Path(d) / "p" / b["file"]).read_bytes()), [], b["name"])

    def test_the_hostile_fixtures_are_refused(self):
        want = {"from_file.pt": ["torch.from_file", "torch.sum"],
                "from_file_hidden.pt": ["torch.from_file", "torch.sum"],
                "save.pt": ["ops.aten.save", "torch.from_file", "torch.sum"]}
        for name, data in hostile_blocks.blocks().items():
            self.assertEqual(A.disallowed(data), want[name], name)
            committed = (HOSTILE / name).read_bytes()
            self.assertEqual(A.archive_names(committed), A.archive_names(data), f"{name}: regenerate the fixture")

    def test_verify_reports_a_hostile_block_and_a_swapped_role(self):
        with tempfile.TemporaryDirectory() as d:
            pack = Path(d) / "p"
            shutil.copytree(PACKS / "tiny-random", pack)
            m = json.loads((pack / "manifest.json").read_text())
            for b in m["blocks"]:
                if b["file"] in ("t5/final_norm.pt", "stdit/final.pt"):
                    src = HOSTILE / "from_file.pt" if b["file"] == "t5/final_norm.pt" else pack / "t5/embed.pt"
                    data = src.read_bytes()
                    (pack / b["file"]).write_bytes(data)
                    b["bytes"], b["sha256"] = len(data), P.sha256_file(pack / b["file"])
            (pack / "manifest.json").write_text(json.dumps(m))
            with self.assertRaises(P.PackError) as e:
                P.verify_pack(pack)
            msg = str(e.exception)
            self.assertIn("block t5.final_norm uses torch.from_file, torch.sum", msg)
            self.assertIn("block stdit.final has role 't5-embed' in its tag, the manifest says 'stdit-final'", msg)


class TrustTest(unittest.TestCase):
    def test_python_signs_exactly_as_java_does(self):
        from cryptography.hazmat.primitives import serialization
        key = serialization.load_pem_private_key((SIGNING / "test-key.pem").read_bytes(), password=None)
        self.assertEqual(base64.b64encode(key.sign(b"sora4j signature test vector")).decode(), VECTOR)

    def test_a_signed_pack_verifies_and_a_changed_manifest_does_not(self):
        with tempfile.TemporaryDirectory() as d:
            pack = Path(d) / "p"
            shutil.copytree(PACKS / "tiny-random", pack)
            T.sign_pack(pack, SIGNING / "test-key.pem")
            self.assertTrue(T.verify_signature(pack, SIGNING / "test-key.pub.pem"))
            text = (pack / "manifest.json").read_text().replace('"steps": 30', '"steps": 29')
            (pack / "manifest.json").write_text(text)
            self.assertFalse(T.verify_signature(pack, SIGNING / "test-key.pub.pem"))

    def test_the_exporter_signs_what_it_writes_with_sign_key(self):
        import contextlib
        import io
        from sora4j_export import cli
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()):
            out = Path(d) / "p"
            self.assertEqual(cli.main(["tiny", "--out", str(out), "--seed", "2", "--sign-key",
                                       str(SIGNING / "test-key.pem")]), 0)
            self.assertTrue(T.verify_signature(out, SIGNING / "test-key.pub.pem"))

    def test_keygen_writes_an_owner_only_private_key_and_refuses_to_overwrite(self):
        with tempfile.TemporaryDirectory() as d:
            priv, pub = Path(d) / "k.pem", Path(d) / "k.pub.pem"
            T.generate_signing_key(priv, pub)
            self.assertEqual(os.stat(priv).st_mode & 0o777, 0o600)
            self.assertTrue(pub.read_text().startswith("-----BEGIN PUBLIC KEY-----"))
            with self.assertRaises(P.PackError):
                T.generate_signing_key(priv, Path(d) / "other.pem")

    def test_retagging_a_pack_exported_before_tags_restores_the_exporters_bytes(self):
        with tempfile.TemporaryDirectory() as d:
            pack = Path(d) / "p"
            shutil.copytree(PACKS / "tiny-random", pack)
            m = json.loads((pack / "manifest.json").read_text())
            for b in m["blocks"]:  # strip the tags, as an old exporter wrote the blocks
                p = pack / b["file"]
                data = P._rewrite_archive(p.read_bytes(), p.stem)
                stripped = _without_tag(data, p.stem)
                p.write_bytes(stripped)
                b["bytes"], b["sha256"] = len(stripped), P.sha256_file(p)
            (pack / "manifest.json").write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
            self.assertIsNone(A.read_tag((pack / "t5/embed.pt").read_bytes()))
            self.assertEqual(T.retag_pack(pack), len(m["blocks"]))
            for b in m["blocks"]:
                self.assertEqual((pack / b["file"]).read_bytes(), (PACKS / "tiny-random" / b["file"]).read_bytes())
            self.assertEqual((pack / "manifest.json").read_bytes(),
                             (PACKS / "tiny-random" / "manifest.json").read_bytes())


def _without_tag(data: bytes, stem: str) -> bytes:
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if info.filename != f"{stem}/{A.TAG_ENTRY}":
                zout.writestr(info, zin.read(info.filename))
    return out.getvalue()


if __name__ == "__main__":
    unittest.main()

"""sora4j_export.upgrade: STDiT pairs exported before forward_merged get it, with their own weights."""

import io
import json
import shutil
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export import pack as P
from sora4j_export import upgrade as U

ROOT = Path(__file__).resolve().parents[3]
PACKS = ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs"
OLD = ROOT / "src" / "test" / "resources" / "old-pack" / "tiny-random"
PAIRS = ("stdit/block_00.pt", "stdit/block_01.pt")


def _old_pack(d: Path) -> Path:
    """The committed tiny-random pack with the STDiT pairs as the exporter wrote them before forward_merged."""
    pack = d / "p"
    shutil.copytree(PACKS / "tiny-random", pack)
    m = json.loads((pack / "manifest.json").read_text())
    for b in m["blocks"]:
        if b["file"] in PAIRS:
            shutil.copyfile(OLD / b["file"], pack / b["file"])
            b["bytes"], b["sha256"] = (pack / b["file"]).stat().st_size, P.sha256_file(pack / b["file"])
    (pack / "manifest.json").write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    (pack / P.SIGNATURE).write_text("stale\n")
    return pack


class UpgradeTest(unittest.TestCase):
    def test_old_pairs_get_forward_merged_with_the_same_tensors_and_forward(self):
        with tempfile.TemporaryDirectory() as d:
            pack = _old_pack(Path(d))
            old = {f: torch.jit.load(str(pack / f)) for f in PAIRS}
            self.assertFalse(any(U._has_method(m, U.MERGED_METHOD) for m in old.values()))
            self.assertEqual(U.upgrade_pack(pack, log=lambda _: None), 2)
            self.assertFalse((pack / P.SIGNATURE).exists())  # it no longer matches the manifest
            P.verify_pack(pack)
            g = torch.Generator().manual_seed(1)
            x, y, t_mlp = torch.randn(2, 20, 64, generator=g), torch.randn(2, 3, 64, generator=g), \
                torch.randn(2, 384, generator=g)
            for f in PAIRS:
                new = torch.jit.load(str(pack / f))
                self.assertTrue(U._has_method(new, U.MERGED_METHOD))
                want, got = old[f].state_dict(), new.state_dict()
                self.assertEqual(list(want), list(got))
                for k in want:
                    self.assertTrue(torch.equal(want[k], got[k]) and want[k].dtype == got[k].dtype, k)
                with torch.no_grad():
                    self.assertTrue(torch.equal(old[f](x, y, t_mlp, torch.tensor(5)),
                                                new(x, y, t_mlp, torch.tensor(5))))
                    merged = new.forward_merged(x, y, t_mlp, torch.tensor([[2, 2, 1], [2, 2, 1]]))
                self.assertEqual(tuple(merged.shape), (2, 20, 64))
            # the rest of the pack is untouched; a second run changes nothing
            for b in json.loads((pack / "manifest.json").read_text())["blocks"]:
                if b["file"] not in PAIRS:
                    self.assertEqual((pack / b["file"]).read_bytes(), (PACKS / "tiny-random" / b["file"]).read_bytes())
            before = (pack / "manifest.json").read_bytes()
            self.assertEqual(U.upgrade_pack(pack, log=lambda _: None), 0)
            self.assertEqual((pack / "manifest.json").read_bytes(), before)

    def test_the_committed_packs_need_no_upgrade(self):
        for name in ("tiny-random", "demo"):
            m = P.read_manifest(PACKS / name)
            for b in m["blocks"]:
                if b["role"] == "stdit-block":
                    module = torch.jit.load(io.BytesIO((PACKS / name / b["file"]).read_bytes()))
                    self.assertTrue(U._has_method(module, U.MERGED_METHOD), (name, b["file"]))

    def test_a_corrupt_pack_is_refused_before_anything_is_written(self):
        with tempfile.TemporaryDirectory() as d:
            pack = _old_pack(Path(d))
            (pack / PAIRS[1]).write_bytes((pack / PAIRS[1]).read_bytes()[:-1] + b"x")
            before = (pack / PAIRS[0]).read_bytes()
            with self.assertRaises(P.PackError):
                U.upgrade_pack(pack, log=lambda _: None)
            self.assertEqual((pack / PAIRS[0]).read_bytes(), before)
            self.assertEqual(U.main([str(Path(d) / "missing")]), 2)


if __name__ == "__main__":
    unittest.main()

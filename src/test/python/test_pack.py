"""pack.py: writing a tiny pack, its manifest, verification, atomic writes, reproducibility, reload of the weights,
and the int8 T5 error."""

import json
import os
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from sora4j_export import pack as P
from sora4j_export.tiny import build_tiny_models
from sora4j_export.quantize import measure_int8_error, quantize_t5_int8, quantized_parameter_bytes
from sora4j_export.stdit3 import null_embedding, stdit_blocks
from sora4j_export.t5 import t5_blocks
from sora4j_export.tokenizer import WordLevelTokenizer, write_tokenizer_json
from sora4j_export.vae import vae_blocks

SEED = 3


def tiny_models(seed=SEED):
    """(t5, t5_config, stdit, stdit_config, vae, vae_config) of tiny.build_tiny_models(seed)."""
    m = build_tiny_models(seed)
    return m.t5, m.t5_config, m.stdit, m.stdit_config, m.vae, m.vae_config


def write_tiny(out, models, tok, **kw):
    t5, t5c, st, stc, vae, vaec = models
    return P.write_pack(out, name=kw.pop("name", "tiny-test"), description="test", t5_model=t5, t5_config=t5c,
                        stdit_model=st, stdit_config=stc, vae_model=vae, vae_config=vaec, tokenizer_json_path=tok,
                        **kw)


def all_specs(models):
    t5, _, st, _, vae, _ = models
    return list(t5_blocks(t5)) + list(stdit_blocks(st)) + list(vae_blocks(vae))


def pack_state_dicts(pack_dir, models):
    """{index in models (0 t5, 2 stdit, 4 vae): state_dict rebuilt from the pack's scripted blocks} for (t5, stdit, vae): each block's tensors
    are mapped back to the model keys of the parameters/buffers its source module shares with the model."""
    manifest = P.read_manifest(pack_dir)
    by_file = {b["file"]: b for b in manifest["blocks"]}
    out = {}
    for idx, fn in ((0, t5_blocks), (2, stdit_blocks), (4, vae_blocks)):
        model = models[idx]
        owner = {}
        for k, v in model.state_dict(keep_vars=True).items():
            owner.setdefault(id(v), []).append(k)
        rebuilt = {}
        for spec in fn(model):
            loaded = torch.jit.load(str(Path(pack_dir) / spec.file)).state_dict()
            assert spec.file in by_file
            for k, v in spec.module.state_dict(keep_vars=True).items():
                for mk in owner.get(id(v), []):
                    rebuilt[mk] = loaded[k].detach().clone()
        if idx == 2:  # the CFG null caption lives in null_embedding.npy, not in a block
            rebuilt["y_embedder.y_embedding"] = torch.from_numpy(np.load(Path(pack_dir) / "null_embedding.npy"))
        out[idx] = rebuilt
    return out


class PackTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        cls.tok = write_tokenizer_json(cls.root / "tokenizer.json")
        cls.models = tiny_models()
        cls.pack = cls.root / "pack"
        cls.manifest = write_tiny(cls.pack, cls.models, cls.tok)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()


class ManifestTest(PackTestBase):
    def test_layout_and_manifest(self):
        m = self.manifest
        self.assertEqual(json.loads((self.pack / "manifest.json").read_text()), m)
        self.assertEqual(list(m), ["format", "formatVersion", "name", "family", "description", "weightDtype", "text",
                                   "stdit", "vae", "sampling", "blocks", "files"])
        self.assertEqual((m["format"], m["formatVersion"], m["family"]), ("sora4j-pack", 1, "open-sora-v1.2"))
        t5c, stc = self.models[1], self.models[3]
        self.assertEqual(m["text"], {"modelMaxLength": 300, "dModel": t5c.d_model, "numBlocks": t5c.num_layers,
                                     "numHeads": t5c.num_heads, "padTokenId": 0, "eosTokenId": 1,
                                     "tokenizer": "tokenizer.json", "int8": False})
        self.assertEqual(m["stdit"]["hiddenSize"], stc.hidden_size)
        self.assertEqual(m["stdit"]["patchSize"], [1, 2, 2])
        self.assertEqual((m["stdit"]["inChannels"], m["stdit"]["outChannels"]), (4, 8))
        self.assertEqual(m["stdit"]["captionChannels"], t5c.d_model)
        self.assertEqual(m["vae"]["scale"], [3.85, 2.32, 2.33, 3.06])
        self.assertEqual(m["vae"]["shift"], [-0.10, 0.34, 0.27, 0.98])
        self.assertEqual((m["vae"]["microFrameSize"], m["vae"]["microZFrameSize"]), (17, 5))
        self.assertEqual(m["sampling"], P.DEFAULT_SAMPLING)
        self.assertEqual([f["file"] for f in m["files"]], ["null_embedding.npy", "tokenizer.json"])
        self.assertEqual((self.pack / "tokenizer.json").read_bytes(), self.tok.read_bytes())
        files = {b["file"] for b in m["blocks"]}
        self.assertTrue({"t5/embed.pt", "t5/block_00.pt", "t5/block_01.pt", "t5/final_norm.pt", "stdit/embed.pt",
                         "stdit/block_00.pt", "stdit/block_01.pt", "stdit/final.pt", "vae/temporal_00.pt",
                         "vae/spatial_00.pt"} <= files)
        roles = [b["role"] for b in m["blocks"]]
        self.assertEqual(roles[:4], ["t5-embed", "t5-block", "t5-block", "t5-final-norm"])
        self.assertEqual(roles[4:8], ["stdit-embed", "stdit-block", "stdit-block", "stdit-final"])
        for b in m["blocks"]:
            self.assertEqual(b["dtype"], "float32")
            self.assertEqual(b["bytes"], (self.pack / b["file"]).stat().st_size)
            self.assertGreater(b["parameterBytes"], 0)
            self.assertEqual(len(b["sha256"]), 64)
        self.assertEqual(sorted(os.listdir(self.root)), ["pack", "tokenizer.json"])  # no temp dirs left

    def test_null_embedding(self):
        arr = np.load(self.pack / "null_embedding.npy")
        self.assertEqual(arr.dtype, np.float32)
        self.assertTrue(np.array_equal(arr, null_embedding(self.models[2]).numpy()))

    def test_parameter_bytes(self):
        for spec, b in zip(sorted(all_specs(self.models), key=P._block_sort_key), self.manifest["blocks"]):
            self.assertEqual(spec.file, b["file"])
            scripted = torch.jit.load(str(self.pack / b["file"]))
            expect = sum(t.numel() * t.element_size() for t in scripted.state_dict().values())
            self.assertEqual(b["parameterBytes"], expect, b["file"])

    def test_verify(self):
        self.assertEqual(P.verify_pack(self.pack), self.manifest)

    def test_verify_reports_problems(self):
        bad = self.root / "bad"
        shutil.copytree(self.pack, bad)
        try:
            (bad / "t5" / "final_norm.pt").unlink()
            with open(bad / "stdit" / "final.pt", "r+b") as f:
                f.seek(100)
                byte = f.read(1)
                f.seek(100)
                f.write(bytes([byte[0] ^ 1]))
            with open(bad / "tokenizer.json", "a") as f:
                f.write(" ")
            with self.assertRaises(P.PackError) as cm:
                P.verify_pack(bad)
            msg = str(cm.exception)
            self.assertIn("3 problem(s)", msg)
            self.assertIn("t5/final_norm.pt: missing", msg)
            self.assertIn("stdit/final.pt: sha256 does not match", msg)
            self.assertIn("tokenizer.json: ", msg)
            (bad / "manifest.json").write_text("{not json")
            with self.assertRaisesRegex(P.PackError, "not valid JSON"):
                P.verify_pack(bad)
            (bad / "manifest.json").unlink()
            with self.assertRaisesRegex(P.PackError, "has no manifest.json"):
                P.verify_pack(bad)
        finally:
            shutil.rmtree(bad)


class ReloadTest(PackTestBase):
    def test_block_weights_equal_source(self):
        """Every scripted block holds exactly the weights of its source module."""
        for spec in all_specs(self.models):
            loaded = torch.jit.load(str(self.pack / spec.file)).state_dict()
            source = spec.module.state_dict()
            self.assertEqual(sorted(loaded), sorted(source), spec.file)
            for k in source:
                self.assertTrue(torch.equal(loaded[k], source[k]), f"{spec.file}: {k}")

    def test_round_trip_is_lossless(self):
        """pack -> state dicts -> strict load into fresh models -> pack again: identical manifest (all sha256)."""
        from sora4j_export.checkpoint import strict_load
        fresh = tiny_models(seed=SEED + 100)
        rebuilt = pack_state_dicts(self.pack, self.models)
        for idx in (0, 2, 4):
            strict_load(fresh[idx], rebuilt[idx])
        again = self.root / "again"
        try:
            m2 = write_tiny(again, fresh, self.tok)
            self.assertEqual(m2, self.manifest)
        finally:
            shutil.rmtree(again, ignore_errors=True)

    def test_t5_blocks_match_eager_encoder(self):
        t5 = self.models[0]
        tok = WordLevelTokenizer.from_file(self.tok)
        ids, mask = tok.encode("a red ball moving left aesthetic score: 6.5.", 300)
        ids = torch.tensor([ids])
        mask = torch.tensor([mask])
        with torch.no_grad():
            ref = t5(ids, mask)
            load = lambda f: torch.jit.load(str(self.pack / f))  # noqa: E731
            h = load("t5/embed.pt")(ids)
            h, bias = load("t5/block_00.pt")(h, mask)
            h, bias = load("t5/block_01.pt")(h, bias)
            out = load("t5/final_norm.pt")(h)
        self.assertEqual(out.dtype, torch.float32)
        self.assertTrue(torch.equal(out, ref))


class WriteBehaviourTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        cls.tok = write_tokenizer_json(cls.root / "tokenizer.json")
        cls.models = tiny_models()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_same_process_is_byte_identical(self):
        a, b = self.root / "a", self.root / "b"
        ma = write_tiny(a, self.models, self.tok)
        mb = write_tiny(b, tiny_models(), self.tok)
        self.assertEqual(ma, mb)
        for blk in ma["blocks"]:
            self.assertEqual((a / blk["file"]).read_bytes(), (b / blk["file"]).read_bytes())

    def test_refuses_non_empty_output_and_overwrites_on_request(self):
        out = self.root / "existing"
        out.mkdir()
        (out / "keep.txt").write_text("x")
        with self.assertRaisesRegex(P.PackError, "not empty"):
            write_tiny(out, self.models, self.tok)
        self.assertEqual(os.listdir(out), ["keep.txt"])
        write_tiny(out, self.models, self.tok, overwrite=True)
        self.assertFalse((out / "keep.txt").exists())
        P.verify_pack(out)
        empty = self.root / "empty"
        empty.mkdir()
        write_tiny(empty, self.models, self.tok)  # an empty directory is fine
        self.assertEqual([p.name for p in self.root.iterdir() if p.name.startswith(".")], [])

    def test_failure_leaves_nothing(self):
        out = self.root / "failing"
        real_save = torch.jit.save
        calls = []

        def flaky(m, f, *a, **k):
            calls.append(f)
            if len(calls) == 6:
                raise RuntimeError("disk full")
            return real_save(m, f, *a, **k)

        with mock.patch.object(P.torch.jit, "save", flaky):
            with self.assertRaisesRegex(RuntimeError, "disk full"):
                write_tiny(out, self.models, self.tok)
        self.assertFalse(out.exists())
        self.assertEqual([p.name for p in self.root.iterdir() if p.name.startswith(".")], [])

    def test_bad_arguments(self):
        with self.assertRaisesRegex(P.PackError, "unsupported weight dtype 'bfloat16'"):
            write_tiny(self.root / "x", self.models, self.tok, weight_dtype="bfloat16")
        with self.assertRaisesRegex(P.PackError, "tokenizer not found"):
            write_tiny(self.root / "x", self.models, self.root / "nope.json")
        with self.assertRaisesRegex(P.PackError, "unknown sampling keys: bogus"):
            write_tiny(self.root / "x", self.models, self.tok, sampling={"bogus": 1})
        big = self.root / "big.json"
        data = json.loads(self.tok.read_text())
        data["model"]["vocab"]["huge"] = 99999
        big.write_text(json.dumps(data))
        with self.assertRaisesRegex(P.PackError, "ids up to 99999"):
            write_tiny(self.root / "x", self.models, big)
        self.assertFalse((self.root / "x").exists())

    def test_sampling_override(self):
        m = write_tiny(self.root / "s", self.models, self.tok, sampling={"steps": 10})
        self.assertEqual(m["sampling"]["steps"], 10)
        self.assertEqual(m["sampling"]["guidanceScale"], 7.0)

    def test_float16_and_int8(self):
        out = self.root / "half"
        m = write_tiny(out, self.models, self.tok, weight_dtype="float16", t5_int8=True)
        P.verify_pack(out)
        self.assertEqual(m["weightDtype"], "float16")
        self.assertTrue(m["text"]["int8"])
        dtypes = {b["name"]: b["dtype"] for b in m["blocks"]}
        self.assertEqual(dtypes["t5.block.00"], "int8")
        self.assertEqual(dtypes["t5.block.01"], "int8")
        self.assertEqual(dtypes["t5.embed"], "float16")
        self.assertEqual(dtypes["stdit.block.00"], "float16")
        self.assertEqual(dtypes["vae.spatial.00"], "float16")
        # float16 blocks hold the source weights rounded to float16
        for spec in all_specs(self.models):
            if spec.set == "t5" and spec.role == "t5-block":
                continue
            loaded = torch.jit.load(str(out / spec.file)).state_dict()
            for k, v in spec.module.state_dict().items():
                want = v.half() if v.is_floating_point() else v
                self.assertTrue(torch.equal(loaded[k], want), f"{spec.file}: {k}")
        # int8 blocks: parameterBytes counts the packed int8 weights (~1/4 of float32)
        f32 = {s.name: sum(t.numel() * 4 for t in s.module.state_dict().values()) for s in all_specs(self.models)}
        blk = next(b for b in m["blocks"] if b["name"] == "t5.block.01")
        self.assertLess(blk["parameterBytes"], f32["t5.block.01"] * 0.45)
        self.assertGreater(blk["parameterBytes"], f32["t5.block.01"] * 0.25)


class Int8ErrorTest(unittest.TestCase):
    def test_int8_t5_error_on_tiny_model(self):
        models = tiny_models()
        t5 = models[0]
        vocab = t5.config.vocab_size
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(3, vocab, (2, 40), generator=g)
        mask = torch.ones_like(ids)
        mask[1, 25:] = 0
        err = measure_int8_error(t5, ids, mask, mask=mask)
        print(f"\n[int8 T5, tiny d_model={t5.config.d_model}] max_abs={err['max_abs']:.4g} "
              f"max_rel={err['max_rel']:.4g} rel_l2={err['rel_l2']:.4g} (|ref| max {err['ref_max_abs']:.3g})")
        self.assertGreater(err["max_abs"], 0.0)
        self.assertLess(err["rel_l2"], 0.1)
        q = quantize_t5_int8(t5)
        self.assertEqual(sum(isinstance(m, torch.nn.Linear) and not hasattr(m, "_packed_params")
                             for m in q.modules()), 0)
        self.assertLess(quantized_parameter_bytes(q), sum(p.numel() * 4 for p in t5.parameters()))
        # the source model is untouched
        self.assertTrue(all(p.dtype == torch.float32 for p in t5.parameters()))


if __name__ == "__main__":
    unittest.main()

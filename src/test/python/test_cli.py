"""cli.py / __main__.py: export from a synthetic checkpoint folder (real key names, tiny widths), the error messages
and exit codes, the tiny and verify commands, and byte-reproducibility across processes."""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export import cli
from sora4j_export.checkpoint import write_safetensors
from sora4j_export.pack import read_manifest, verify_pack

from test_pack import pack_state_dicts, tiny_models

SRC = Path(__file__).resolve().parents[2] / "main" / "python"
ROOT = Path(__file__).resolve().parents[3]


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def write_checkpoints(root: Path, models):
    """Checkpoint folder as released upstream, at tiny widths: T5 sharded safetensors + index + HF config.json (tied
    embedding stored once, plus a decoder key the encoder ignores), STDiT one safetensors, VAE one safetensors with
    encoder entries and the pipeline's scale/shift buffers; configs of STDiT and VAE as JSON."""
    t5, t5c, st, stc, vae, vaec = models
    t5_dir = root / "t5"
    t5_dir.mkdir()
    sd = {k: v for k, v in t5.state_dict().items() if k != "encoder.embed_tokens.weight"}
    sd["decoder.block.0.layer.0.SelfAttention.q.weight"] = torch.zeros(2, 2)
    keys = sorted(sd)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    weight_map = {}
    for name, ks in shards.items():
        write_safetensors(t5_dir / name, {k: sd[k] for k in ks}, metadata={"format": "pt"})
        weight_map.update({k: name for k in ks})
    (t5_dir / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (t5_dir / "config.json").write_text(json.dumps({**t5c.to_dict(), "feed_forward_proj": "gated-gelu",
                                                    "model_type": "t5"}))
    write_safetensors(root / "stdit.safetensors", st.state_dict())
    (root / "stdit_config.json").write_text(json.dumps(stc.to_dict()))
    vsd = dict(vae.state_dict())
    vsd["temporal_vae.encoder.conv_in.conv.weight"] = torch.zeros(3, 3)
    vsd["spatial_vae.module.encoder.conv_in.weight"] = torch.zeros(3)
    vsd["spatial_vae.module.quant_conv.weight"] = torch.zeros(8, 8, 1, 1)
    vsd["scale"] = torch.tensor(vaec.scale).reshape(1, 4, 1, 1, 1)
    vsd["shift"] = torch.tensor(vaec.shift).reshape(1, 4, 1, 1, 1)
    write_safetensors(root / "vae.safetensors", vsd)
    (root / "vae_config.json").write_text(json.dumps(vaec.to_dict()))
    return {"t5": t5_dir, "stdit": root / "stdit.safetensors", "vae": root / "vae.safetensors"}


class CheckpointsCase(unittest.TestCase):
    """Tiny models written as checkpoints (and a tokenizer) once per test class, for export tests."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        cls.models = tiny_models()
        cls.paths = write_checkpoints(cls.root, cls.models)
        cls.tok = cls.root / "tokenizer.json"
        from sora4j_export.tokenizer import write_tokenizer_json
        write_tokenizer_json(cls.tok)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()


class ExportTest(CheckpointsCase):

    def export_args(self, out, **over):
        p = {**self.paths, **over}
        return ["export", "--t5", p["t5"], "--stdit", p["stdit"], "--vae", p["vae"], "--tokenizer", self.tok,
                "--out", out, "--stdit-config", self.root / "stdit_config.json",
                "--vae-config", self.root / "vae_config.json"]

    def test_export_loads_every_key_and_keeps_the_weights(self):
        out = self.root / "pack"
        rc, stdout, err = run_cli(*self.export_args(out), "--name", "synthetic")
        self.assertEqual(rc, 0, err)
        self.assertIn("wrote", stdout)
        manifest = verify_pack(out)
        self.assertEqual(manifest["name"], "synthetic")
        self.assertEqual(manifest["text"]["dModel"], self.models[1].d_model)
        rebuilt = pack_state_dicts(out, self.models)
        for idx in (0, 2, 4):
            source = self.models[idx].state_dict()
            self.assertEqual(sorted(rebuilt[idx]), sorted(source))
            for k, v in source.items():
                self.assertTrue(torch.equal(rebuilt[idx][k], v), k)
        rc, stdout, err = run_cli("verify", out)
        self.assertEqual(rc, 0, err)
        self.assertIn("ok:", stdout)

    def test_renamed_key_is_named(self):
        bad = self.root / "renamed.safetensors"
        sd = dict(self.models[2].state_dict())
        sd["spatial_blocks.0.attn.qkv.weight_renamed"] = sd.pop("spatial_blocks.0.attn.qkv.weight")
        write_safetensors(bad, sd)
        out = self.root / "renamed_pack"
        rc, _, err = run_cli(*self.export_args(out, stdit=bad))
        self.assertEqual(rc, 2)
        self.assertIn("--stdit: checkpoint " + str(bad), err)
        self.assertIn("1 missing key(s): spatial_blocks.0.attn.qkv.weight [", err)
        self.assertIn("1 unexpected key(s): spatial_blocks.0.attn.qkv.weight_renamed [", err)
        self.assertNotIn("Traceback", err)
        self.assertFalse(out.exists())

    def test_wrong_kind(self):
        out = self.root / "wrong"
        rc, _, err = run_cli(*self.export_args(out, t5=self.paths["vae"]))
        self.assertEqual(rc, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("--t5: checkpoint", err)
        self.assertIn("is a VAE checkpoint, expected a T5 text encoder checkpoint", err)
        rc, _, err = run_cli(*self.export_args(out, vae=self.paths["stdit"]))
        self.assertIn("--vae: checkpoint", err)
        self.assertIn("is a STDiT3 checkpoint, expected a VAE checkpoint", err)
        self.assertFalse(out.exists())

    def test_vae_normalisation_must_match(self):
        vsd = dict(self.models[4].state_dict())
        vsd["scale"] = torch.ones(1, 4, 1, 1, 1)
        vsd["shift"] = torch.zeros(1, 4, 1, 1, 1)
        bad = self.root / "vae_scale.safetensors"
        write_safetensors(bad, vsd)
        rc, _, err = run_cli(*self.export_args(self.root / "scale", vae=bad))
        self.assertEqual(rc, 2)
        self.assertIn("VAE scale", err)

    def test_bad_paths_and_values(self):
        out = self.root / "never"
        cases = [
            (self.export_args(out, stdit=self.root / "missing.safetensors"), "--stdit: not found: "),
            (self.export_args(out) + ["--dtype", "int4"], "unsupported --dtype 'int4'"),
            (self.export_args(out, t5=self.tok), "--t5: not a checkpoint"),
            (["export", "--t5", "x"], "the following arguments are required"),
            (["tiny", "--out", out, "--seed", "abc"], "--seed must be an integer, got 'abc'"),
            (["tiny", "--out", out, "--dtype", "bf16"], "unsupported --dtype 'bf16'"),
            (["verify", self.root], "not a model pack"),
            (["frobnicate"], "invalid choice"),
        ]
        for argv, expect in cases:
            rc, _, err = run_cli(*argv)
            self.assertEqual(rc, 2, argv)
            self.assertTrue(err.startswith("sora4j_export: error: "), err)
            self.assertIn(expect, err.splitlines()[0])
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertFalse(out.exists())

    def test_non_empty_output(self):
        out = self.root / "occupied"
        out.mkdir()
        (out / "file").write_text("x")
        rc, _, err = run_cli(*self.export_args(out))
        self.assertEqual(rc, 2)
        self.assertIn("--overwrite", err)
        self.assertEqual(os.listdir(out), ["file"])


class TinyCommandTest(unittest.TestCase):
    def test_tiny_in_process(self):
        with tempfile.TemporaryDirectory() as d:
            rc, _, err = run_cli("tiny", "--out", Path(d) / "p", "--seed", "7", "--t5-int8")
            self.assertEqual(rc, 0, err)
            m = verify_pack(Path(d) / "p")
            self.assertTrue(m["text"]["int8"])
            self.assertIn("seed 7", m["description"])
            rc, _, err = run_cli("tiny", "--out", Path(d) / "p", "--seed", "7")
            self.assertEqual(rc, 2)
            self.assertIn("not empty", err)

    def test_cli_tiny_is_the_committed_pack(self):
        """`python3 -m sora4j_export tiny --seed 0` (PYTHONHASHSEED unset, __main__ pins 0) writes the committed
        tiny-random pack: same manifest, same block and file sha256s."""
        committed = ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs" / "tiny-random"
        if not (committed / "manifest.json").is_file():
            self.skipTest("no committed pack")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
        env["PYTHONPATH"] = str(SRC)
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([sys.executable, "-m", "sora4j_export", "tiny", "--out", str(Path(d) / "p"),
                                "--seed", "0"], env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            got, want = read_manifest(Path(d) / "p"), read_manifest(committed)
        self.assertEqual([(b["name"], b["sha256"]) for b in got["blocks"]],
                         [(b["name"], b["sha256"]) for b in want["blocks"]])
        self.assertEqual(got["files"], want["files"])
        self.assertEqual(got, want)

    def test_references_command_writes_the_pack(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_cli("references", "--no-refs", "--pack-out", Path(d) / "p", "--ref-out", Path(d) / "r")
            self.assertEqual(rc, 0, err)
            self.assertIn("20 blocks", out)
            self.assertEqual(verify_pack(Path(d) / "p")["name"], "tiny-random")
            self.assertFalse((Path(d) / "r").exists())
            rc, _, err = run_cli("references", "--no-refs", "--no-pack")
            self.assertEqual(rc, 2)
            self.assertIn("nothing to write", err)

    def test_module_entry_point_is_reproducible_across_processes(self):
        """`python3 -m sora4j_export tiny` twice (PYTHONHASHSEED unset, so __main__ pins it): identical bytes."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
        env["PYTHONPATH"] = str(SRC)
        with tempfile.TemporaryDirectory() as d:
            shas = []
            for name in ("a", "b"):
                r = subprocess.run([sys.executable, "-m", "sora4j_export", "tiny", "--out", str(Path(d) / name),
                                    "--seed", "5"], env=env, capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr)
                shas.append([b["sha256"] for b in read_manifest(Path(d) / name)["blocks"]])
            self.assertEqual(shas[0], shas[1])
            r = subprocess.run([sys.executable, "-m", "sora4j_export", "verify", str(Path(d) / "nope")], env=env,
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr.strip(), f"sora4j_export: error: pack directory not found: {Path(d) / 'nope'}")


if __name__ == "__main__":
    unittest.main()

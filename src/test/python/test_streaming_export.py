"""streaming.py and the streaming ``export`` command: the same pack as the eager writer for every dtype, T5 from pickled
shards, the tokenizer from spiece.model, one block's weights loaded at a time, and interrupted exports that leave
nothing behind."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import torch

from sora4j_export.checkpoint import CheckpointError
from sora4j_export.pack import read_manifest, verify_pack
from sora4j_export.resume import JOURNAL
from sora4j_export.spm import encode_model
from sora4j_export.streaming import Materializer, to_meta
from sora4j_export.t5 import T5Encoder, t5_blocks
from sora4j_export.tokenizer import t5_tokenizer_json

from test_cli import SRC, CheckpointsCase, run_cli
from test_pack import tiny_models
from test_t5_tokenizer import small_model


class StreamingExportTest(CheckpointsCase):

    def args(self, out, **over):
        p = {**self.paths, "tokenizer": self.tok, **over}
        return ["export", "--t5", p["t5"], "--stdit", p["stdit"], "--vae", p["vae"], "--tokenizer", p["tokenizer"],
                "--out", out, "--stdit-config", self.root / "stdit_config.json",
                "--vae-config", self.root / "vae_config.json", "--name", "same"]

    def run_fresh(self, argv):
        """A fresh process: TorchScript mangles type names by what the process scripted before, so packs are
        byte-comparable between processes that did the same, not within one that wrote another pack first."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(Path(__file__).parent)]),
                   PYTHONHASHSEED="0")
        r = subprocess.run([sys.executable] + [str(a) for a in argv], env=env, capture_output=True, text=True,
                           timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_every_block_is_byte_identical_to_the_eager_writer_for_each_dtype(self):
        eager = ("import sys; from pathlib import Path; from test_pack import tiny_models; "
                 "from sora4j_export.pack import write_pack; t5, t5c, st, stc, vae, vaec = tiny_models(); "
                 "write_pack(sys.argv[1], name='same', t5_model=t5, t5_config=t5c, stdit_model=st, stdit_config=stc, "
                 "vae_model=vae, vae_config=vaec, tokenizer_json_path=sys.argv[2], weight_dtype=sys.argv[3], "
                 "t5_int8=sys.argv[4] == '1')")
        for dtype, int8 in (("float32", False), ("float16", True), ("float32", True)):
            with self.subTest(dtype=dtype, int8=int8):
                out, ref = self.root / f"s-{dtype}-{int8}", self.root / f"e-{dtype}-{int8}"
                extra = ["--dtype", dtype] + (["--t5-int8"] if int8 else [])
                self.run_fresh(["-m", "sora4j_export"] + self.args(out) + extra)
                self.run_fresh(["-c", eager, ref, self.tok, dtype, "1" if int8 else "0"])
                got, want = read_manifest(out), read_manifest(ref)
                self.assertEqual([(b["file"], b["dtype"], b["parameterBytes"], b["sha256"]) for b in got["blocks"]],
                                 [(b["file"], b["dtype"], b["parameterBytes"], b["sha256"]) for b in want["blocks"]])
                self.assertEqual(got["files"], want["files"])

    def test_t5_from_pickled_shards_gives_the_same_pack(self):
        t5_dir = self.root / "t5-bin"
        t5_dir.mkdir()
        sd = self.models[0].state_dict()
        keys = sorted(sd)
        names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
        weight_map = {}
        for name, ks in zip(names, (keys[: len(keys) // 2], keys[len(keys) // 2:])):
            torch.save({k: sd[k] for k in ks}, t5_dir / name)
            weight_map.update({k: name for k in ks})
        (t5_dir / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
        (t5_dir / "config.json").write_text((self.paths["t5"] / "config.json").read_text())
        a, b = self.root / "from-bin", self.root / "from-st"
        self.assertEqual(run_cli(*self.args(a, t5=t5_dir))[0], 0)
        self.assertEqual(run_cli(*self.args(b))[0], 0)
        self.assertEqual([x["sha256"] for x in read_manifest(a)["blocks"]],
                         [x["sha256"] for x in read_manifest(b)["blocks"]])

    def test_the_tokenizer_can_be_a_spiece_model_or_a_directory_holding_one(self):
        spiece_dir = self.root / "spm"
        spiece_dir.mkdir()
        data = encode_model(small_model())
        (spiece_dir / "spiece.model").write_bytes(data)
        for i, tok in enumerate((spiece_dir, spiece_dir / "spiece.model")):
            out = self.root / f"spm-pack-{i}"
            rc, _, err = run_cli(*self.args(out, tokenizer=tok))
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads((out / "tokenizer.json").read_text(encoding="utf-8")),
                             t5_tokenizer_json(data))
            self.assertEqual([p.name for p in self.root.glob(f".spm-pack-{i}*")], [])
        (spiece_dir / "spiece.model").write_bytes(b"\x07\x07")
        rc, _, err = run_cli(*self.args(self.root / "bad-spm", tokenizer=spiece_dir / "spiece.model"))
        self.assertEqual(rc, 2)
        self.assertIn("--tokenizer: ", err)
        self.assertFalse((self.root / "bad-spm").exists())

    def test_sigterm_ends_the_export_and_leaves_nothing(self):
        out = self.root / "killed"
        env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONHASHSEED="0")
        p = subprocess.Popen([sys.executable, "-m", "sora4j_export"] + [str(a) for a in self.args(out)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        partial = []
        while time.monotonic() < deadline and p.poll() is None:
            partial = [d for d in self.root.glob(".killed.partial-*") if any(d.rglob("*.pt"))]
            if partial:
                break
            time.sleep(0.005)
        self.assertTrue(partial, "the export never started writing blocks")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("sora4j_export: interrupted", err)
        self.assertFalse(out.exists())
        self.assertEqual(list(self.root.glob(".killed*")), [])

    def test_leftovers_of_a_killed_export_are_removed(self):
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        stale = self.root / f".stale.partial-{dead.pid}"
        (stale / "t5").mkdir(parents=True)
        (stale / "t5" / "embed.pt").write_bytes(b"half")
        rc, _, err = run_cli(*self.args(self.root / "stale"))
        self.assertEqual(rc, 0, err)
        self.assertIn(f"removing {stale} (left by an export that was killed)", err)
        self.assertFalse(stale.exists())


    def start_and_kill(self, out, sig, extra=()):
        """Starts an export with --resume in another process and stops it with ``sig`` once its journal holds two
        finished blocks; returns the partial directory it left."""
        env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONHASHSEED="0")
        argv = [sys.executable, "-m", "sora4j_export"] + [str(a) for a in self.args(out)] + ["--resume", *extra]
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        partial = None
        while time.monotonic() < deadline and p.poll() is None:
            for d in self.root.glob(f".{out.name}.partial-*"):
                j = d / JOURNAL
                if j.is_file() and len(j.read_text(encoding="utf-8").splitlines()) >= 3:
                    partial = d
            if partial:
                break
            time.sleep(0.002)
        self.assertIsNotNone(partial, "the export finished or never wrote two blocks")
        p.send_signal(sig)
        p.communicate(timeout=120)
        return partial

    def test_an_export_killed_outright_resumes_with_the_blocks_it_had_written(self):
        out = self.root / "resumed"
        partial = self.start_and_kill(out, signal.SIGKILL)
        self.assertFalse(out.exists(), "no pack before the export finished")
        self.assertTrue(partial.is_dir())
        written = {f.relative_to(partial): f.stat().st_mtime_ns for f in partial.rglob("*.pt")}
        rc, _, err = run_cli(*self.args(out), "--resume")
        self.assertEqual(rc, 0, err)
        kept = int(re.search(r"resuming the export in .*: (\d+) of its blocks are kept", err).group(1))
        self.assertGreaterEqual(kept, 2)
        self.assertFalse(partial.exists())
        self.assertEqual(list(self.root.glob(".resumed*")), [])
        self.assertFalse((out / JOURNAL).exists())
        manifest = verify_pack(out)
        # the blocks it kept were not written again
        unchanged = [f for f, t in written.items() if (out / f).stat().st_mtime_ns == t]
        self.assertGreaterEqual(len(unchanged), kept)
        # and the pack holds the same weights as an export that was never interrupted
        whole = self.root / "never-interrupted"
        rc, _, err = run_cli(*self.args(whole))
        self.assertEqual(rc, 0, err)
        reference = read_manifest(whole)
        self.assertEqual([(b["name"], b["parameterBytes"], b["dtype"]) for b in manifest["blocks"]],
                         [(b["name"], b["parameterBytes"], b["dtype"]) for b in reference["blocks"]])
        for b in manifest["blocks"]:
            got = torch.jit.load(str(out / b["file"])).state_dict()
            want = torch.jit.load(str(whole / b["file"])).state_dict()
            self.assertEqual(got.keys(), want.keys(), b["name"])
            for k in want:
                self.assertTrue(torch.equal(got[k], want[k]), f"{b['name']}: {k}")

    def test_resume_refuses_a_partial_export_made_with_other_options_and_leaves_it(self):
        out = self.root / "other-options"
        partial = self.start_and_kill(out, signal.SIGTERM)
        self.assertTrue((partial / JOURNAL).is_file(), "SIGTERM with --resume keeps the partial directory")
        rc, _, err = run_cli(*self.args(out), "--resume", "--dtype", "float16")
        self.assertEqual(rc, 2)
        self.assertIn("was made with other options or checkpoints (different: description, weightDtype)", err)
        self.assertTrue(partial.is_dir())
        self.assertFalse(out.exists())
        # without --resume the export starts over and removes it
        rc, _, err = run_cli(*self.args(out))
        self.assertEqual(rc, 0, err)
        self.assertFalse(partial.exists())
        verify_pack(out)


class MaterializerTest(unittest.TestCase):
    def test_a_block_holds_its_weights_only_inside_the_context(self):
        t5, t5c = tiny_models()[:2]
        refs = {k: _Ref(v) for k, v in t5.state_dict().items()}
        meta = T5Encoder(t5c, device="meta").eval()
        m = Materializer([(meta, refs)])
        specs = t5_blocks(meta)
        with m(specs[1]):
            loaded = dict(specs[1].module.state_dict())
            self.assertTrue(all(not v.is_meta for v in loaded.values()))
            for k, v in loaded.items():
                self.assertTrue(torch.equal(v, t5.state_dict()["encoder.block.0." + k.split("block.", 1)[1]]), k)
            self.assertTrue(all(p.is_meta for p in specs[2].module.parameters()), "other blocks stay unloaded")
        self.assertTrue(all(p.is_meta for p in meta.parameters()))
        self.assertEqual(m.timings[0]["block"], "t5.block.00")
        self.assertEqual(m.timings[0]["bytes"], sum(v.numel() * 4 for v in loaded.values()))
        self.assertEqual(sum(r.loads for r in refs.values()), len(loaded))

    def test_a_parameter_without_a_checkpoint_tensor_is_named(self):
        t5, t5c = tiny_models()[:2]
        refs = {k: _Ref(v) for k, v in t5.state_dict().items() if "final_layer_norm" not in k}
        meta = T5Encoder(t5c, device="meta").eval()
        spec = t5_blocks(meta)[-1]
        with self.assertRaisesRegex(CheckpointError, "block t5.final_norm: T5LayerNorm.weight has no checkpoint"):
            with Materializer([(meta, refs)])(spec):
                pass
        self.assertTrue(all(p.is_meta for p in meta.parameters()))

    def test_to_meta_keeps_sharing_and_non_persistent_buffers(self):
        from sora4j_export.vae import VideoVAEDecoder
        t5 = to_meta(tiny_models()[0])
        self.assertIs(t5.shared.weight, t5.encoder.embed_tokens.weight)
        vae = to_meta(VideoVAEDecoder(tiny_models()[5]))
        self.assertFalse(vae.scale.is_meta)
        self.assertTrue(all(p.is_meta for p in vae.parameters()))


class _Ref:
    """A tensor reference that counts its loads."""

    def __init__(self, t):
        self.t, self.loads = t, 0

    @property
    def shape(self):
        return tuple(self.t.shape)

    def load(self, dtype=None):
        self.loads += 1
        return self.t.clone().to(dtype or self.t.dtype)


if __name__ == "__main__":
    unittest.main()

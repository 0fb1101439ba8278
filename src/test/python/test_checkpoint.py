"""checkpoint.py: safetensors round trips, torch pickles, sharded indexes, directories, strict loading, kind detection."""

import json
import os
import struct
import tempfile
import unittest
from pathlib import Path

import torch

from sora4j_export.checkpoint import (CheckpointError, check_kind, detect_kind, read_state_dict, strict_load,
                                      write_safetensors)


def _sample():
    g = torch.Generator().manual_seed(0)
    return {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(5, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "f64": torch.randn(2, generator=g).double(),
        "i64": torch.arange(6).reshape(2, 3),
        "i32": torch.tensor([-1, 2, 3], dtype=torch.int32),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 4),
    }


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 3)
        self.b = torch.nn.LayerNorm(3)
        self.register_buffer("c", torch.zeros(2))


class SafetensorsTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def assertSameDict(self, a, b):
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertEqual(a[k].dtype, b[k].dtype, k)
            self.assertEqual(tuple(a[k].shape), tuple(b[k].shape), k)
            self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_round_trip_all_dtypes(self):
        sd = _sample()
        p = self.dir / "m.safetensors"
        write_safetensors(p, sd, metadata={"format": "pt", "n": 3})
        back = read_state_dict(p)
        self.assertSameDict(sd, back)
        self.assertEqual(back.metadata, {"format": "pt", "n": "3"})
        self.assertEqual(back.source, str(p))

    def test_file_layout(self):
        p = self.dir / "m.safetensors"
        write_safetensors(p, {"x": torch.ones(2, dtype=torch.float16), "y": torch.ones(3)})
        raw = p.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual(n % 8, 0)
        header = json.loads(raw[8:8 + n])
        self.assertEqual(header["y"], {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]})
        self.assertEqual(header["x"], {"dtype": "F16", "shape": [2], "data_offsets": [12, 16]})
        self.assertEqual(len(raw), 8 + n + 16)

    def test_reads_handmade_file(self):
        # written by hand, unpadded header, BF16 bits given explicitly: 1.0 = 0x3F80, -2.0 = 0xC000
        header = json.dumps({"__metadata__": {"k": "v"},
                             "w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
        p = self.dir / "hand.safetensors"
        p.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<HH", 0x3F80, 0xC000))
        back = read_state_dict(p)
        self.assertEqual(back["w"].dtype, torch.bfloat16)
        self.assertEqual(back["w"].float().tolist(), [1.0, -2.0])
        self.assertEqual(back.metadata, {"k": "v"})

    def test_loaded_tensors_are_private_copies(self):
        p = self.dir / "m.safetensors"
        write_safetensors(p, {"x": torch.zeros(4)})
        a = read_state_dict(p)
        a["x"].add_(1)
        self.assertEqual(read_state_dict(p)["x"].tolist(), [0.0] * 4)

    def test_sharded_index_and_directory(self):
        sd = _sample()
        keys = sorted(sd)
        shards = {"model-00001-of-00002.safetensors": keys[:5], "model-00002-of-00002.safetensors": keys[5:]}
        weight_map = {}
        for shard, ks in shards.items():
            write_safetensors(self.dir / shard, {k: sd[k] for k in ks})
            weight_map.update({k: shard for k in ks})
        index = self.dir / "model.safetensors.index.json"
        index.write_text(json.dumps({"metadata": {"total_size": 1}, "weight_map": weight_map}))
        self.assertSameDict(sd, read_state_dict(index))
        self.assertSameDict(sd, read_state_dict(self.dir))  # directory: finds the index

    def test_index_with_missing_shard_or_key(self):
        write_safetensors(self.dir / "a.safetensors", {"x": torch.ones(1)})
        index = self.dir / "model.safetensors.index.json"
        index.write_text(json.dumps({"weight_map": {"x": "a.safetensors", "y": "b.safetensors"}}))
        with self.assertRaisesRegex(CheckpointError, "b.safetensors"):
            read_state_dict(index)
        index.write_text(json.dumps({"weight_map": {"x": "a.safetensors", "y": "a.safetensors"}}))
        with self.assertRaisesRegex(CheckpointError, "lacks 1 tensor.*y"):
            read_state_dict(index)

    def test_torch_pickles(self):
        sd = {"x": torch.randn(2, 2), "y": torch.arange(3)}
        for name, obj in (("plain.bin", sd), ("wrapped.pt", {"state_dict": sd, "epoch": 3}),
                          ("model.pth", {"model": sd}), ("ddp.pt", {f"module.{k}": v for k, v in sd.items()})):
            torch.save(obj, self.dir / name)
            self.assertSameDict(sd, read_state_dict(self.dir / name))
        bin_dir = self.dir / "hf"
        bin_dir.mkdir()
        torch.save(sd, bin_dir / "pytorch_model.bin")
        self.assertSameDict(sd, read_state_dict(bin_dir))

    def test_pytorch_bin_index(self):
        sd = {"x": torch.randn(2, 2), "y": torch.arange(3)}
        torch.save({"x": sd["x"]}, self.dir / "pytorch_model-00001-of-00002.bin")
        torch.save({"y": sd["y"]}, self.dir / "pytorch_model-00002-of-00002.bin")
        (self.dir / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {
            "x": "pytorch_model-00001-of-00002.bin", "y": "pytorch_model-00002-of-00002.bin"}}))
        self.assertSameDict(sd, read_state_dict(self.dir))

    def test_errors(self):
        with self.assertRaisesRegex(CheckpointError, "not found: .*nope"):
            read_state_dict(self.dir / "nope.safetensors")
        junk = self.dir / "junk.txt"
        junk.write_text("hello world")
        with self.assertRaisesRegex(CheckpointError, "not a checkpoint"):
            read_state_dict(junk)
        bad = self.dir / "bad.safetensors"
        bad.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
        with self.assertRaisesRegex(CheckpointError, "not a safetensors file"):
            read_state_dict(bad)
        torch.save([1, 2, 3], self.dir / "list.pt")
        with self.assertRaisesRegex(CheckpointError, "not a checkpoint"):
            read_state_dict(self.dir / "list.pt")
        (self.dir / "garbage.bin").write_bytes(os.urandom(64))
        with self.assertRaisesRegex(CheckpointError, "garbage.bin"):
            read_state_dict(self.dir / "garbage.bin")
        empty = self.dir / "empty"
        empty.mkdir()
        with self.assertRaisesRegex(CheckpointError, "no checkpoint in directory"):
            read_state_dict(empty)


class StrictLoadTest(unittest.TestCase):
    def test_loads_and_casts(self):
        src = Tiny()
        sd = {k: v.double() + 1 for k, v in src.state_dict().items()}
        dst = Tiny()
        strict_load(dst, sd)
        for k, v in dst.state_dict().items():
            self.assertEqual(v.dtype, torch.float32)
            self.assertTrue(torch.equal(v, sd[k].float()))

    def test_lists_every_problem(self):
        sd = dict(Tiny().state_dict())
        sd.pop("a.bias")
        sd["b.weight"] = torch.zeros(5)
        sd["extra.weight"] = torch.zeros(7, 2)
        sd["ignored.thing"] = torch.zeros(1)
        with self.assertRaises(CheckpointError) as cm:
            strict_load(Tiny(), sd, ignore_prefixes=("ignored.",), source="/x/ckpt.safetensors")
        msg = str(cm.exception)
        self.assertIn("/x/ckpt.safetensors", msg)
        self.assertIn("1 missing key(s): a.bias [3]", msg)
        self.assertIn("1 unexpected key(s): extra.weight [7, 2]", msg)
        self.assertIn("1 mis-shaped key(s): b.weight checkpoint [5] vs model [3]", msg)
        self.assertNotIn("ignored.thing", msg)

    def test_long_lists_are_cut(self):
        sd = dict(Tiny().state_dict())
        sd.update({f"junk.{i:03d}": torch.zeros(1) for i in range(50)})
        with self.assertRaisesRegex(CheckpointError, r"50 unexpected key\(s\).*junk.019 \[1\], … \(30 more\)"):
            strict_load(Tiny(), sd)

    def test_source_from_read_state_dict(self):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "w.safetensors"
            write_safetensors(p, {"a.weight": torch.zeros(3, 4)})
            with self.assertRaisesRegex(CheckpointError, "w.safetensors"):
                strict_load(Tiny(), read_state_dict(p))


class KindTest(unittest.TestCase):
    def test_detect(self):
        self.assertEqual(detect_kind({"shared.weight": 0, "encoder.block.0.layer.0.x": 0}), "t5")
        self.assertEqual(detect_kind({"spatial_blocks.0.attn.qkv.weight": 0}), "stdit")
        self.assertEqual(detect_kind({"temporal_vae.decoder.conv1.conv.weight": 0}), "vae")
        self.assertIsNone(detect_kind({"foo": 0}))

    def test_check_kind_message(self):
        sd = {"temporal_vae.decoder.x": torch.zeros(1)}
        with self.assertRaisesRegex(CheckpointError, "is a VAE checkpoint, expected a T5 text encoder checkpoint"):
            check_kind(sd, "t5")
        with self.assertRaisesRegex(CheckpointError, "not a STDiT3 checkpoint"):
            check_kind({"foo": torch.zeros(1)}, "stdit")
        check_kind(sd, "vae")


if __name__ == "__main__":
    unittest.main()

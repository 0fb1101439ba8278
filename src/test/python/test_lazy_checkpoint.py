"""safetensors.py, torchzip.py and checkpoint.read_lazy_state_dict: tensor references that read nothing until loaded,
for every dtype, strided and shared storages, indexes, wrappers, and what cannot be read lazily."""

import collections
import json
import os
import pickle
import struct
import tempfile
import unittest
import zipfile
from pathlib import Path

import torch

from sora4j_export.checkpoint import CheckpointError, read_lazy_state_dict, read_state_dict, write_safetensors
from sora4j_export.safetensors import InMemoryRef, SafetensorsError, TensorRef, open_safetensors
from sora4j_export.torchzip import TorchZipError, open_torch_zip

from test_checkpoint import _sample


class SafetensorsRefTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_every_dtype_loads_the_stored_values_and_bf16_widens_exactly(self):
        sd = _sample()
        path = self.dir / "all.safetensors"
        write_safetensors(path, sd, metadata={"format": "pt"})
        refs, metadata = open_safetensors(path)
        self.assertEqual(metadata, {"format": "pt"})
        self.assertEqual(sorted(refs), sorted(sd))
        for k, v in sd.items():
            ref = refs[k]
            self.assertEqual(ref.shape, tuple(v.shape), k)
            t = ref.load()
            if v.dtype == torch.bfloat16:
                self.assertEqual(t.dtype, torch.float32)
                self.assertTrue(torch.equal(t, v.float()), k)  # bf16 -> f32 is exact
            else:
                self.assertEqual(t.dtype, v.dtype, k)
                self.assertTrue(torch.equal(t, v), k)
        self.assertEqual(refs["f16"].load(torch.float32).dtype, torch.float32)

    def test_a_loaded_tensor_owns_its_memory(self):
        path = self.dir / "own.safetensors"
        write_safetensors(path, {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4)})
        refs, _ = open_safetensors(path)
        t = refs["w"].load()
        t[0, 0] = 99.0  # writable, and the file is untouched
        os.remove(path)  # the copy outlives the file
        self.assertEqual(float(t[1, 1]), 5.0)
        self.assertEqual(float(t[0, 0]), 99.0)

    def test_reshaped_views_the_same_elements(self):
        path = self.dir / "r.safetensors"
        w = torch.randn(6, 6, 1, 1)
        write_safetensors(path, {"w": w})
        refs, _ = open_safetensors(path)
        self.assertTrue(torch.equal(refs["w"].reshaped((6, 6)).load(), w.reshape(6, 6)))
        with self.assertRaises(SafetensorsError):
            refs["w"].reshaped((5, 6))

    def test_a_bad_header_is_rejected_before_reading_data(self):
        header = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}).encode()
        path = self.dir / "bad.safetensors"
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
        with self.assertRaisesRegex(SafetensorsError, "offsets 0..12 do not fit shape \\[4\\] F32"):
            open_safetensors(path)
        header = json.dumps({"x": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}).encode()
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0")
        with self.assertRaisesRegex(SafetensorsError, "unsupported dtype 'F8'"):
            open_safetensors(path)


class TorchZipTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_zip_pickle_tensors_load_lazily_with_shared_strided_and_offset_storages(self):
        g = torch.Generator().manual_seed(1)
        base = torch.randn(8, 5, generator=g)
        sd = collections.OrderedDict()
        sd["f32"] = base
        sd["tied"] = base  # same storage, stored once
        sd["transposed"] = base.t()  # non-contiguous view
        sd["rows"] = base[3:6]  # storage offset
        sd["f16"] = torch.randn(4, 3, generator=g).half()
        sd["bf16"] = torch.randn(7, generator=g).bfloat16()
        sd["i64"] = torch.arange(5)
        sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
        sd["scalar"] = torch.tensor(2.5)
        path = self.dir / "pytorch_model.bin"
        torch.save({"state_dict": sd}, path)
        lazy = read_lazy_state_dict(path)
        self.assertEqual(list(lazy), list(sd))
        for k, v in sd.items():
            self.assertIsInstance(lazy[k], TensorRef, k)
            self.assertEqual(lazy[k].shape, tuple(v.shape), k)
            want = v.detach().float() if v.dtype == torch.bfloat16 else v.detach()
            self.assertTrue(torch.equal(lazy[k].load(), want), k)
        self.assertEqual(lazy["tied"].offset, lazy["f32"].offset)

    def test_module_prefix_and_sharded_pickle_index(self):
        a = {"module.x.weight": torch.ones(2, 3), "module.y.bias": torch.zeros(3)}
        torch.save(a, self.dir / "one.pt")
        lazy = read_lazy_state_dict(self.dir / "one.pt")
        self.assertEqual(sorted(lazy), ["x.weight", "y.bias"])
        torch.save({"p.a": torch.ones(2)}, self.dir / "pytorch_model-00001-of-00002.bin")
        torch.save({"p.b": torch.full((3,), 2.0)}, self.dir / "pytorch_model-00002-of-00002.bin")
        (self.dir / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": {
            "p.a": "pytorch_model-00001-of-00002.bin", "p.b": "pytorch_model-00002-of-00002.bin"}}))
        lazy = read_lazy_state_dict(self.dir / "pytorch_model.bin.index.json")
        self.assertTrue(torch.equal(lazy["p.b"].load(), torch.full((3,), 2.0)))

    def test_a_pickle_with_other_objects_is_refused_without_running_it(self):
        path = self.dir / "evil.pt"
        torch.save({"w": torch.ones(2), "f": os.getcwd}, path)
        with self.assertRaisesRegex(TorchZipError, "needs posix.getcwd"):
            open_torch_zip(path)
        with self.assertRaisesRegex(CheckpointError, "not a readable torch checkpoint"):
            read_lazy_state_dict(path)

    def test_a_legacy_pickle_is_loaded_whole_and_says_so(self):
        path = self.dir / "legacy.pt"
        torch.save({"w": torch.arange(4.0)}, path, _use_new_zipfile_serialization=False)
        self.assertFalse(zipfile.is_zipfile(path))
        lines = []
        lazy = read_lazy_state_dict(path, log=lines.append)
        self.assertIsInstance(lazy["w"], InMemoryRef)
        self.assertTrue(torch.equal(lazy["w"].load(), torch.arange(4.0)))
        self.assertEqual(len(lines), 1)
        self.assertIn("legacy (non-zip) torch pickle, loading it whole", lines[0])

    def test_lazy_and_eager_readers_agree_on_a_safetensors_index(self):
        sd = {"a.w": torch.randn(3, 2), "b.w": torch.randn(4)}
        write_safetensors(self.dir / "model-00001-of-00002.safetensors", {"a.w": sd["a.w"]})
        write_safetensors(self.dir / "model-00002-of-00002.safetensors", {"b.w": sd["b.w"]})
        (self.dir / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
            "a.w": "model-00001-of-00002.safetensors", "b.w": "model-00002-of-00002.safetensors"}}))
        eager = read_state_dict(self.dir)
        lazy = read_lazy_state_dict(self.dir)
        self.assertEqual(sorted(eager), sorted(lazy))
        for k in eager:
            self.assertTrue(torch.equal(eager[k], lazy[k].load()), k)
        (self.dir / "model-00002-of-00002.safetensors").unlink()
        with self.assertRaisesRegex(CheckpointError, "shard model-00002-of-00002.safetensors named by"):
            read_lazy_state_dict(self.dir)

    def test_corrupt_pickle_names_the_file(self):
        path = self.dir / "broken.bin"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("archive/data.pkl", pickle.dumps({"w": 1})[:5])
        with self.assertRaisesRegex(CheckpointError, "broken.bin"):
            read_lazy_state_dict(path)


if __name__ == "__main__":
    unittest.main()

"""bench.py / ``sora4j_export bench``: the bench pack has Open-Sora v1.2's shapes at the paper's token counts, records
its architecture in the manifest, and passes verification."""

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

from sora4j_export import bench, cli
from sora4j_export.pack import verify_pack


class BenchPackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name) / "bench"
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            cls.rc = cli.main(["bench", "--out", str(cls.out), "--seed", "0"])
        cls.stdout = buf.getvalue()
        cls.manifest = json.loads((cls.out / "manifest.json").read_text())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_command_writes_a_verified_pack(self):
        self.assertEqual(self.rc, 0)
        self.assertIn("20 blocks", self.stdout)
        verify_pack(self.out)
        self.assertEqual(self.manifest["name"], bench.PACK_NAME)

    def test_paper_token_counts_and_sampling(self):
        m = self.manifest
        self.assertEqual(m["text"]["modelMaxLength"], 300)
        self.assertEqual(m["stdit"]["patchSize"], [1, 2, 2])
        self.assertEqual(m["sampling"]["steps"], 30)
        self.assertEqual(m["sampling"]["guidanceScale"], 7.0)
        models = bench.build_bench_models(0)
        t, h, w = models.vae_config.latent_size(68, 256, 256)
        self.assertEqual((t, h, w), (20, 32, 32))
        self.assertEqual(t * (h // 2) * (w // 2), 5120)  # tokens per sample

    def test_manifest_records_the_architecture(self):
        a = self.manifest["architecture"]
        for key, value in bench.BENCH_STDIT.items():
            self.assertEqual(a["stdit"][key], value, key)
        for key, value in bench.BENCH_T5.items():
            self.assertEqual(a["t5"][key], value, key)
        self.assertEqual(a["vae"]["spatial_block_out_channels"], list(bench.BENCH_VAE["spatial_block_out_channels"]))
        self.assertEqual(a["stdit"]["caption_channels"], a["t5"]["d_model"])
        self.assertEqual(a["t5"]["d_ff"], int(2.5 * a["t5"]["d_model"]))

    def test_existing_output_is_refused_without_overwrite(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = cli.main(["bench", "--out", str(self.out)])
        self.assertEqual(rc, 2)
        self.assertIn("not empty", err.getvalue())


if __name__ == "__main__":
    unittest.main()

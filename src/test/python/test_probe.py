"""demo.probe: a running training's checkpoint is probed from a copy, and what is missing is named."""

import tempfile
import unittest
from pathlib import Path

from sora4j_export.demo import probe as P


class ProbeTest(unittest.TestCase):
    def test_a_run_without_a_checkpoint_is_refused_naming_the_files(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(SystemExit, "has no diffusion checkpoint"):
                P.pack_from_run(Path(d), Path(d, "work"))

    def test_a_missing_latents_file_is_named_and_the_run_is_left_as_it_was(self):
        with tempfile.TemporaryDirectory() as d:
            run = Path(d, "run")
            run.mkdir()
            (run / "diffusion_ckpt.compact.pt").write_bytes(b"x")
            (run / "spatial.pt").write_bytes(b"x")
            before = sorted(p.name for p in run.iterdir())
            with self.assertRaisesRegex(SystemExit, "latents.npz is missing: resume the run once"):
                P.pack_from_run(run, Path(d, "work"))
            self.assertEqual(sorted(p.name for p in run.iterdir()), before)

    def test_one_of_run_or_pack_is_required(self):
        with self.assertRaises(SystemExit):
            P.main([])


if __name__ == "__main__":
    unittest.main()

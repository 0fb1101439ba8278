"""The demo detector reads MP4, as `sora4j generate --output x.mp4` writes it (README's detector command)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

from sora4j_export.demo import detect as D
from sora4j_export.demo import world as W


@unittest.skipUnless(shutil.which("ffmpeg"), "ffmpeg is not installed")
class Mp4Test(unittest.TestCase):
    def test_an_h264_mp4_is_decoded_frame_for_frame_and_detected(self):
        from PIL import Image

        c = W.Clip("green", "triangle", "right", "quickly", "dark", 14.0, 30.0, 7.0, frames=17, travel_px=24.0)
        v = W.render(c)
        with tempfile.TemporaryDirectory() as tmp:
            for i, fr in enumerate(v):
                Image.fromarray(fr).save(os.path.join(tmp, f"f{i:03d}.png"))
            mp4 = os.path.join(tmp, "x.mp4")
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-framerate", "24", "-i",
                            os.path.join(tmp, "f%03d.png"), "-c:v", "libx264", "-pix_fmt", "yuv420p", mp4], check=True)
            frames = D.read_video(mp4)
        self.assertEqual(frames.shape, v.shape)
        self.assertLess(np.abs(frames.astype(int) - v.astype(int)).mean(), 6.0)  # lossy, but close
        d = D.detect(frames)
        self.assertEqual((d.colour, d.direction), ("green", "right"))

    def test_a_missing_file_is_named(self):
        with self.assertRaisesRegex(ValueError, "cannot read .*nowhere.mp4: no such file"):
            D.read_video("nowhere.mp4")


if __name__ == "__main__":
    unittest.main()

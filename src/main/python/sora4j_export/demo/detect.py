"""A detector for the demo world: reads a video and reports the moving object's colour, direction and speed.

Method, per frame: the background colour is the per-channel median of the frame (the object covers < 10 % of it);
a pixel's *strength* is its RGB distance from that background; object pixels are those at least
:data:`MIN_DISTANCE` away. The object's centroid is the strength-weighted mean position of its pixels. The colour is a
vote over the strong object pixels (strength ≥ half the frame's maximum) of every frame, each voting for its nearest
:data:`world.COLOURS` entry. The direction comes from a least-squares line through the centroids: the displacement from
the first to the last frame along the dominant axis (image y grows downwards, so ``up`` is negative dy); it is
``"none"`` when the object is found in fewer than half the frames or moves less than :data:`MIN_TRAVEL` pixels. The
speed is ``slowly`` below :data:`SPEED_SPLIT` pixels of travel (the prompt world moves 14 or 22), else ``quickly``.

Command line::

    python3 -m sora4j_export.demo.detect VIDEO [--prompt "a red circle moving left"]

VIDEO: an MP4 (as ``sora4j generate --output x.mp4`` writes it; decoded with ``ffmpeg``, which must be on the PATH), a
folder of PNG frames (as ``sora4j generate --output DIR`` writes them), a GIF, or a .npy/.npz array of uint8 frames
[F, H, W, 3] (or float [3, F, H, W] in [-1, 1]).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from . import world

MIN_DISTANCE = 50.0   # RGB distance from the background for a pixel to count as object
MIN_TRAVEL = 4.0      # pixels of travel below which there is no direction
SPEED_SPLIT = 18.0    # pixels of travel between "slowly" (14) and "quickly" (22) in the prompt world
_PALETTE_NAMES = list(world.COLOURS)
_PALETTE = np.asarray([world.COLOURS[c] for c in _PALETTE_NAMES], dtype=np.float32)


@dataclass
class Detection:
    colour: str                 # nearest palette colour by vote, "none" without object pixels
    direction: str              # left/right/up/down or "none"
    speed: str                  # slowly/quickly or "none"
    background: str             # nearest background colour (of the median over frames)
    dx: float                   # fitted displacement first → last frame, pixels
    dy: float
    frames_found: int           # frames with object pixels
    colour_share: float         # share of the votes for the winning colour

    def matches(self, expected: Dict[str, str]) -> Dict[str, bool]:
        """{field: detected == expected} for every field in ``expected`` (e.g. from :func:`parse_prompt`)."""
        return {k: getattr(self, k) == v for k, v in expected.items()}


def as_uint8_frames(video) -> np.ndarray:
    """uint8 [F, H, W, 3] from uint8 [F, H, W, 3] or float [3, F, H, W] / [1, 3, F, H, W] in [-1, 1]."""
    a = np.asarray(video)
    if a.dtype == np.uint8:
        if a.ndim != 4 or a.shape[-1] != 3:
            raise ValueError(f"uint8 frames must be [F, H, W, 3], got {list(a.shape)}")
        return a
    return world.from_model(a)


def detect(video) -> Detection:
    frames = as_uint8_frames(video).astype(np.float32)
    n, h, w, _ = frames.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    centres, votes, bgs = [], np.zeros(len(_PALETTE_NAMES), dtype=np.float64), []
    for f in range(n):
        img = frames[f]
        bg = np.median(img.reshape(-1, 3), axis=0)
        bgs.append(bg)
        strength = np.linalg.norm(img - bg, axis=-1)
        mask = strength >= MIN_DISTANCE
        if not mask.any():
            continue
        wgt = np.where(mask, strength, 0.0)
        centres.append((f, float((wgt * xs).sum() / wgt.sum()), float((wgt * ys).sum() / wgt.sum())))
        strong = strength >= max(MIN_DISTANCE, 0.5 * float(strength.max()))
        px = img[strong]
        nearest = np.argmin(((px[:, None, :] - _PALETTE[None]) ** 2).sum(-1), axis=1)
        votes += np.bincount(nearest, minlength=len(_PALETTE_NAMES))
    bg = np.median(np.stack(bgs), axis=0)
    background = min(world.BACKGROUNDS, key=lambda k: float(np.linalg.norm(bg - np.asarray(world.BACKGROUNDS[k]))))
    if votes.sum() > 0:
        colour = _PALETTE_NAMES[int(np.argmax(votes))]
        share = float(votes.max() / votes.sum())
    else:
        colour, share = "none", 0.0
    direction, speed, dx, dy = "none", "none", 0.0, 0.0
    if len(centres) >= max(2, (n + 1) // 2):
        c = np.asarray(centres, dtype=np.float64)
        fx = np.polyfit(c[:, 0], c[:, 1], 1)[0]
        fy = np.polyfit(c[:, 0], c[:, 2], 1)[0]
        dx, dy = float(fx * (n - 1)), float(fy * (n - 1))
        travel = max(abs(dx), abs(dy))
        if travel >= MIN_TRAVEL:
            if abs(dx) >= abs(dy):
                direction = "right" if dx > 0 else "left"
            else:
                direction = "down" if dy > 0 else "up"
            speed = "slowly" if travel < SPEED_SPLIT else "quickly"
    return Detection(colour, direction, speed, background, dx, dy, len(centres), share)


def parse_prompt(prompt: str) -> Dict[str, str]:
    """The attributes a prompt asks for: {colour, direction} always (KeyError-free: missing ones are absent), plus
    speed, background and shape when the prompt names them."""
    words = prompt.lower().replace(",", " ").replace(".", " ").split()
    out = {}
    for key, names in (("colour", world.COLOURS), ("shape", world.SHAPES), ("direction", world.DIRECTIONS),
                       ("speed", world.SPEEDS), ("background", world.BACKGROUNDS)):
        hit = [w for w in words if w in names]
        if hit:
            out[key] = hit[0]
    return out


# ------------------------------------------------------------------------------------------------------------ reading
def read_video(path) -> np.ndarray:
    """uint8 frames [F, H, W, 3] from an MP4 (via ffmpeg), a folder of PNGs (sorted by name), a GIF, or a .npy/.npz."""
    from PIL import Image, ImageSequence

    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".png")
        if not files:
            raise ValueError(f"no PNG frames in {p}")
        return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files], 0)
    suffix = p.suffix.lower()
    if suffix == ".gif":
        with Image.open(p) as im:
            return np.stack([np.asarray(fr.convert("RGB")) for fr in ImageSequence.Iterator(im)], 0)
    if suffix in (".mp4", ".m4v", ".mov"):
        return _read_with_ffmpeg(p)
    if suffix == ".npy":
        return as_uint8_frames(np.load(p, allow_pickle=False))
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            key = "frames" if "frames" in z.files else z.files[0]
            return as_uint8_frames(z[key])
    raise ValueError(f"cannot read {p}: use an .mp4, a PNG folder, a .gif, .npy or .npz")


def _read_with_ffmpeg(p: Path) -> np.ndarray:
    """Decodes every frame of a video file to PNGs with ffmpeg (no frame dropped or repeated), then reads them."""
    import shutil
    import subprocess
    import tempfile

    if not p.is_file():
        raise ValueError(f"cannot read {p}: no such file")
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ValueError(f"cannot read {p}: reading MP4 needs ffmpeg on the PATH (Debian: apt install ffmpeg); "
                         "or write a GIF or PNG frames instead (sora4j generate --output x.gif or --output DIR)")
    with tempfile.TemporaryDirectory(prefix="sora4j-detect-") as tmp:
        r = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(p), "-vsync", "passthrough",
                            str(Path(tmp) / "frame%05d.png")], capture_output=True, text=True)
        if r.returncode != 0:
            raise ValueError(f"ffmpeg cannot read {p}: {r.stderr.strip()}")
        return read_video(tmp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m sora4j_export.demo.detect",
                                 description="Reports the moving object's colour, direction and speed.")
    ap.add_argument("video", help=".mp4 (needs ffmpeg), PNG folder, .gif, .npy or .npz")
    ap.add_argument("--prompt", help="also say whether the video matches this prompt")
    args = ap.parse_args(argv)
    d = detect(read_video(args.video))
    for k, v in asdict(d).items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    if args.prompt:
        m = d.matches({k: v for k, v in parse_prompt(args.prompt).items() if k != "shape"})
        print("match: " + ", ".join(f"{k}={'yes' if ok else 'no'}" for k, ok in m.items()))
        return 0 if all(m.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

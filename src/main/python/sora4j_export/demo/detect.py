"""A detector for the demo world: reads a video and reports the moving object's colour, direction and speed.

Method, per frame: the background colour is the per-channel median of the frame (the object covers < 10 % of it);
a pixel's *strength* is its RGB distance from that background; object pixels are those at least
:data:`MIN_DISTANCE` away. The object's centroid is the strength-weighted mean position of its pixels. The colour is a
vote over the strong object pixels (strength ≥ half the frame's maximum) of every frame, each voting for its nearest
:data:`world.COLOURS` entry. The direction comes from a least-squares line through the centroids: the displacement from
the first to the last frame along the dominant axis (image y grows downwards, so ``up`` is negative dy); it is
``"none"`` when the object is found in fewer than half the frames or moves less than :data:`MIN_TRAVEL` pixels. The
speed is ``slowly`` below the world's split at this clip length (:func:`world.speed_split`, pixels per frame halfway
between its two speeds), else ``quickly``.

Per frame (:func:`frame_objects`, :func:`check_frames`): the object pixels are split into 8-connected blobs; each blob
of at least :data:`GHOST_MIN_PX` pixels is an object. Its colour is the median of its core (pixels at least 3/4 as far
from the background as the blob's farthest), named by the nearest palette entry; its *coverage* per pixel is the
projection of the pixel onto the background → core-colour line (0..1), its area the sum of coverage, and its shape
comes from the fill of its soft bounding box (area / (soft width × soft height), the soft width being the sum over
columns of the column's largest coverage): about 1.0 for a square, π/4 for a circle, 1/2 for the world's triangle,
which also has most of its mass in its lower half. A frame is *clean* when it holds exactly one object, of the
prompt's colour (nearest palette entry and within :data:`COLOUR_TOLERANCE` of it) and, when the prompt names one, of
its shape.

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
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import world

MIN_DISTANCE = 50.0   # RGB distance from the background for a pixel to count as object
MIN_TRAVEL = 4.0      # pixels of travel below which there is no direction (scaled by frames / 17)
GHOST_MIN_PX = 5      # a blob of object pixels this large or larger counts as an object
COLOUR_TOLERANCE = 60.0  # RGB distance between a blob's core colour and the prompt colour
SQUARE_FILL = 0.88    # soft-bounding-box fill at or above which a blob is a square
TRIANGLE_FILL = 0.64  # below which it is a triangle
TRIANGLE_TOP_SHARE = 0.38  # ... or when its upper half holds less than this share of its area
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


def detect(video, speed_split: Optional[float] = None) -> Detection:
    """The clip's attributes; ``speed_split``: px per frame between slowly and quickly (default: the world's at this
    clip length, :func:`world.speed_split`)."""
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
            split = world.speed_split(n) if speed_split is None else speed_split
            speed = "slowly" if travel / (n - 1) < split else "quickly"
    return Detection(colour, direction, speed, background, dx, dy, len(centres), share)


def parse_prompt(prompt: str) -> Dict[str, str]:
    """The attributes a prompt names, of colour, shape, direction, speed (``slow``/``fast`` count as ``slowly``/
    ``quickly``) and background; the ones it does not name are absent."""
    words = prompt.lower().replace(",", " ").replace(".", " ").split()
    synonyms = {w: canon for canon, syn in world.SPEED_WORDS.items() for w in syn}
    words = [synonyms.get(w, w) for w in words]
    out = {}
    for key, names in (("colour", world.COLOURS), ("shape", world.SHAPES), ("direction", world.DIRECTIONS),
                       ("speed", world.SPEEDS), ("background", world.BACKGROUNDS)):
        hit = [w for w in words if w in names]
        if hit:
            out[key] = hit[0]
    return out


# ---------------------------------------------------------------------------------------------------- every frame
@dataclass
class FrameObject:
    colour: str           # nearest palette entry to the core colour
    colour_error: float   # RGB distance from the core colour to that palette entry
    rgb: Tuple[float, float, float]
    shape: str            # circle / square / triangle
    area: float           # sum of coverage, pixels
    fill: float           # area / soft bounding box
    top_share: float      # share of the area in the upper half of the soft bounding box
    cx: float
    cy: float


def _shape(cov: np.ndarray) -> Tuple[str, float, float]:
    cols, rows = cov.max(axis=0), cov.max(axis=1)
    w, h = float(cols.sum()), float(rows.sum())
    area = float(cov.sum())
    fill = area / max(w * h, 1e-6)
    per_row = cov.sum(axis=1)
    ys = np.arange(len(per_row), dtype=np.float64)
    # the soft box's vertical middle: rows weighted by their largest coverage
    mid = float((rows * ys).sum() / max(rows.sum(), 1e-6))
    top = float(per_row[ys < mid].sum() + 0.5 * per_row[ys == mid].sum())
    top_share = top / max(area, 1e-6)
    if fill >= SQUARE_FILL:
        shape = "square"
    elif fill < TRIANGLE_FILL or top_share < TRIANGLE_TOP_SHARE:
        shape = "triangle"
    else:
        shape = "circle"
    return shape, fill, top_share


def dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """8-neighbour binary dilation of a [H, W] (or [F, H, W]) mask."""
    m = mask.astype(bool)
    for _ in range(iterations):
        p = np.pad(m, [(0, 0)] * (m.ndim - 2) + [(1, 1), (1, 1)])
        h, w = m.shape[-2:]
        m = np.zeros_like(m)
        for dy in range(3):
            for dx in range(3):
                m |= p[..., dy:dy + h, dx:dx + w]
    return m


def label(mask: np.ndarray) -> Tuple[np.ndarray, int]:
    """8-connected components of a [H, W] mask: (labels 1..n in raster order of their first pixel, 0 outside; n).

    Every pixel starts with its own index; each pass gives every mask pixel the smallest index among itself and its
    mask neighbours, until nothing changes (at most the longest path through a component)."""
    h, w = mask.shape
    m = mask.astype(bool)
    big = np.iinfo(np.int64).max
    lab = np.where(m, np.arange(h * w, dtype=np.int64).reshape(h, w), big)
    while True:
        p = np.pad(lab, 1, constant_values=big)
        best = lab.copy()
        for dy in range(3):
            for dx in range(3):
                np.minimum(best, p[dy:dy + h, dx:dx + w], out=best)
        best = np.where(m, best, big)
        if np.array_equal(best, lab):
            break
        lab = best
    roots = np.unique(lab[m])
    out = np.zeros((h, w), dtype=np.int32)
    if len(roots):
        out[m] = np.searchsorted(roots, lab[m]).astype(np.int32) + 1
    return out, len(roots)


def frame_objects(img: np.ndarray, bg: Optional[np.ndarray] = None) -> List[FrameObject]:
    """The objects of one uint8 frame [H, W, 3], largest first (see the module docstring)."""
    img = img.astype(np.float32)
    bg = np.median(img.reshape(-1, 3), axis=0) if bg is None else np.asarray(bg, dtype=np.float32)
    strength = np.linalg.norm(img - bg, axis=-1)
    labels, n = label(strength >= MIN_DISTANCE)
    out = []
    for i in range(1, n + 1):
        sel = labels == i
        if int(sel.sum()) < GHOST_MIN_PX:
            continue
        ys, xs = np.nonzero(sel)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        # a one-pixel rim around the blob carries the anti-aliased edge
        y0, x0 = max(0, y0 - 1), max(0, x0 - 1)
        y1, x1 = min(img.shape[0], y1 + 1), min(img.shape[1], x1 + 1)
        st = np.where(sel, strength, 0.0)
        core = img[sel & (st >= 0.75 * float(st.max()))]
        rgb = np.median(core, axis=0)
        d = rgb - bg
        patch = img[y0:y1, x0:x1] - bg
        near = dilate(sel)[y0:y1, x0:x1]
        cov = np.clip((patch @ d) / max(float(d @ d), 1e-6), 0.0, 1.0) * near
        shape, fill, top = _shape(cov)
        dist = np.linalg.norm(_PALETTE - rgb[None], axis=1)
        k = int(np.argmin(dist))
        area = float(cov.sum())
        gy, gx = np.mgrid[y0:y1, x0:x1]
        out.append(FrameObject(_PALETTE_NAMES[k], float(dist[k]), tuple(float(v) for v in rgb), shape, area, fill,
                               top, float((cov * gx).sum() / max(area, 1e-6)),
                               float((cov * gy).sum() / max(area, 1e-6))))
    out.sort(key=lambda o: -o.area)
    return out


@dataclass
class FrameCheck:
    frames: int
    clean: int                  # frames that pass
    missing: int                # frames without an object
    extra: int                  # frames with a second object
    wrong_colour: int           # frames whose object has another colour (or is too far from the prompt's)
    wrong_shape: int            # frames whose object has another shape (only when the prompt names one)
    first_bad: int              # index of the first frame that fails, -1 if none
    shapes: Dict[str, int]      # frames per detected shape of the main object

    @property
    def all_clean(self) -> bool:
        return self.clean == self.frames

    def shape_vote(self) -> str:
        return max(self.shapes, key=self.shapes.get) if self.shapes else "none"


def check_frames(video, want: Dict[str, str]) -> FrameCheck:
    """Every frame of ``video`` against the prompt's colour and (when named) shape; see :class:`FrameCheck`."""
    frames = as_uint8_frames(video)
    clean = missing = extra = wrong_c = wrong_s = 0
    first_bad, shapes = -1, {}
    for f, img in enumerate(frames):
        objs = frame_objects(img)
        ok = True
        if not objs:
            missing += 1
            ok = False
        else:
            o = objs[0]
            shapes[o.shape] = shapes.get(o.shape, 0) + 1
            if len(objs) > 1:
                extra += 1
                ok = False
            if "colour" in want and (o.colour != want["colour"] or o.colour_error > COLOUR_TOLERANCE):
                wrong_c += 1
                ok = False
            if "shape" in want and o.shape != want["shape"]:
                wrong_s += 1
                ok = False
        clean += ok
        if not ok and first_bad < 0:
            first_bad = f
    return FrameCheck(len(frames), clean, missing, extra, wrong_c, wrong_s, first_bad, shapes)


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

"""The demo's procedural video world: one coloured shape moving in a straight line over a plain background.

A clip is 17 frames of 64×64 RGB (the demo pack's trained size: latent [4, 5, 8, 8]). The object is a circle, square
or triangle of radius 6-8 px in one of :data:`COLOURS`; it moves left, right, up or down, ``slowly`` or ``quickly``,
over a ``dark`` or ``light`` background. Edges are anti-aliased (2×2 super-sampling).

Two layouts (:func:`sample_clip`):

* the *prompt world* (default; the diffusion model's training clips and the evaluation): the object starts within
  :data:`START_SPREAD` px of the centre and moves out towards the edge of its direction, :data:`PROMPT_SPEEDS` px over
  the clip (14 slowly, 22 quickly), within :data:`PERPENDICULAR_SPREAD` px of the centre line;
* the *wide* layout (``wide=True``; the autoencoders' training clips): :data:`SPEEDS` px over the clip (24 slowly, 40
  quickly), the path anywhere inside the frame.

Why centre-out: STDiT3 has no absolute temporal position (its temporal attention uses RoPE, which sees only frame
offsets), so at high noise a token cannot tell the first latent frame from the last, and the model can only learn the
time average of the videos a prompt describes. When a path crosses the whole frame, "moving left" and "moving right"
have the same time average (a stripe across the frame): trained that way, the demo model learnt colours but moved its
objects in random directions (its left-minus-right prediction at t = 1000 had cosine ≈ 0 with the data's). Starting
at the centre, "moving left" averages to the left half and "moving right" to the right half, which the spatial
position embedding can place like a colour; the sign of the motion is then the same rule for every prompt (away from
the centre), which relative temporal attention can express.

Captions use only words of the project tokenizer (tokenizer.py's vocabulary), in four templates, e.g.
``"a red circle moving left slowly on a dark background"`` (template 0) down to ``"a red circle moving left"``
(template 3; speed and background are then random).

Held-out prompts: :data:`HELD_OUT_TRIPLES` lists 12 (colour, shape, direction) triples that the training script never
shows in any caption (nor in any video); the quality evaluation prompts with them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

FRAMES, HEIGHT, WIDTH = 17, 64, 64
FPS = 24

#: object colours, RGB 0..255 (every name is a tokenizer word)
COLOURS = OrderedDict([
    ("red", (220, 40, 40)),
    ("yellow", (235, 215, 40)),
    ("green", (40, 190, 60)),
    ("cyan", (40, 200, 215)),
    ("blue", (50, 80, 235)),
    ("purple", (160, 60, 210)),
    ("white", (245, 245, 245)),
])
#: background colours
BACKGROUNDS = OrderedDict([
    ("dark", (24, 24, 28)),
    ("light", (170, 170, 170)),
])
SHAPES = ("circle", "square", "triangle")
DIRECTIONS = ("left", "right", "up", "down")
#: unit vectors (dx, dy) in image coordinates (y grows downwards)
DIRECTION_VECTORS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
#: total displacement in pixels from the first to the last frame
SPEEDS = OrderedDict([("slowly", 24.0), ("quickly", 40.0)])
RADIUS_RANGE = (6.0, 8.0)
MARGIN = 1.0  # pixels kept free between the object's extent and the frame border
PROMPT_SPEEDS = OrderedDict([("slowly", 14.0), ("quickly", 22.0)])  # prompt world: px over the clip
START_SPREAD = 3.0  # prompt world: the start lies within ± this many px of the centre along the motion
PERPENDICULAR_SPREAD = 6.0  # prompt world: the path lies within ± this many px of the centre line

TEMPLATES = (
    "a {colour} {shape} moving {direction} {speed} on a {background} background",
    "a {colour} {shape} moving {direction} on a {background} background",
    "a {colour} {shape} moving {direction} {speed}",
    "a {colour} {shape} moving {direction}",
)
#: sampling weights of the templates in training
TEMPLATE_WEIGHTS = (0.4, 0.2, 0.2, 0.2)


def _all_triples() -> List[Tuple[str, str, str]]:
    return [(c, s, d) for c in COLOURS for s in SHAPES for d in DIRECTIONS]


def _held_out() -> Tuple[Tuple[str, str, str], ...]:
    """12 triples, every colour, shape and direction at least once, none twice in the same (colour, shape) or
    (colour, direction) pair; never the README's "red circle left"."""
    colours, out = list(COLOURS), []
    for i in range(12):
        c = colours[(i * 3) % len(colours)]
        s = SHAPES[i % len(SHAPES)]
        d = DIRECTIONS[(i + i // 4 + 1) % len(DIRECTIONS)]
        out.append((c, s, d))
    assert ("red", "circle", "left") not in out and len(set(out)) == len(out)
    return tuple(out)


HELD_OUT_TRIPLES = _held_out()
TRAIN_TRIPLES = tuple(t for t in _all_triples() if t not in set(HELD_OUT_TRIPLES))


@dataclass(frozen=True)
class Clip:
    """One clip of the world: what moves, how, and where it starts (pixel coordinates of the shape's centre)."""

    colour: str
    shape: str
    direction: str
    speed: str
    background: str
    x0: float
    y0: float
    radius: float
    frames: int = FRAMES
    height: int = HEIGHT
    width: int = WIDTH
    travel_px: float = 0.0  # px over a FRAMES-frame clip; 0: SPEEDS[speed] (the wide layout)

    @property
    def triple(self) -> Tuple[str, str, str]:
        return self.colour, self.shape, self.direction

    def caption(self, template: int = 0) -> str:
        return TEMPLATES[template].format(colour=self.colour, shape=self.shape, direction=self.direction,
                                          speed=self.speed, background=self.background)

    def velocity(self) -> Tuple[float, float]:
        """Pixels per frame (dx, dy)."""
        ux, uy = DIRECTION_VECTORS[self.direction]
        step = self.travel() / max(self.frames - 1, 1)
        return ux * step, uy * step

    def travel(self) -> float:
        """Pixels the object moves over the whole clip."""
        base = self.travel_px if self.travel_px > 0 else SPEEDS[self.speed]
        return base * (self.frames - 1) / max(FRAMES - 1, 1)

    def centre(self, f: int) -> Tuple[float, float]:
        vx, vy = self.velocity()
        return self.x0 + vx * f, self.y0 + vy * f


def sample_clip(rng: np.random.Generator, triples: Optional[Sequence[Tuple[str, str, str]]] = None, *,
                speed: Optional[str] = None, background: Optional[str] = None, wide: bool = False,
                frames: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> Clip:
    """A random clip. ``triples`` restricts (colour, shape, direction) (default: :data:`TRAIN_TRIPLES`).

    Default: the prompt world (start at the centre, moving out). ``wide=True``: the path anywhere inside the frame.
    Both draw the same random numbers in the same order.
    """
    triples = TRAIN_TRIPLES if triples is None else triples
    colour, shape, direction = triples[int(rng.integers(len(triples)))]
    speed = speed or list(SPEEDS)[int(rng.integers(len(SPEEDS)))]
    background = background or list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    radius = float(rng.uniform(*RADIUS_RANGE))
    travel_px = 0.0 if wide else PROMPT_SPEEDS[speed]
    travel = (travel_px or SPEEDS[speed]) * (frames - 1) / max(FRAMES - 1, 1)
    ux, uy = DIRECTION_VECTORS[direction]
    lo = radius + MARGIN
    hi_x, hi_y = width - 1 - radius - MARGIN, height - 1 - radius - MARGIN

    def along(hi, size):  # start coordinate along the motion (for a positive direction; mirrored below)
        if wide:  # anywhere, so that the whole path stays inside [lo, hi]
            return float(rng.uniform(lo, hi - travel))
        c = (size - 1) / 2.0
        return float(rng.uniform(max(lo, c - START_SPREAD), min(hi - travel, c + START_SPREAD)))

    def across(hi, size):
        if wide:
            return float(rng.uniform(lo, hi))
        c = (size - 1) / 2.0
        return float(rng.uniform(max(lo, c - PERPENDICULAR_SPREAD), min(hi, c + PERPENDICULAR_SPREAD)))

    if ux != 0:
        x0 = along(hi_x, width)
        x0 = x0 if ux > 0 else (lo + hi_x) - x0  # moving left: start on the right side
        y0 = across(hi_y, height)
    else:
        y0 = along(hi_y, height)
        y0 = y0 if uy > 0 else (lo + hi_y) - y0
        x0 = across(hi_x, width)
    return Clip(colour, shape, direction, speed, background, x0, y0, radius, frames, height, width, travel_px)


def sample_template(rng: np.random.Generator) -> int:
    return int(rng.choice(len(TEMPLATES), p=np.asarray(TEMPLATE_WEIGHTS) / sum(TEMPLATE_WEIGHTS)))


# ---------------------------------------------------------------------------------------------------------- rendering
def _inside(shape: str, x: np.ndarray, y: np.ndarray, cx: float, cy: float, r: float) -> np.ndarray:
    dx, dy = x - cx, y - cy
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        h = 0.85 * r
        return (np.abs(dx) <= h) & (np.abs(dy) <= h)
    if shape == "triangle":  # apex up at (cx, cy - r), base at cy + 0.8 r from cx - r to cx + r
        return (dy <= 0.8 * r) & (dy >= -r) & (np.abs(dx) <= (dy + r) / 1.8)
    raise ValueError(f"unknown shape {shape!r}")


def coverage(clip: Clip, f: int, supersample: int = 2) -> np.ndarray:
    """Fraction of each pixel covered by the object in frame f: float32 [H, W] in [0, 1]."""
    s = supersample
    ys = (np.arange(clip.height * s, dtype=np.float64) + 0.5) / s - 0.5
    xs = (np.arange(clip.width * s, dtype=np.float64) + 0.5) / s - 0.5
    cx, cy = clip.centre(f)
    m = _inside(clip.shape, xs[None, :], ys[:, None], cx, cy, clip.radius).astype(np.float32)
    return m.reshape(clip.height, s, clip.width, s).mean(axis=(1, 3))


def render(clip: Clip, supersample: int = 2) -> np.ndarray:
    """The clip as uint8 frames [F, H, W, 3]."""
    return np.stack([render_frame(clip, f, supersample) for f in range(clip.frames)], 0)


def render_frame(clip: Clip, f: int, supersample: int = 2) -> np.ndarray:
    a = coverage(clip, f, supersample)[..., None]
    fg = np.asarray(COLOURS[clip.colour], dtype=np.float32)
    bg = np.asarray(BACKGROUNDS[clip.background], dtype=np.float32)
    return np.clip(np.rint(a * fg + (1.0 - a) * bg), 0, 255).astype(np.uint8)


def object_masks(clip: Clip) -> np.ndarray:
    """Per-frame coverage [F, H, W] float32 (the ground-truth object masks)."""
    return np.stack([coverage(clip, f) for f in range(clip.frames)], 0)


def to_model(frames: np.ndarray) -> np.ndarray:
    """uint8 [F, H, W, 3] → float32 [3, F, H, W] in [-1, 1] (the VAE's pixel convention)."""
    return (frames.astype(np.float32) / 127.5 - 1.0).transpose(3, 0, 1, 2).copy()


def from_model(x) -> np.ndarray:
    """float [3, F, H, W] (or [1, 3, F, H, W]) in about [-1, 1] → uint8 [F, H, W, 3], as sora4j writes frames."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 5:
        a = a[0]
    return np.clip(np.rint((a + 1.0) * 127.5), 0, 255).astype(np.uint8).transpose(1, 2, 3, 0).copy()


def caption_words() -> List[str]:
    """Every word the captions use (all are in the project tokenizer's vocabulary)."""
    words = set()
    for t in TEMPLATES:
        words.update(w for w in t.split() if not w.startswith("{"))
    for group in (COLOURS, SHAPES, DIRECTIONS, SPEEDS, BACKGROUNDS):
        words.update(group)
    return sorted(words)


def held_out_clips(seed: int, per_combo: int = 1, template: int = 0) -> List[Tuple[Clip, str]]:
    """The evaluation set: every held-out triple × speed × background, ``per_combo`` clips each (seeded positions),
    with its caption."""
    rng = np.random.default_rng(seed)
    out = []
    for triple in HELD_OUT_TRIPLES:
        for speed in SPEEDS:
            for bg in BACKGROUNDS:
                for _ in range(per_combo):
                    clip = sample_clip(rng, [triple], speed=speed, background=bg)
                    out.append((clip, clip.caption(template)))
    return out

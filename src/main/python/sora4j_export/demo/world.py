"""The demo's procedural video world: one coloured shape moving in a straight line over a plain background.

A clip is :data:`FRAMES` = 51 frames of 64×64 RGB at 24 fps (v2; the v1 pack was trained on :data:`FRAMES_V1` = 17).
51 frames are three of the VAE's 17-frame chunks, i.e. 15 latent frames (latent [4, 15, 8, 8]), one of Open-Sora's own
latent lengths, so that TDTM has frame pairs to merge. The object is a circle, square or triangle of radius 8-10 px (v1: 6-8) in
one of :data:`COLOURS`; it moves left, right, up or down, ``slowly`` or ``quickly``, over a ``dark`` or ``light``
background. Edges are anti-aliased (2×2 super-sampling).

Two layouts (:func:`sample_clip`):

* the *prompt world* (default; the diffusion model's training clips and the evaluation): the object starts within
  :data:`START_SPREAD` px of the centre and moves out towards the edge of its direction, :func:`prompt_travel` px over
  the clip (51 frames: 10 slowly, 22 quickly, i.e. 0.2 and 0.44 px per frame; 17 frames, v1: 14 and 22), within
  :data:`PERPENDICULAR_SPREAD` px of the centre line;
* the *wide* layout (``wide=True``; the autoencoders' training clips, 17 frames): :data:`SPEEDS` px over 17 frames
  (24 slowly, 40 quickly), the path anywhere inside the frame.

Why centre-out: STDiT3 has no absolute temporal position (its temporal attention uses RoPE, which sees only frame
offsets), so at high noise a token cannot tell the first latent frame from the last, and the model can only learn the
time average of the videos a prompt describes. When a path crosses the whole frame, "moving left" and "moving right"
have the same time average (a stripe across the frame): trained that way, the demo model learnt colours but moved its
objects in random directions (its left-minus-right prediction at t = 1000 had cosine ≈ 0 with the data's). Starting
at the centre, "moving left" averages to the left half and "moving right" to the right half, which the spatial
position embedding can place like a colour; the sign of the motion is then the same rule for every prompt (away from
the centre), which relative temporal attention can express.

Captions (v2, :func:`sample_caption_form` and :func:`caption`) use only words of the project tokenizer's vocabulary
(:func:`caption_words`, the pack's declared vocabulary). A caption names a random subset of the attributes, in one of
several word orders and phrasings, e.g. ``"a red circle moving left slowly on a dark background"``, ``"blue square"``,
``"moving up, a green triangle"``, ``"fast moving right, a yellow shape on a light background"``. An attribute the
caption does not name is random in the clip, except the background: a caption without one always shows the dark
background (the world's default), so a prompt without background words has one right answer instead of a blend of
two. v1 used four fixed templates that always named colour, shape and direction (:data:`TEMPLATES`, kept for
:meth:`Clip.caption`).

Held-out prompts: :data:`HELD_OUT_TRIPLES` lists 12 (colour, shape, direction) triples that the training script never
shows in any caption (nor in any video); the quality evaluation prompts with them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

FRAMES, HEIGHT, WIDTH = 51, 64, 64
FRAMES_V1 = 17  # the v1 pack's clip length, and the VAE's chunk (micro frame size): 17 frames ↔ 5 latent frames
CHUNK_FRAMES = 17
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
RADIUS_RANGE = (8.0, 10.0)  # v1: (6, 8); larger shapes keep their corners through the 8x VAE
MARGIN = 1.0  # pixels kept free between the object's extent and the frame border
PROMPT_SPEEDS = OrderedDict([("slowly", 10.0), ("quickly", 22.0)])  # prompt world: px over FRAMES frames
PROMPT_SPEEDS_V1 = OrderedDict([("slowly", 14.0), ("quickly", 22.0)])  # v1 prompt world: px over 17 frames
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
    travel_px: float = 0.0  # px over this clip's frames; 0: SPEEDS[speed] scaled from 17 frames (the wide layout)

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
        if self.travel_px > 0:
            return self.travel_px
        return SPEEDS[self.speed] * (self.frames - 1) / (FRAMES_V1 - 1)

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
    travel_px = 0.0 if wide else prompt_travel(speed, frames)
    travel = travel_px or SPEEDS[speed] * (frames - 1) / (FRAMES_V1 - 1)
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


def prompt_travel(speed: str, frames: int = FRAMES) -> float:
    """Pixels the prompt world's object moves over a clip of ``frames`` frames (17 frames: the v1 world)."""
    if frames == FRAMES_V1:
        return PROMPT_SPEEDS_V1[speed]
    return PROMPT_SPEEDS[speed] * (frames - 1) / (FRAMES - 1)


def speed_split(frames: int = FRAMES) -> float:
    """Pixels per frame halfway between the prompt world's ``slowly`` and ``quickly`` at this clip length."""
    return (prompt_travel("slowly", frames) + prompt_travel("quickly", frames)) / 2.0 / max(frames - 1, 1)


SPEED_SPLIT_PX_PER_FRAME = speed_split(FRAMES)


def sample_template(rng: np.random.Generator) -> int:
    return int(rng.choice(len(TEMPLATES), p=np.asarray(TEMPLATE_WEIGHTS) / sum(TEMPLATE_WEIGHTS)))


# ------------------------------------------------------------------------------------------------- captions (v2)
#: synonyms a caption may use for a speed (the first is the canonical word)
SPEED_WORDS = {"slowly": ("slowly", "slow"), "quickly": ("quickly", "fast")}
#: probability that a caption names each attribute (a light background is always named: see the module docstring)
NAME_PROBABILITY = {"colour": 0.85, "shape": 0.8, "direction": 0.85, "speed": 0.5, "background": 0.45}
#: word orders of the three phrases, and their weights
ORDERS = (("object", "motion", "background"), ("motion", ",", "object", "background"),
          ("object", "background", "motion"), ("background", ",", "object", "motion"))
ORDER_WEIGHTS = (0.55, 0.2, 0.15, 0.1)


@dataclass(frozen=True)
class CaptionForm:
    """How one caption is worded, independent of the clip's values: which attributes it names, the word order and the
    phrasing. All captions of one form have the same number of words (a training batch shares one form)."""

    named: Tuple[str, ...]      # subset of colour, shape, direction, speed, background
    order: Tuple[str, ...]      # one of ORDERS
    article: bool               # "a red circle" / "red circle"
    verb: str                   # "moving" / "moves"
    speed_first: bool           # "slowly moving left" / "moving left slowly"
    speed_synonym: bool         # "slow"/"fast" instead of "slowly"/"quickly"
    short_background: bool      # "dark background" / "on a dark background"

    def names(self, attribute: str) -> bool:
        return attribute in self.named


FULL_FORM = CaptionForm(("colour", "shape", "direction", "speed", "background"), ORDERS[0], True, "moving", False,
                        False, False)


def sample_caption_form(rng: np.random.Generator, background_required: bool = False,
                        shape_required: bool = False) -> CaptionForm:
    """A random :class:`CaptionForm` that names at least one attribute; ``background_required``: it names the
    background (for light-background clips); ``shape_required``: it names the shape (for batches of one shape).
    The random draws are the same whatever the flags, so a flag changes only what the form names."""
    while True:
        named = tuple(k for k, p in NAME_PROBABILITY.items()
                      if (k == "background" and background_required) | (k == "shape" and shape_required)
                      | (float(rng.random()) < p))
        if named:
            break
    order = ORDERS[int(rng.choice(len(ORDERS), p=np.asarray(ORDER_WEIGHTS) / sum(ORDER_WEIGHTS)))]
    return CaptionForm(named, order, bool(rng.random() < 0.75), "moving" if rng.random() < 0.8 else "moves",
                       bool(rng.random() < 0.25), bool(rng.random() < 0.3), bool(rng.random() < 0.25))


def caption(clip: "Clip", form: CaptionForm = FULL_FORM) -> str:
    """The clip's caption in ``form``; raises ValueError when the form leaves out a light background."""
    if not form.names("background") and clip.background != "dark":
        raise ValueError(f"a caption without background words shows the dark background, not {clip.background!r}")
    n = form.names
    obj = [clip.colour] if n("colour") else []
    if n("shape"):
        obj.append(clip.shape)
    elif obj:
        obj.append("shape")
    if obj and form.article:
        obj.insert(0, "a")
    motion = []
    speed = SPEED_WORDS[clip.speed][1 if form.speed_synonym else 0] if n("speed") else None
    if n("direction"):
        motion = [form.verb, clip.direction]
        if speed:
            motion = [speed] + motion if form.speed_first else motion + [speed]
    elif speed:
        motion = [form.verb, speed]
    bg = []
    if n("background"):
        bg = [clip.background, "background"] if form.short_background else ["on", "a", clip.background, "background"]
    parts = {"object": obj, "motion": motion, "background": bg}
    words: List[str] = []
    for p in form.order:
        if p == ",":
            if words:
                words.append(",")
            continue
        words.extend(parts[p])
    text = " ".join(words).replace(" ,", ",")
    return text[:-1] if text.endswith(",") else text


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


#: the tokens of the aesthetic-score suffix the prompt preparation appends to every caption (" aesthetic score: 6.5.")
SUFFIX_WORDS = ("aesthetic", "score", ":", ".", "6", "5")


def declared_vocabulary(v1: bool = False) -> List[str]:
    """The demo pack's declared vocabulary (manifest ``text.vocabulary``): every word its training captions used,
    with the suffix tokens; ``v1``: the v1 pack's (its four templates)."""
    words = set(SUFFIX_WORDS)
    if v1:
        for t in TEMPLATES:
            words.update(w for w in t.split() if not w.startswith("{"))
        for group in (COLOURS, SHAPES, DIRECTIONS, SPEEDS, BACKGROUNDS):
            words.update(group)
    else:
        words.update(caption_words())
    return sorted(words)


def caption_words() -> List[str]:
    """Every word the captions (v1 templates and v2 forms) use, all in the project tokenizer's vocabulary."""
    words = {"moving", "moves", "shape", "background", "on", "a", ","}
    for t in TEMPLATES:
        words.update(w for w in t.split() if not w.startswith("{"))
    for group in (COLOURS, SHAPES, DIRECTIONS, SPEEDS, BACKGROUNDS):
        words.update(group)
    for syn in SPEED_WORDS.values():
        words.update(syn)
    return sorted(words)


def held_out_clips(seed: int, per_combo: int = 1, template: int = 0,
                   frames: int = FRAMES) -> List[Tuple[Clip, str]]:
    """The evaluation set: every held-out triple × speed × background, ``per_combo`` clips each (seeded positions),
    with its caption."""
    rng = np.random.default_rng(seed)
    out = []
    for triple in HELD_OUT_TRIPLES:
        for speed in SPEEDS:
            for bg in BACKGROUNDS:
                for _ in range(per_combo):
                    clip = sample_clip(rng, [triple], speed=speed, background=bg, frames=frames)
                    out.append((clip, clip.caption(template)))
    return out

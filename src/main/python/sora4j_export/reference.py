"""Eager PyTorch reference sampler: the ground truth the Java side must reproduce.

Uses the same modules that the exporter scripts into pack blocks, but runs them eagerly (no TorchScript). It implements
Open-Sora v1.2's rectified-flow sampler with classifier-free guidance (docs: /work/shared/research/algorithms.md §2.5) and
the On-device Sora techniques LPL (§3.4) and TDTM (§4).

Numerical conventions (the Java port follows them):

* The timestep schedule is computed in float32 with upstream's operation order (:func:`timesteps`), so the values fed
  to the STDiT embed block are bit-equal to upstream's; its transform uses the latent frame count T of the
  request (not upstream's ``(F // 17) * 5``, which differs when F is not a multiple of 17). ``dt`` is the float32
  difference of two timesteps; ``dt/num_timesteps`` is computed in float64 and cast to float32 once (the correctly
  rounded float32 quotient, as upstream's), then ``z = z + v * dt32`` in float32.
* CFG: ``v = v_u + guidance * (v_c - v_u)`` in float32, on output channels 0..3 (the sigma half is ignored).
* Cosines for dynamic LPL are computed in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------------------------------
# Timestep schedule (§2.5)


def transform_latent_frames(num_frames: int, *, upstream_nf: bool = False) -> int:
    """Frame count ``nf`` of the timestep transform: the VAE latent frame count T of the request (sora4j's rule).

    T follows the VAE's temporal rule (:meth:`sora4j_export.vae.VAEConfig.latent_size`, v1.2 micro sizes): every full
    chunk of 17 pixel frames gives 5 latent frames, a remainder of r frames gives ceil(r/4), 1 frame gives 1. So
    68 → 20, 34 → 10, 17 → 5, 20 → 6, 16 → 4, 1 → 1. The Java side (``RectifiedFlow``) uses the same count.

    With ``upstream_nf=True`` it is upstream's formula verbatim (:func:`upstream_transform_latent_frames`):
    ``(num_frames // 17) * 5`` (1 for an image). Both agree for every multiple of 17 and for 1 frame; upstream ignores
    the remainder chunk (20 → 5) and is 0 below 17 frames, which collapses the schedule (``[nan, 0, 0, …]``).
    """
    if upstream_nf:
        return upstream_transform_latent_frames(num_frames)
    if num_frames < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    from .vae import VAEConfig

    return VAEConfig.v1_2().latent_size(int(num_frames), 1, 1)[0]


def upstream_transform_latent_frames(num_frames: int) -> int:
    """Upstream Open-Sora v1.2's ``num_frames`` for the transform: 1 for an image, else ``(num_frames // 17) * 5``."""
    return 1 if num_frames == 1 else (num_frames // 17) * 5


def discrete_timesteps(steps: int, num_timesteps: int = 1000) -> List[int]:
    """``t_i = round((1 - i/K) * num_timesteps)`` for i = 0..K-1, Python (banker's) rounding of the float64 product."""
    return [int(round((1.0 - i / steps) * num_timesteps)) for i in range(steps)]


def timesteps(steps: int, num_frames: int, height: int, width: int, *, transform: bool = True, scale: float = 1.0,
              num_timesteps: int = 1000, upstream_nf: bool = False) -> List[float]:
    """The K timesteps t'_0..t'_{K-1} (float32 values, on the 0..num_timesteps scale) of the rectified-flow sampler.

    ``height``/``width`` are pixels, ``num_frames`` the pixel frame count. With ``transform``:
    ``tau = t/N; ratio = sqrt(H*W/512^2) * sqrt(nf) * scale; t' = N * ratio*tau / (1 + (ratio-1)*tau)`` where nf is
    the latent frame count T of the request (:func:`transform_latent_frames`; 34 → 10, 16 → 4). This equals upstream
    for every multiple of 17 frames and for 1 frame (so §2.5's 68-frame table is unchanged) and avoids upstream's
    degenerate schedule below 17 frames. ``upstream_nf=True`` uses upstream's ``(F // 17) * 5`` instead (for comparisons
    with Open-Sora itself; below 17 frames that gives ``[nan, 0, 0, …]`` exactly as upstream's tensor code does).
    """
    if steps <= 0:
        raise ValueError("steps must be positive")
    discrete = discrete_timesteps(steps, num_timesteps)
    ts = [float(t) for t in discrete]
    if not transform:
        return ts
    nf = transform_latent_frames(num_frames, upstream_nf=upstream_nf)
    # float32 tensor arithmetic in upstream's order (timestep_transform of Open-Sora v1.2), so the values are the
    # float32 timesteps upstream feeds to the model, bit for bit
    f32 = torch.float32
    t = torch.tensor(discrete, dtype=torch.int64) / num_timesteps
    resolution = torch.tensor([float(height)], dtype=f32) * torch.tensor([float(width)], dtype=f32)
    ratio_space = (resolution / (512 * 512)).sqrt()
    ratio_time = (torch.tensor([float(nf)], dtype=f32) / 1).sqrt()
    ratio = ratio_space * ratio_time * float(scale)
    new_t = ratio * t / (1 + (ratio - 1) * t)
    return [float(v) for v in (new_t * num_timesteps)]


def step_dt(ts: Sequence[float], i: int, leap: bool = False) -> float:
    """Euler step size of step i: ``t'_i - t'_{i+1}`` rounded to float32 (upstream subtracts float32 tensors), or
    ``t'_i`` at the last step or when leaping."""
    if leap or i == len(ts) - 1:
        return float(ts[i])
    return float(np.float32(float(ts[i]) - float(ts[i + 1])))


# ---------------------------------------------------------------------------------------------------------------------
# Prompt encoding (§2.1)


def prepare_prompt(prompt: str, aesthetic_score: Optional[float] = 6.5) -> str:
    """``with_aesthetic_score(clean_prompt(prompt), aesthetic_score)``: the subset of upstream's preparation that the
    references' plain prompts need. The Java pipeline prepares prompts exactly as upstream does (``Prompts.prepare``:
    append the score, then Open-Sora's ``clean_caption`` twice; checked against upstream in
    ``src/test/resources/upstream/captions.json``); for plain prompts (words, spaces, case) both give the same text."""
    from . import tokenizer as tok

    text = tok.clean_prompt(prompt)
    if aesthetic_score is not None:
        text = tok.with_aesthetic_score(text, aesthetic_score)
    return text


@torch.no_grad()
def encode_prompt(t5, tokenizer, prompt: str, max_length: int, aesthetic_score: Optional[float] = 6.5):
    """Tokenize and encode a prompt with the eager T5 encoder.

    Returns ``(y [1, Lt, D] float32, mask [1, Lt] int64, ids [1, Lt] int64)`` with ``Lt = max_length``.
    """
    text = prepare_prompt(prompt, aesthetic_score)
    ids, mask = tokenizer.encode(text, max_length)
    ids = torch.as_tensor(np.asarray(ids), dtype=torch.int64).reshape(1, -1)
    mask = torch.as_tensor(np.asarray(mask), dtype=torch.int64).reshape(1, -1)
    y = t5(ids, mask)
    if isinstance(y, (tuple, list)):
        y = y[0]
    return y.float(), mask, ids


# ---------------------------------------------------------------------------------------------------------------------
# TDTM token merging (§4)


def merge_frames(x: torch.Tensor, T: int, S: int) -> torch.Tensor:
    """Average temporally adjacent frame pairs (2i, 2i+1) of tokens ordered (t, s).

    ``x`` [B, T*S, C] → [B, ceil(T/2)*S, C]. With odd T the last frame is its own group and is kept unchanged.
    The average is ``(a + b) / 2`` in the input dtype.
    """
    B, N, C = x.shape
    if N != T * S:
        raise ValueError(f"token count {N} != T*S = {T}*{S}")
    x4 = x.reshape(B, T, S, C)
    te = T - (T % 2)
    merged = (x4[:, 0:te:2] + x4[:, 1:te:2]) / 2
    if T % 2 == 1:
        merged = torch.cat([merged, x4[:, T - 1:T]], dim=1)
    return merged.reshape(B, ((T + 1) // 2) * S, C)


def unmerge_frames(x: torch.Tensor, T: int, S: int) -> torch.Tensor:
    """Inverse layout of :func:`merge_frames`: repeat each group for both of its frames and keep exactly T frames.

    ``x`` [B, ceil(T/2)*S, C] → [B, T*S, C].
    """
    B, N, C = x.shape
    tm = (T + 1) // 2
    if N != tm * S:
        raise ValueError(f"token count {N} != ceil(T/2)*S = {tm}*{S}")
    x4 = x.reshape(B, tm, S, C)
    return torch.repeat_interleave(x4, 2, dim=1)[:, :T].reshape(B, T * S, C)


TDTM_SORA4J = "sora4j"
TDTM_UPSTREAM = "upstream"


def upstream_drops_last(T: int) -> bool:
    """Whether the paper's code's TDTM rule drops the last frame at T (T ≡ 3 mod 4 except 31; Java:
    ``UpstreamTemporalTokenMerger``). Where upstream's unmerge fails (T ≡ 1 mod 4, T ≡ 2 mod 4 other than 30, T = 31)
    both rules are the project's."""
    return T % 4 == 3 and T != 31


def merge_frames_rule(x: torch.Tensor, T: int, S: int, rule: str = TDTM_SORA4J) -> torch.Tensor:
    """:func:`merge_frames`, or with ``rule="upstream"`` and T ≡ 3 (mod 4) the pairs of the first T-1 frames (the
    last frame is dropped, as upstream's ``merge.merge`` does)."""
    if rule == TDTM_UPSTREAM and upstream_drops_last(T):
        B, N, C = x.shape
        return merge_frames(x.reshape(B, T, S, C)[:, :T - 1].reshape(B, (T - 1) * S, C), T - 1, S)
    return merge_frames(x, T, S)


def unmerge_frames_rule(x: torch.Tensor, T: int, S: int, rule: str = TDTM_SORA4J) -> torch.Tensor:
    """:func:`unmerge_frames`, or with ``rule="upstream"`` and T ≡ 3 (mod 4) each pair repeated and the last pair's
    output copied onto the dropped last frame (upstream's ``merge.unmerge``)."""
    if rule == TDTM_UPSTREAM and upstream_drops_last(T):
        B, N, C = x.shape
        full = unmerge_frames(x, T - 1, S).reshape(B, T - 1, S, C)
        return torch.cat([full, full[:, -1:]], dim=1).reshape(B, T * S, C)
    return unmerge_frames(x, T, S)


def merged_frame_count(T: int, rule: str = TDTM_SORA4J) -> int:
    return (T - 1) // 2 if rule == TDTM_UPSTREAM and upstream_drops_last(T) else (T + 1) // 2


# ---------------------------------------------------------------------------------------------------------------------
# LPL (§3.4)

LPL_OFF = "off"
LPL_FIXED = "fixed"
LPL_DYNAMIC = "dynamic"
COS_FULL_TENSOR = "full_tensor"
COS_SLICE_B0_C0_F0_ROWWISE = "slice_b0_c0_f0_rowwise"
COS_EPS = 1e-8


@dataclass
class LplConfig:
    """Linear Proportional Leap settings.

    mode:               ``"off"``, ``"fixed"`` or ``"dynamic"``.
    target_step:        FIXED: 0-based index n of the leaping step. Step n uses ``dt = t'_n`` and sampling stops, so the
                        model runs n+1 times (n=15 → 16 calls). n ≥ K-1 is the plain run.
    min_step_fraction:  DYNAMIC: first measured step index ``m = max(1, ceil(min_step_fraction*K) - 1)`` (14 for K=30).
    cos_tolerance:      DYNAMIC: an improvement must exceed the best cosine by more than this (paper 1e-4; upstream 1e-3).
    patience:           DYNAMIC: number of consecutive non-improving measurements that trigger the leap (upstream 3).
    cosine_scope:       ``"full_tensor"`` (cosine of the flattened CFG velocities [1,4,T,H',W']) or
                        ``"slice_b0_c0_f0_rowwise"`` (upstream: v[0,0,0] is [H',W'], cosine of each row over W', mean over rows).
    """

    mode: str = LPL_DYNAMIC
    target_step: int = 15
    min_step_fraction: float = 0.5
    cos_tolerance: float = 1e-4
    patience: int = 3
    cosine_scope: str = COS_FULL_TENSOR
    first_step: Optional[int] = None      # DYNAMIC: measure from this step for every K (upstream: 14)
    initial_best: float = -math.inf       # DYNAMIC: best cosine before the first measurement (upstream: 0)

    @staticmethod
    def fixed(target_step: int = 15) -> "LplConfig":
        return LplConfig(mode=LPL_FIXED, target_step=target_step)

    @staticmethod
    def dynamic(**kw) -> "LplConfig":
        return LplConfig(mode=LPL_DYNAMIC, **kw)

    @staticmethod
    def dynamic_upstream() -> "LplConfig":
        """The paper's code (On-device Sora 47a90a5, ``RFLOW.compute_cosine_simularity``): tolerance 1e-3, the
        v[0,0,0] row-wise cosine, best starting at 0, measured from step 14 for every K (Java:
        ``StepSchedulers.lplDynamicUpstream()``)."""
        return LplConfig(mode=LPL_DYNAMIC, cos_tolerance=1e-3, cosine_scope=COS_SLICE_B0_C0_F0_ROWWISE, first_step=14,
                         initial_best=0.0)

    def first_measured_step(self, steps: int) -> int:
        if self.first_step is not None:
            return self.first_step
        return max(1, int(math.ceil(self.min_step_fraction * steps)) - 1)


def velocity_cosine(v_prev: torch.Tensor, v: torch.Tensor, scope: str = COS_FULL_TENSOR) -> float:
    """Cosine similarity of two CFG velocities [1, 4, T, H', W'] in float64.

    full_tensor: ``dot(a, b) / max(|a|*|b|, 1e-8)`` over all elements.
    slice_b0_c0_f0_rowwise: a = v[0,0,0] [H', W']; per row r: ``dot(a_r, b_r) / max(|a_r|*|b_r|, 1e-8)``; mean over rows.
    """
    a = v.detach().to(torch.float64)
    b = v_prev.detach().to(torch.float64)
    if scope == COS_FULL_TENSOR:
        a = a.reshape(-1)
        b = b.reshape(-1)
        den = max(float(torch.linalg.vector_norm(a)) * float(torch.linalg.vector_norm(b)), COS_EPS)
        return float(torch.dot(a, b)) / den
    if scope == COS_SLICE_B0_C0_F0_ROWWISE:
        a = a[0, 0, 0]
        b = b[0, 0, 0]
        num = (a * b).sum(dim=1)
        den = torch.clamp(torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b, dim=1), min=COS_EPS)
        return float((num / den).mean())
    raise ValueError(f"unknown cosine scope {scope!r}")


class LplState:
    """Per-generation LPL state machine. Call :meth:`update` once per step i (0-based), after CFG, with that step's v.

    DYNAMIC rule: a cosine needs the previous velocity, so the measurement at step i is ``cos(v_{i-1}, v_i)``; steps are
    measured from ``m = first_measured_step(K)`` on (m ≥ 1, 14 for K=30; the velocity of step m-1 is kept for it).
    ``best`` starts at -inf, ``count`` at ``patience``. At each measured step:
    ``if cos > best + tol: best = cos; count = patience  else: count -= 1``; when ``count`` reaches 0 the current step
    leaps (its update uses ``dt = t'_i``) and sampling stops. The first measurement always improves, so the earliest leap
    is step ``m + patience`` (17 for K=30, patience 3 → 18 model calls). ``update`` returns True when step i leaps.
    FIXED: step ``target_step`` leaps. OFF: never.
    """

    def __init__(self, config: Optional[LplConfig], steps: int):
        self.config = config
        self.steps = steps
        self.prev_v: Optional[torch.Tensor] = None
        self.best = config.initial_best if config is not None else -math.inf
        self.count = config.patience if config is not None else 0
        self.cosines: List[float] = []  # one per step; NaN where not measured

    @property
    def mode(self) -> str:
        return LPL_OFF if self.config is None else self.config.mode

    def update(self, i: int, v: torch.Tensor) -> bool:
        cfg = self.config
        cos = math.nan
        leap = False
        if self.mode == LPL_FIXED:
            leap = i == cfg.target_step
        elif self.mode == LPL_DYNAMIC:
            if i >= cfg.first_measured_step(self.steps) and self.prev_v is not None:
                cos = velocity_cosine(self.prev_v, v, cfg.cosine_scope)
                if cos > self.best + cfg.cos_tolerance:
                    self.best = cos
                    self.count = cfg.patience
                else:
                    self.count -= 1
                leap = self.count <= 0
            self.prev_v = v.detach().clone()
        elif self.mode != LPL_OFF:
            raise ValueError(f"unknown LPL mode {self.mode!r}")
        self.cosines.append(cos)
        return leap


# ---------------------------------------------------------------------------------------------------------------------
# Sampler (§2.5, §9)


@dataclass
class SampleResult:
    """Output of :meth:`Sampler.sample`. Lists hold one entry per executed step (= model calls)."""

    z: torch.Tensor                                   # final latent [1, 4, T, H', W'] float32
    timesteps: List[float]                            # t'_i of each executed step (float64)
    dts: List[float]                                  # dt of each executed step (float64, 0..1000 scale)
    velocities: List[torch.Tensor] = field(default_factory=list)  # CFG velocity v_i [1, 4, T, H', W']
    latents: List[torch.Tensor] = field(default_factory=list)     # z after step i's update
    cosines: List[float] = field(default_factory=list)            # LPL cosine per step (NaN where not measured)
    leap_step: Optional[int] = None                   # index of the leaping step, None if no leap
    schedule: List[float] = field(default_factory=list)  # the full K-entry schedule
    computed: List[bool] = field(default_factory=list)   # per executed step: block stack run (False: cache reused)

    @property
    def calls(self) -> int:
        return len(self.timesteps)

    @property
    def computed_calls(self) -> int:
        """Steps that ran the STDiT block stack (all of them without a step cache)."""
        return sum(self.computed) if self.computed else self.calls


def stdit_pieces(stdit):
    """(embed, [block pairs], final) of an STDiT3: the eager modules that the pack's stdit blocks are scripted from.

    Anything that already has ``embed``, ``blocks`` and ``final`` attributes (e.g. a test double) is used as is.
    """
    if all(hasattr(stdit, n) for n in ("embed", "blocks", "final")):
        return stdit.embed, list(stdit.blocks), stdit.final
    from .stdit3 import stdit_block_pair, stdit_embed, stdit_final

    return (stdit_embed(stdit), [stdit_block_pair(stdit, j) for j in range(len(stdit.spatial_blocks))],
            stdit_final(stdit))


def block_forward(block, x, y_tokens, t_mlp, T: int, S: int, merged: bool,
                  rule: str = TDTM_SORA4J) -> torch.Tensor:
    """One block pair (spatial then temporal) on tokens ``x`` [B, T*S, C]; with ``merged`` in TDTM's form (§4):
    each attention (self and cross) sees adjacent frame pairs averaged (:func:`merge_frames_rule`) and its output
    goes back to both frames, while norms, gates and MLPs stay per frame. Differentiable (the demo training uses
    it)."""
    nf = torch.tensor(T, dtype=torch.int64)
    if not merged:
        return block(x, y_tokens, t_mlp, nf)
    tm = torch.tensor(merged_frame_count(T, rule), dtype=torch.int64)
    for half in ("spatial", "temporal"):
        h = getattr(block, half + "_norm_msa")(x, t_mlp)
        a = getattr(block, half + "_self_attn")(merge_frames_rule(h, T, S, rule), tm)
        x = getattr(block, half + "_gate_msa")(x, unmerge_frames_rule(a, T, S, rule), t_mlp)
        c = getattr(block, half + "_cross_attn")(merge_frames_rule(x, T, S, rule), y_tokens)
        x = x + unmerge_frames_rule(c, T, S, rule)
        x = getattr(block, half + "_mlp")(x, t_mlp)
    return x


class Sampler:
    """Rectified-flow CFG sampler over an eager STDiT3 split into its pack pieces (embed, block pairs, final)."""

    def __init__(self, stdit):
        self.stdit = stdit
        self.embed, self.blocks, self.final = stdit_pieces(stdit)

    # -- one model evaluation --------------------------------------------------------------------------------------
    def block_forward(self, block, x, y_tokens, t_mlp, T: int, S: int, merged: bool,
                      rule: str = TDTM_SORA4J) -> torch.Tensor:
        return block_forward(block, x, y_tokens, t_mlp, T, S, merged, rule)

    @torch.no_grad()
    def model_output(self, z_in, t_in, y, fps, height, width, merged: bool = False,
                     rule: str = TDTM_SORA4J, residual: Optional[torch.Tensor] = None, residual_out=None) -> torch.Tensor:
        """One STDiT3 evaluation through the pieces: returns [B, 8, T, H', W'].

        ``residual``: skip the block pairs and add this cached residual to the embed output (step caching);
        ``residual_out``: told the block stack's residual (output − input) when the pairs run."""
        B, _, T, Hl, Wl = z_in.shape
        f32 = torch.float32
        x, y_tokens, t_mlp, t_emb = self.embed(z_in, t_in, y, torch.tensor([float(fps)], dtype=f32),
                                               torch.tensor([float(height)], dtype=f32),
                                               torch.tensor([float(width)], dtype=f32))
        S = x.shape[1] // T
        if residual is not None:
            x = x + residual
        else:
            x_in = x
            for block in self.blocks:
                x = self.block_forward(block, x, y_tokens, t_mlp, T, S, merged, rule)
            if residual_out is not None:
                residual_out(x - x_in)
        return self.final(x, t_emb, torch.tensor([T, Hl, Wl], dtype=torch.int64))

    # -- the sampling loop ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, z0: torch.Tensor, y_cond: torch.Tensor, mask: torch.Tensor, null_emb: torch.Tensor, *,
               height: int, width: int, num_frames: int, steps: int = 30, guidance: float = 7.0, fps: float = 24,
               lpl: Optional[LplConfig] = None, tdtm_steps: int = 0, record: bool = True, transform: bool = True,
               scale: float = 1.0, num_timesteps: int = 1000, upstream_nf: bool = False,
               tdtm_rule: str = TDTM_SORA4J, cache=None, residual_hook=None, first_step: int = 0) -> SampleResult:
        """Sample a latent from ``z0`` [1, 4, T, H', W'] (the initial noise; with ``first_step`` k > 0, a latent at
        the schedule's timestep t'_k, from which steps k..K-1 run: SDEdit-style, as the demo's decoder stage draws
        its pairs).

        ``y_cond`` [1, Lt, D] and ``mask`` [1, Lt] from :func:`encode_prompt`; ``null_emb`` [Lt, D] the STDiT null
        caption. With L = sum(mask), the CFG caption batch is ``cat(y_cond[:, :L], null_emb[None, :L])`` [2, L, D].
        Step i: ``t_in = [t'_i, t'_i]``, model on ``[z, z]``, ``v = v_u + guidance*(v_c - v_u)`` on channels 0..3,
        ``z = z + v * float32(dt/num_timesteps)``. Steps i < ``tdtm_steps`` run the blocks with TDTM merging.
        ``lpl``: None/off, FIXED or DYNAMIC (see :class:`LplState`). The schedule is :func:`timesteps` of
        ``num_frames`` (transform frame count = the latent T; ``upstream_nf`` selects upstream's formula).
        ``cache``: a :class:`stepcache.CacheConfig` (skipped steps reuse the last computed residual or velocity; the
        leap step always computes); ``residual_hook``: told each computed step's block-stack residual.
        """
        if not 0 <= first_step < steps:
            raise ValueError(f"first_step must be in 0..{steps - 1} (steps {steps}) but was {first_step}")
        ts = timesteps(steps, num_frames, height, width, transform=transform, scale=scale, num_timesteps=num_timesteps,
                       upstream_nf=upstream_nf)
        z = z0.detach().to(torch.float32).clone()
        L = int(mask.reshape(-1).sum())
        y = torch.cat([y_cond.reshape(1, -1, y_cond.shape[-1])[:, :L],
                       null_emb.reshape(1, -1, null_emb.shape[-1])[:, :L]], dim=0).to(torch.float32)
        if lpl is not None and lpl.mode == LPL_OFF:
            lpl = None
        state = LplState(lpl, steps)
        res = SampleResult(z=z, timesteps=[], dts=[], schedule=list(ts))
        session = cache.session(steps, _forced_steps(lpl, steps)) if cache is not None else None
        for i in range(first_step, steps):
            t_in = torch.tensor([ts[i], ts[i]], dtype=torch.float32)
            computed = session is None or session.compute(i, z)
            if not computed and cache.reuse == "velocity":
                v = session.velocity.clone()
            else:
                kept = []
                out = self.model_output(torch.cat([z, z], 0), t_in, y, fps, height, width,
                                        merged=computed and i < tdtm_steps, rule=tdtm_rule,
                                        residual=None if computed else session.residual,
                                        residual_out=lambda r: (kept.append(r),
                                                                residual_hook and residual_hook(r)))
                v_c, v_u = out[:, :4].chunk(2, dim=0)
                v = v_u + guidance * (v_c - v_u)
            if session is not None and computed:
                session.stored(z, kept[0], v)
            res.computed.append(computed)
            leap = state.update(i, v)
            dt = step_dt(ts, i, leap)
            z = z + v * torch.tensor(dt / num_timesteps, dtype=torch.float32)
            res.timesteps.append(ts[i])
            res.dts.append(dt)
            if record:
                res.velocities.append(v.clone())
                res.latents.append(z.clone())
            if leap:
                res.leap_step = i
                break
        res.z = z
        res.cosines = list(state.cosines)
        return res


def _forced_steps(lpl: Optional[LplConfig], steps: int):
    """Steps a step cache must compute: a fixed LPL's leap step, and every step a dynamic LPL measures."""
    if lpl is None or lpl.mode == LPL_OFF:
        return lambda i: False
    if lpl.mode == LPL_FIXED:
        return lambda i: i == lpl.target_step
    first = lpl.first_measured_step(steps)
    return lambda i: i >= first - 1


@torch.no_grad()
def decode(vae, z: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Eager VAE decode of a latent [1, 4, T, H', W'] to frames [1, 3, F, H, W] float32."""
    return vae.decode(z, num_frames).float()

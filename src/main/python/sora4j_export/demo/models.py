"""The demo pack's model configurations, their initialisation, and the training-only VAE encoders.

Exported (same classes as every pack, so the demo pack has the Open-Sora v1.2 block layout):

* T5: :class:`~sora4j_export.t5.T5Encoder` with :func:`t5_config` (d_model 64, 2 blocks, 4 heads);
* STDiT3: :class:`~sora4j_export.stdit3.STDiT3` with :func:`stdit_config` (hidden 128, depth 4 for v2, 3 for v1, 4 heads, patch
  (1, 2, 2), 8 output channels of which the sampler uses 4, model_max_length 300);
* VAE decoder: :class:`~sora4j_export.vae.VideoVAEDecoder` with :func:`vae_config` (the v1.2 structure: temporal
  decoder 5 → 17 frames with two depth-to-time up-samplings, spatial decoder ×8 with a mid attention block; narrow).

Training only (never exported): :class:`SpatialEncoder` (64×64 frame → 4×8×8) and :class:`TemporalEncoder`
(17 → 5 latent frames, causal), mirrors of the two decoder halves. The latent conventions are Open-Sora's: the spatial
encoder's output ``raw`` is what the spatial decoder takes, and the "SD latent" between the halves is
``sd = raw · 0.18215`` (the spatial decode divides by 0.18215); the temporal encoder's output ``z_raw`` is what the
temporal decoder takes, and the diffusion model works on ``z = (z_raw − shift) / scale`` (per channel, from the
training set's statistics), so the pack's ``z · scale + shift`` gives the decoder its input back.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..stdit3 import STDiT3, STDiT3Config
from ..t5 import T5Config, T5Encoder
from ..vae import VAEConfig, VideoVAEDecoder

SCALING_FACTOR = 0.18215


def t5_config(vocab_size: int) -> T5Config:
    return T5Config(vocab_size=vocab_size, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)


def stdit_config(caption_channels: int = 64, hidden_size: int = 128, depth: int = 3) -> STDiT3Config:
    return STDiT3Config(hidden_size=hidden_size, depth=depth, num_heads=4, caption_channels=caption_channels,
                        model_max_length=300)


def vae_config(scale=(1.0, 1.0, 1.0, 1.0), shift=(0.0, 0.0, 0.0, 0.0)) -> VAEConfig:
    return VAEConfig(temporal_filters=8, temporal_channel_multipliers=(1, 2, 2, 4), temporal_num_res_blocks=1,
                     temporal_num_groups=4, spatial_block_out_channels=(8, 8, 16, 32), spatial_layers_per_block=1,
                     spatial_norm_groups=4, scale=tuple(scale), shift=tuple(shift))


# ------------------------------------------------------------------------------------------------------ initialisation
@torch.no_grad()
def init_t5(model: T5Encoder) -> None:
    """Hugging Face's T5 initialisation (factor 1.0)."""
    cfg = model.config
    d, dkv, h, dff = cfg.d_model, cfg.d_kv, cfg.num_heads, cfg.d_ff
    nn.init.normal_(model.shared.weight, 0.0, 1.0)
    for blk in model.encoder.block:
        att = blk.layer[0].SelfAttention
        nn.init.normal_(att.q.weight, 0.0, (d * dkv) ** -0.5)
        nn.init.normal_(att.k.weight, 0.0, d ** -0.5)
        nn.init.normal_(att.v.weight, 0.0, d ** -0.5)
        nn.init.normal_(att.o.weight, 0.0, (h * dkv) ** -0.5)
        if hasattr(att, "relative_attention_bias"):
            nn.init.normal_(att.relative_attention_bias.weight, 0.0, d ** -0.5)
        ff = blk.layer[1].DenseReluDense
        nn.init.normal_(ff.wi_0.weight, 0.0, d ** -0.5)
        nn.init.normal_(ff.wi_1.weight, 0.0, d ** -0.5)
        nn.init.normal_(ff.wo.weight, 0.0, dff ** -0.5)


@torch.no_grad()
def init_stdit(model: STDiT3) -> None:
    """Upstream STDiT3.initialize_weights (+ initialize_temporal), and a zero final layer."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    w = model.x_embedder.proj.weight
    nn.init.xavier_uniform_(w.view(w.shape[0], -1))
    nn.init.zeros_(model.x_embedder.proj.bias)
    for emb in (model.t_embedder,):
        nn.init.normal_(emb.mlp[0].weight, std=0.02)
        nn.init.normal_(emb.mlp[2].weight, std=0.02)
    nn.init.normal_(model.fps_embedder.mlp[0].weight, std=0.02)
    nn.init.zeros_(model.fps_embedder.mlp[2].weight)
    nn.init.normal_(model.t_block[1].weight, std=0.02)
    nn.init.normal_(model.y_embedder.y_proj.fc1.weight, std=0.02)
    nn.init.normal_(model.y_embedder.y_proj.fc2.weight, std=0.02)
    for blk in list(model.spatial_blocks) + list(model.temporal_blocks):
        nn.init.zeros_(blk.cross_attn.proj.weight)
    for blk in model.temporal_blocks:
        nn.init.zeros_(blk.attn.proj.weight)
        nn.init.zeros_(blk.mlp.fc2.weight)
    nn.init.zeros_(model.final_layer.linear.weight)
    nn.init.zeros_(model.final_layer.linear.bias)


def learnable_null(model: STDiT3) -> nn.Parameter:
    """Turns the null caption buffer ``y_embedder.y_embedding`` into a trainable parameter (same state-dict key)."""
    emb = model.y_embedder
    value = emb._buffers.pop("y_embedding").detach().clone()
    emb.y_embedding = nn.Parameter(value)
    return emb.y_embedding


def build_t5(vocab_size: int, seed: int) -> T5Encoder:
    torch.manual_seed(seed)
    m = T5Encoder(t5_config(vocab_size))
    init_t5(m)
    return m


def build_stdit(seed: int, **kw) -> STDiT3:
    torch.manual_seed(seed)
    m = STDiT3(stdit_config(**kw))
    init_stdit(m)
    return m


def build_vae(seed: int, **kw) -> VideoVAEDecoder:
    torch.manual_seed(seed)
    return VideoVAEDecoder(vae_config(**kw))


# ------------------------------------------------------------------------------------------- training-only encoders
class _Res2d(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int = 4):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.n2, self.c2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class SpatialEncoder(nn.Module):
    """Frames [N, 3, 64, 64] in [-1, 1] → ``raw`` [N, 4, 8, 8] (the spatial decoder's input)."""

    def __init__(self, widths: Tuple[int, ...] = (16, 16, 32, 32), latent_channels: int = 4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, widths[0], 3, padding=1)
        layers, prev = [], widths[0]
        for i, w in enumerate(widths):
            layers.append(_Res2d(prev, w))
            prev = w
            if i < len(widths) - 1:
                layers.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        self.body = nn.Sequential(*layers)
        self.norm = nn.GroupNorm(4, prev)
        self.conv_out = nn.Conv2d(prev, latent_channels, 3, padding=1)

    def forward(self, x):
        return self.conv_out(F.silu(self.norm(self.body(self.conv_in(x)))))


class _CausalConv3d(nn.Module):
    """k×3×3 conv, zero padded (k-1 front frames, none behind); stride 2 in time keeps frames 1, 3, 5, …"""

    def __init__(self, cin: int, cout: int, k: int = 3, t_stride: int = 1):
        super().__init__()
        self.k, self.t_stride = k, t_stride
        self.conv = nn.Conv3d(cin, cout, (k, 3, 3), stride=(t_stride, 1, 1), padding=(0, 1, 1))

    def forward(self, x):
        pad_front = self.k - self.t_stride  # stride 2: output t sees input frames 2t-1 .. 2t+1
        return self.conv(F.pad(x, (0, 0, 0, 0, pad_front, 0)))


class _Res3d(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int = 4):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(groups, cin), _CausalConv3d(cin, cout)
        self.n2, self.c2 = nn.GroupNorm(groups, cout), _CausalConv3d(cout, cout)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class TemporalEncoder(nn.Module):
    """SD latents [B, 4, F, 8, 8] (F = 17) → ``z_raw`` [B, 4, ceil(F/4), 8, 8]: the front is zero-padded to a multiple
    of 4 frames (upstream's time padding, which the temporal decoder crops again), then two causal stride-2 convs."""

    def __init__(self, widths: Tuple[int, ...] = (16, 32, 32), channels: int = 4):
        super().__init__()
        self.conv_in = _CausalConv3d(channels, widths[0])
        self.r0 = _Res3d(widths[0], widths[0])
        self.d0 = _CausalConv3d(widths[0], widths[1], t_stride=2)
        self.r1 = _Res3d(widths[1], widths[1])
        self.d1 = _CausalConv3d(widths[1], widths[2], t_stride=2)
        self.r2 = _Res3d(widths[2], widths[2])
        self.norm = nn.GroupNorm(4, widths[2])
        self.conv_out = nn.Conv3d(widths[2], channels, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, sd):
        f = sd.shape[2]
        pad = (4 - f % 4) % 4
        x = F.pad(sd / SCALING_FACTOR, (0, 0, 0, 0, pad, 0))
        x = self.r0(self.conv_in(x))
        x = self.r1(self.d0(x))
        x = self.r2(self.d1(x))
        return self.conv_out(F.silu(self.norm(x)))


# ------------------------------------------------------------------------------------- differentiable decode helpers
def spatial_decode(vae: VideoVAEDecoder, raw: torch.Tensor) -> torch.Tensor:
    """[N, 4, h, w] spatial-decoder input (= sd / 0.18215) → frames [N, 3, 8h, 8w] (with gradients)."""
    return vae.spatial_vae.module.decode(raw)


def temporal_decode(vae: VideoVAEDecoder, z_raw: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Temporal decoder input [B, 4, T, h, w] (one chunk of ≤ 5 latent frames) → SD latents [B, 4, F, h, w]."""
    return vae.temporal_vae.decode(z_raw, num_frames)


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def transform_timesteps(tau: torch.Tensor, num_frames: int, height: int, width: int) -> torch.Tensor:
    """The sampler's timestep transform (reference.timesteps) on continuous tau in [0, 1]: returns t' in [0, 1000].

    ratio = sqrt(H·W / 512²) · sqrt(T_latent); t' = 1000 · ratio·tau / (1 + (ratio − 1)·tau).
    """
    from ..reference import transform_latent_frames

    nf = transform_latent_frames(num_frames)
    ratio = math.sqrt(height * width / (512.0 * 512.0)) * math.sqrt(nf)
    return 1000.0 * ratio * tau / (1.0 + (ratio - 1.0) * tau)

"""Decoder half of Open-Sora v1.2's video VAE (``hpcai-tech/OpenSora-VAE-v1.2``) and its split into pack blocks.

Upstream (hpcaitech/Open-Sora v1.2.0, ``opensora/models/vae/vae.py`` and ``vae_temporal.py``) builds
``VideoAutoencoderPipeline`` from two halves:

* ``temporal_vae`` (``VAE_Temporal_SD``): a MAGVIT-v2 style 3-D VAE over SD latents. Its decoder is made of causal 3-D
  convolutions (zero padding ``k-1`` frames in front, none behind, ``k//2`` on H and W), GroupNorm/SiLU residual blocks
  and depth-to-time up-sampling (a conv makes ``ts*C`` channels, channel ``c*ts + s`` becomes channel ``c`` of frame
  ``t*ts + s``). It never changes H or W. The first ``time_padding = (4 - F % 4) % 4`` output frames are dropped.
* ``spatial_vae`` (``VideoAutoencoderKL``): diffusers' ``AutoencoderKL`` (the SDXL VAE of
  ``PixArt-alpha/pixart_sigma_sdxlvae_T5_diffusers``) under ``.module``, applied to every frame as a 2-D image.

``VideoVAEDecoder`` rebuilds only the decoder side, with the module names of upstream so that its ``state_dict`` keys and
shapes are exactly the decoder keys of the released checkpoint (``temporal_vae.post_quant_conv.conv.weight``,
``temporal_vae.decoder.…``, ``spatial_vae.module.post_quant_conv.weight``, ``spatial_vae.module.decoder.…``). The
mid-block attention uses the diffusers >= 0.19 names (``to_q``/``to_k``/``to_v``/``to_out.0``); Open-Sora v1.2 pins
diffusers 0.27.2, whose ``Attention`` module has those names, so a ``state_dict`` saved from the upstream pipeline has
them too. :func:`decoder_state_dict` also accepts the legacy ``query``/``key``/``value``/``proj_attn`` names (the
mapping diffusers itself applies in ``_convert_deprecated_attention_blocks``) and drops the encoder-side entries listed
in :data:`IGNORED_CHECKPOINT_PREFIXES`.

Normalisation: upstream registers ``scale`` and ``shift`` as *persistent* buffers of shape [1, 4, 1, 1, 1] on the
pipeline (``register_buffer`` with the default ``persistent=True``), so a ``state_dict`` of the upstream pipeline carries
the top-level keys ``scale`` and ``shift``. Here they are config values (the Java side applies them) held as
non-persistent buffers; the checkpoint's copies are ignored by the strict load (:func:`checkpoint_normalization`
reads them back so a caller can compare them with the config).

Block split (docs/model-pack.md, VAE section), see :func:`vae_blocks`:

* ``vae.temporal.00`` post_quant_conv + conv1 + mid res blocks; ``vae.temporal.01..N`` one per up level (in run order,
  deepest first; res blocks + depth-to-time conv); last: norm + SiLU + conv_out + time crop. All take
  ``(h [1, C, T, H', W'], num_frames int64 [])``.
* ``vae.spatial.00`` post_quant_conv + conv_in + mid block (ResNet, single-head attention, ResNet);
  ``vae.spatial.01..4`` one per up block; last: GroupNorm + SiLU + conv_out. All take ``h [F_m, C, H, W]``.
"""

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import BlockSpec

# ---------------------------------------------------------------------------------------------------------------------
# Configuration


@dataclass
class VAEConfig:
    """Every width, depth and constant of the Open-Sora v1.2 VAE decoder.

    Temporal decoder (``VAE_Temporal_SD``): channels ``temporal_filters * m`` for m in ``temporal_channel_multipliers``
    (128·(1, 2, 2, 4) → 128, 256, 256, 512), ``temporal_num_res_blocks`` per level, up-level i > 0 upsamples time by 2
    when ``temporal_downsample[i-1]``. Spatial decoder (diffusers ``AutoencoderKL``): ``spatial_block_out_channels``
    (the decoder runs them reversed), ``spatial_layers_per_block + 1`` ResNets per up block, one single-head attention
    in the mid block.
    """

    latent_channels: int = 4  # channels of the video latent z (temporal VAE embed_dim / latent_embed_dim)
    sd_latent_channels: int = 4  # channels between the halves (temporal in_out_channels, spatial latent_channels)
    out_channels: int = 3  # pixel channels
    # temporal decoder (MAGVIT-v2 style)
    temporal_filters: int = 128
    temporal_channel_multipliers: Tuple[int, ...] = (1, 2, 2, 4)
    temporal_num_res_blocks: int = 4
    temporal_downsample: Tuple[bool, ...] = (False, True, True)
    temporal_num_groups: int = 32
    temporal_norm_eps: float = 1e-5  # nn.GroupNorm default, as upstream
    # spatial decoder (SDXL AutoencoderKL)
    spatial_block_out_channels: Tuple[int, ...] = (128, 256, 512, 512)
    spatial_layers_per_block: int = 2
    spatial_norm_groups: int = 32
    spatial_norm_eps: float = 1e-6  # diffusers decoder eps
    # latent normalisation and chunking
    scale: Tuple[float, ...] = (3.85, 2.32, 2.33, 3.06)
    shift: Tuple[float, ...] = (-0.10, 0.34, 0.27, 0.98)
    micro_frame_size: int = 17
    spatial_micro_batch: int = 4
    scaling_factor: float = 0.18215

    # derived values that to_dict() writes for readers and from_dict() checks rather than sets
    _DERIVED = ("temporal_compression", "spatial_compression", "micro_z_frame_size")

    def __post_init__(self):
        self.temporal_channel_multipliers = tuple(int(m) for m in self.temporal_channel_multipliers)
        self.temporal_downsample = tuple(bool(d) for d in self.temporal_downsample)
        self.spatial_block_out_channels = tuple(int(c) for c in self.spatial_block_out_channels)
        self.scale = tuple(float(s) for s in self.scale)
        self.shift = tuple(float(s) for s in self.shift)
        if len(self.temporal_downsample) != len(self.temporal_channel_multipliers) - 1:
            raise ValueError("temporal_downsample needs len(temporal_channel_multipliers) - 1 entries")
        if len(self.scale) != self.latent_channels or len(self.shift) != self.latent_channels:
            raise ValueError("scale and shift need latent_channels entries")
        for c in [self.temporal_filters * m for m in self.temporal_channel_multipliers]:
            if c % self.temporal_num_groups:
                raise ValueError(f"temporal channels {c} not divisible by temporal_num_groups")
        for c in self.spatial_block_out_channels:
            if c % self.spatial_norm_groups:
                raise ValueError(f"spatial channels {c} not divisible by spatial_norm_groups")
        if self.micro_frame_size <= 0 or self.spatial_micro_batch <= 0:
            raise ValueError("micro_frame_size and spatial_micro_batch must be positive")
        if self.temporal_num_res_blocks < 1 or self.spatial_layers_per_block < 0:
            raise ValueError("temporal_num_res_blocks must be >= 1 and spatial_layers_per_block >= 0")

    # -- derived ----------------------------------------------------------------------------------------------------
    @property
    def temporal_compression(self) -> int:
        """Pixel frames per latent frame: 2^(number of temporal up-samplings) = 4."""
        return 2 ** sum(1 for d in self.temporal_downsample if d)

    @property
    def spatial_compression(self) -> int:
        """Pixels per latent pixel along H and W: 2^(up blocks - 1) = 8."""
        return 2 ** (len(self.spatial_block_out_channels) - 1)

    @property
    def micro_z_frame_size(self) -> int:
        """Latent frames per temporal chunk: ceil(micro_frame_size / temporal_compression) = 5 for 17 frames."""
        return _temporal_latent_length(self.micro_frame_size, self.temporal_compression)

    def latent_size(self, num_frames: int, height: int, width: int) -> Tuple[int, int, int]:
        """(T, H', W') of the latent for F×H×W pixels, as upstream ``VideoAutoencoderPipeline.get_latent_size``.

        T = (F // 17)·5 + ceil((F % 17) / 4) (the remainder chunk is front-padded to a multiple of 4), H' = H // 8,
        W' = W // 8. 68 → 20, 51 → 15, 34 → 10, 20 → 6, 17 → 5.
        """
        full, rest = divmod(int(num_frames), self.micro_frame_size)
        t = full * self.micro_z_frame_size
        if rest > 0:
            t += _temporal_latent_length(rest, self.temporal_compression)
        s = self.spatial_compression
        return t, int(height) // s, int(width) // s

    # -- presets ----------------------------------------------------------------------------------------------------
    @classmethod
    def v1_2(cls) -> "VAEConfig":
        """OpenSora-VAE-v1.2 (``OpenSoraVAE_V1_2`` with ``micro_frame_size=17, micro_batch_size=4``)."""
        return cls()

    @classmethod
    def tiny(cls) -> "VAEConfig":
        """Same structure and depths as v1.2 with small widths, for tests and tiny-random packs."""
        return cls(temporal_filters=8, temporal_num_groups=4, spatial_block_out_channels=(16, 16, 32, 32),
                   spatial_norm_groups=4)

    # -- (de)serialisation ------------------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        for name in self._DERIVED:
            d[name] = getattr(self, name)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "VAEConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names - set(cls._DERIVED)
        if unknown:
            raise ValueError(f"unknown VAEConfig keys: {sorted(unknown)}")
        cfg = cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})
        for name in cls._DERIVED:
            if name in d and d[name] != getattr(cfg, name):
                raise ValueError(f"{name}={d[name]} does not match the value derived from the config "
                                 f"({getattr(cfg, name)})")
        return cfg

    def manifest_dict(self) -> Dict[str, Any]:
        """The ``vae`` object of manifest.json (docs/model-pack.md)."""
        return {
            "latentChannels": self.latent_channels,
            "scale": list(self.scale),
            "shift": list(self.shift),
            "temporalCompression": self.temporal_compression,
            "spatialCompression": self.spatial_compression,
            "microFrameSize": self.micro_frame_size,
            "microZFrameSize": self.micro_z_frame_size,
            "spatialMicroBatch": self.spatial_micro_batch,
            "spatialScalingFactor": self.scaling_factor,
        }


def _temporal_latent_length(num_frames: int, compression: int) -> int:
    # upstream VAE_Temporal.get_latent_size: pad the front up to a multiple of the compression, then divide
    return (num_frames + (compression - num_frames % compression) % compression) // compression


def latent_size(num_frames: int, height: int, width: int, cfg: Optional[VAEConfig] = None) -> Tuple[int, int, int]:
    """Module-level shortcut for :meth:`VAEConfig.latent_size` (v1.2 config by default)."""
    return (cfg or VAEConfig.v1_2()).latent_size(num_frames, height, width)


def temporal_chunks(num_latent_frames: int, num_frames: int, cfg: VAEConfig) -> List[Tuple[int, int, int]]:
    """The temporal decode plan: (latent start, latent end, pixel frames) per chunk, as upstream's decode loop.

    Chunk i covers latent frames [i·mz, min((i+1)·mz, T)) and decodes to ``min(micro_frame_size, remaining)`` frames,
    where ``remaining`` starts at ``num_frames`` and drops by ``micro_frame_size`` per chunk.
    """
    plan = []
    remaining = int(num_frames)
    mz = cfg.micro_z_frame_size
    for start in range(0, int(num_latent_frames), mz):
        plan.append((start, min(start + mz, int(num_latent_frames)), min(cfg.micro_frame_size, remaining)))
        remaining -= cfg.micro_frame_size
    return plan


# ---------------------------------------------------------------------------------------------------------------------
# Shared TorchScript-friendly helpers


def depth_to_time(x: torch.Tensor, ts: int) -> torch.Tensor:
    """``B (C ts) T H W -> B C (T ts) H W``: input channel ``c*ts + s`` becomes channel ``c`` of frame ``t*ts + s``."""
    b = x.size(0)
    c = x.size(1) // ts
    t = x.size(2)
    h = x.size(3)
    w = x.size(4)
    x = x.reshape(b, c, ts, t, h, w).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, c, t * ts, h, w)


def plain_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, max_elements: int) -> torch.Tensor:
    """``softmax(q k^T * scale) v`` on [B, N, C] tensors, in the dtype given (callers pass float32).

    Query rows are processed in slices so that one score slice holds at most ``max_elements`` entries per batch item;
    each row's softmax is unchanged by the slicing.
    """
    n = q.size(1)
    rows = max(1, max_elements // max(1, k.size(1)))
    kt = k.transpose(1, 2)
    if rows >= n:
        return torch.bmm(torch.softmax(torch.bmm(q, kt) * scale, dim=-1), v)
    parts: List[torch.Tensor] = []
    for s in range(0, n, rows):
        w = torch.softmax(torch.bmm(q[:, s:s + rows], kt) * scale, dim=-1)
        parts.append(torch.bmm(w, v))
    return torch.cat(parts, dim=1)


# ---------------------------------------------------------------------------------------------------------------------
# Temporal decoder (VAE_Temporal_SD, decoder side)


class CausalConv3d(nn.Module):
    """Conv3d (stride 1, cubic kernel k) after zero padding (k//2, k//2) on W and H and (k-1, 0) on T.

    The weight lives under ``.conv`` as upstream (``….conv.weight``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True):
        super().__init__()
        k = int(kernel_size)
        if k % 2 != 1:
            raise ValueError("CausalConv3d needs an odd kernel")
        self.padding: List[int] = [k // 2, k // 2, k // 2, k // 2, k - 1, 0]
        self.conv = nn.Conv3d(in_channels, out_channels, k, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


class TemporalResBlock(nn.Module):
    """GN → SiLU → CausalConv3d(k3, no bias) → GN → SiLU → CausalConv3d(k3, no bias), plus a 1×1×1 shortcut
    (``conv3``, no bias) when the channel count changes."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, eps: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps)
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, bias=False)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, bias=False)
        self.activate = nn.SiLU()
        # Identity has no state, so the keys stay those of upstream (conv3 only where channels change)
        self.conv3 = CausalConv3d(in_channels, out_channels, 1, bias=False) if in_channels != out_channels \
            else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.activate(self.norm1(x)))
        h = self.conv2(self.activate(self.norm2(h)))
        return h + self.conv3(x)


class TemporalDecoder(nn.Module):
    """Upstream ``vae_temporal.Decoder`` with the same attribute names (conv1, res_blocks, block_res_blocks,
    conv_blocks, norm1, conv_out)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        mults = cfg.temporal_channel_multipliers
        self.num_blocks = len(mults)
        self.num_res_blocks = cfg.temporal_num_res_blocks
        g, eps = cfg.temporal_num_groups, cfg.temporal_norm_eps
        filters = cfg.temporal_filters * mults[-1]
        self.conv1 = CausalConv3d(cfg.latent_channels, filters, 3, bias=True)
        self.res_blocks = nn.ModuleList([TemporalResBlock(filters, filters, g, eps)
                                         for _ in range(cfg.temporal_num_res_blocks)])
        levels: List[nn.ModuleList] = [nn.ModuleList() for _ in range(self.num_blocks)]
        ups: List[nn.Module] = [nn.Identity() for _ in range(self.num_blocks - 1)]
        self.t_strides: List[int] = [1] * (self.num_blocks - 1)
        prev = filters
        for i in reversed(range(self.num_blocks)):  # run order: deepest level first
            filters = cfg.temporal_filters * mults[i]
            items = []
            for _ in range(cfg.temporal_num_res_blocks):
                items.append(TemporalResBlock(prev, filters, g, eps))
                prev = filters
            levels[i] = nn.ModuleList(items)
            if i > 0 and cfg.temporal_downsample[i - 1]:
                # causal conv to 2x channels, then depth-to-time (upstream t_stride 2, s_stride 1)
                ups[i - 1] = CausalConv3d(prev, prev * 2, 3, bias=True)
                self.t_strides[i - 1] = 2
        self.block_res_blocks = nn.ModuleList(levels)
        self.conv_blocks = nn.ModuleList(ups)
        self.norm1 = nn.GroupNorm(g, prev, eps=eps)
        self.activate = nn.SiLU()
        self.conv_out = CausalConv3d(prev, cfg.sd_latent_channels, 3, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for blk in self.res_blocks:
            x = blk(x)
        for i in reversed(range(self.num_blocks)):
            for blk in self.block_res_blocks[i]:
                x = blk(x)
            if i > 0 and self.t_strides[i - 1] > 1:
                x = depth_to_time(self.conv_blocks[i - 1](x), self.t_strides[i - 1])
        return self.conv_out(self.activate(self.norm1(x)))


class TemporalVAEDecoderSide(nn.Module):
    """Decoder side of upstream ``VAE_Temporal`` (``post_quant_conv`` + ``decoder``)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.time_downsample_factor = cfg.temporal_compression
        self.post_quant_conv = CausalConv3d(cfg.latent_channels, cfg.latent_channels, 1, bias=True)
        self.decoder = TemporalDecoder(cfg)

    def decode(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        f = self.time_downsample_factor
        time_padding = (f - num_frames % f) % f
        x = self.decoder(self.post_quant_conv(z))
        return x[:, :, time_padding:]


# ---------------------------------------------------------------------------------------------------------------------
# Spatial decoder (diffusers AutoencoderKL decoder side, as pinned by Open-Sora v1.2: diffusers 0.27.2)


class SpatialResnet(nn.Module):
    """diffusers ``ResnetBlock2D`` without time embedding: GN → SiLU → conv3×3 → GN → SiLU → conv3×3, plus a 1×1
    ``conv_shortcut`` (with bias) when the channel count changes; output scale factor 1."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, eps: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nonlinearity = nn.SiLU()
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        h = self.conv2(self.nonlinearity(self.norm2(h)))
        return self.conv_shortcut(x) + h


class SpatialAttention(nn.Module):
    """diffusers ``Attention`` as the VAE mid block builds it: one head over all C channels, a GroupNorm in front,
    residual connection. ``softmax(Q K^T / sqrt(C)) V`` is computed in float32 whatever the weight dtype."""

    def __init__(self, channels: int, groups: int, eps: float, max_score_elements: int = 1 << 24):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=eps)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])  # key "to_out.0" (index 1 is a weightless dropout)
        self.scale = 1.0 / math.sqrt(channels)
        self.max_score_elements = int(max_score_elements)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.size(0)
        c = x.size(1)
        hh = x.size(2)
        ww = x.size(3)
        h = self.group_norm(x.reshape(b, c, hh * ww)).transpose(1, 2)  # [B, HW, C]
        q = self.to_q(h).float()
        k = self.to_k(h).float()
        v = self.to_v(h).float()
        a = plain_attention(q, k, v, self.scale, self.max_score_elements).to(x.dtype)
        for proj in self.to_out:
            a = proj(a)
        # contiguous: the reshape of the transposed tensor would be a channels-last view (as in diffusers), which every
        # later op would inherit; the values are the same, the layout stays plain NCHW for the next parts and for Java
        return a.transpose(1, 2).contiguous().reshape(b, c, hh, ww) + x


class SpatialMidBlock(nn.Module):
    """diffusers ``UNetMidBlock2D`` (one layer): ResNet → attention → ResNet."""

    def __init__(self, channels: int, groups: int, eps: float):
        super().__init__()
        self.attentions = nn.ModuleList([SpatialAttention(channels, groups, eps)])
        self.resnets = nn.ModuleList([SpatialResnet(channels, channels, groups, eps),
                                      SpatialResnet(channels, channels, groups, eps)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.resnets[0](x)
        x = self.attentions[0](x)
        return self.resnets[1](x)


class SpatialUpsample(nn.Module):
    """diffusers ``Upsample2D(use_conv=True)``: nearest ×2, then conv3×3."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class SpatialUpBlock(nn.Module):
    """diffusers ``UpDecoderBlock2D``: ResNets, then an optional up-sampler (empty ``upsamplers`` = none)."""

    def __init__(self, in_channels: int, out_channels: int, num_layers: int, upsample: bool, groups: int, eps: float):
        super().__init__()
        self.resnets = nn.ModuleList([SpatialResnet(in_channels if i == 0 else out_channels, out_channels, groups, eps)
                                      for i in range(num_layers)])
        self.upsamplers = nn.ModuleList([SpatialUpsample(out_channels)] if upsample else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for r in self.resnets:
            x = r(x)
        for u in self.upsamplers:
            x = u(x)
        return x


class SpatialDecoder(nn.Module):
    """diffusers ``models.autoencoders.vae.Decoder`` (norm_type "group")."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        chans = list(reversed(cfg.spatial_block_out_channels))
        g, eps = cfg.spatial_norm_groups, cfg.spatial_norm_eps
        self.conv_in = nn.Conv2d(cfg.sd_latent_channels, chans[0], 3, padding=1)
        self.mid_block = SpatialMidBlock(chans[0], g, eps)
        blocks = []
        prev = chans[0]
        for i, c in enumerate(chans):
            blocks.append(SpatialUpBlock(prev, c, cfg.spatial_layers_per_block + 1, i < len(chans) - 1, g, eps))
            prev = c
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = nn.GroupNorm(g, prev, eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(prev, cfg.out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mid_block(self.conv_in(x))
        for blk in self.up_blocks:
            x = blk(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class AutoencoderKLDecoderSide(nn.Module):
    """Decoder side of diffusers ``AutoencoderKL`` (``post_quant_conv`` + ``decoder``)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(cfg.sd_latent_channels, cfg.sd_latent_channels, 1)
        self.decoder = SpatialDecoder(cfg)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))


class SpatialVAEDecoderSide(nn.Module):
    """Upstream ``VideoAutoencoderKL``: holds the diffusers model as ``.module``; decodes frames in micro-batches."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.module = AutoencoderKLDecoderSide(cfg)
        self.micro_batch_size = cfg.spatial_micro_batch
        self.scaling_factor = cfg.scaling_factor

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)  # B C T H W -> (B T) C H W
        bs = self.micro_batch_size
        out = [self.module.decode(x[i:i + bs] / self.scaling_factor) for i in range(0, x.shape[0], bs)]
        x = torch.cat(out, dim=0)
        return x.reshape(b, t, x.shape[1], x.shape[2], x.shape[3]).permute(0, 2, 1, 3, 4)


# ---------------------------------------------------------------------------------------------------------------------
# The decoder and checkpoint keys

#: State-dict prefixes of the full ``hpcai-tech/OpenSora-VAE-v1.2`` checkpoint that a decoder-only strict load ignores:
#: the encoders and quant_convs of both halves, and the pipeline's top-level ``scale``/``shift`` buffers (each
#: [1, 4, 1, 1, 1]; listed as prefixes too since no other top-level key begins with these words).
IGNORED_CHECKPOINT_PREFIXES: Tuple[str, ...] = (
    "temporal_vae.encoder.",
    "temporal_vae.quant_conv.",
    "spatial_vae.module.encoder.",
    "spatial_vae.module.quant_conv.",
    "scale",
    "shift",
)

#: The exact top-level normalisation buffers of the upstream pipeline (persistent, [1, 4, 1, 1, 1]).
NORMALIZATION_KEYS: Tuple[str, ...] = ("scale", "shift")

# diffusers < 0.19 AttentionBlock names -> current Attention names (diffusers' own _convert_deprecated_attention_blocks)
_LEGACY_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
_LEGACY_ATTENTION_RE = re.compile(r"^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$")


def is_ignored_checkpoint_key(key: str) -> bool:
    if key in NORMALIZATION_KEYS:
        return True
    return any(key.startswith(p) for p in IGNORED_CHECKPOINT_PREFIXES if p not in NORMALIZATION_KEYS)


def rename_legacy_attention_keys(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map old diffusers attention names (``query``/``key``/``value``/``proj_attn``) to ``to_q``/``to_k``/``to_v``/
    ``to_out.0``; 1×1-conv shaped weights [C, C, 1, 1] are flattened to linear [C, C]. Other keys pass unchanged."""
    out: Dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        m = _LEGACY_ATTENTION_RE.match(k)
        if m:
            k = f"{m.group(1)}.{_LEGACY_ATTENTION[m.group(2)]}.{m.group(3)}"
            if m.group(3) == "weight" and v.dim() == 4:
                v = v.reshape(v.shape[0], v.shape[1])
        if k in out:
            raise ValueError(f"checkpoint has both legacy and current names for {k}")
        out[k] = v
    return out


def decoder_state_dict(checkpoint: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The decoder entries of a full OpenSora-VAE-v1.2 state dict, ready for ``VideoVAEDecoder.load_state_dict(…,
    strict=True)``: ignored prefixes dropped, legacy attention names renamed."""
    kept = {k: v for k, v in checkpoint.items() if not is_ignored_checkpoint_key(k)}
    return rename_legacy_attention_keys(kept)


def checkpoint_normalization(checkpoint: Mapping[str, torch.Tensor]) -> Optional[Tuple[List[float], List[float]]]:
    """(scale, shift) stored in a full checkpoint as the pipeline buffers, or None when it has none."""
    if "scale" not in checkpoint or "shift" not in checkpoint:
        return None
    return ([float(x) for x in checkpoint["scale"].reshape(-1)], [float(x) for x in checkpoint["shift"].reshape(-1)])


class VideoVAEDecoder(nn.Module):
    """Decoder half of OpenSora-VAE-v1.2 with the checkpoint's module layout (``temporal_vae``, ``spatial_vae.module``).

    ``decode(z, num_frames)`` is upstream ``VideoAutoencoderPipeline.decode`` (eager, no TorchScript).
    """

    def __init__(self, cfg: Optional[VAEConfig] = None):
        super().__init__()
        cfg = cfg or VAEConfig.v1_2()
        self.config = cfg
        self.temporal_vae = TemporalVAEDecoderSide(cfg)
        self.spatial_vae = SpatialVAEDecoderSide(cfg)
        shape = (1, cfg.latent_channels, 1, 1, 1)
        self.register_buffer("scale", torch.tensor(cfg.scale, dtype=torch.float32).reshape(shape), persistent=False)
        self.register_buffer("shift", torch.tensor(cfg.shift, dtype=torch.float32).reshape(shape), persistent=False)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def latent_size(self, num_frames: int, height: int, width: int) -> Tuple[int, int, int]:
        return self.config.latent_size(num_frames, height, width)

    def load_checkpoint(self, checkpoint: Mapping[str, torch.Tensor], strict: bool = True):
        """Load from a full (encoder + decoder) state dict; see :func:`decoder_state_dict`."""
        return self.load_state_dict(decoder_state_dict(checkpoint), strict=strict)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        """z [B, 4, T, H', W'] → frames [B, 3, F, H, W] (about [-1, 1]) in the module's dtype."""
        cfg = self.config
        z = z.to(self.dtype)
        z = z * self.scale.to(z.dtype) + self.shift.to(z.dtype)
        chunks = []
        remaining = int(num_frames)
        for i in range(0, z.size(2), cfg.micro_z_frame_size):
            z_bs = z[:, :, i:i + cfg.micro_z_frame_size]
            chunks.append(self.temporal_vae.decode(z_bs, num_frames=min(cfg.micro_frame_size, remaining)))
            remaining -= cfg.micro_frame_size
        x_z = torch.cat(chunks, dim=2)
        return self.spatial_vae.decode(x_z)

    def forward(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        return self.decode(z, num_frames)


# ---------------------------------------------------------------------------------------------------------------------
# Pack blocks (docs/model-pack.md, VAE). Every part casts its float32 input to its weight dtype and returns a contiguous
# float32 tensor.


class TemporalMidPart(nn.Module):
    """vae.temporal.00: post_quant_conv → conv1 → mid res blocks. [1, 4, Tc, H', W'] → [1, C_top, Tc, H', W']."""

    def __init__(self, side: TemporalVAEDecoderSide):
        super().__init__()
        self.post_quant_conv = side.post_quant_conv
        self.conv1 = side.decoder.conv1
        self.res_blocks = side.decoder.res_blocks

    def forward(self, h: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
        h = h.to(self.conv1.conv.weight.dtype)
        h = self.conv1(self.post_quant_conv(h))
        for blk in self.res_blocks:
            h = blk(h)
        return h.float().contiguous()


class TemporalUpPart(nn.Module):
    """vae.temporal.0k: one up level: res blocks, then (if the level upsamples time) causal conv + depth-to-time."""

    def __init__(self, res_blocks: nn.ModuleList, up: nn.Module, t_stride: int):
        super().__init__()
        self.res_blocks = res_blocks
        self.up = up
        self.t_stride = int(t_stride)

    def forward(self, h: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
        h = h.to(self.res_blocks[0].norm1.weight.dtype)
        for blk in self.res_blocks:
            h = blk(h)
        if self.t_stride > 1:
            h = depth_to_time(self.up(h), self.t_stride)
        return h.float().contiguous()


class TemporalOutPart(nn.Module):
    """Last temporal part: GN → SiLU → conv_out, then drop the first ``(c - num_frames % c) % c`` frames
    (c = temporal compression). Output [1, 4, F_c, H', W']."""

    def __init__(self, decoder: TemporalDecoder, compression: int):
        super().__init__()
        self.norm1 = decoder.norm1
        self.activate = nn.SiLU()
        self.conv_out = decoder.conv_out
        self.compression = int(compression)

    def forward(self, h: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
        h = h.to(self.conv_out.conv.weight.dtype)
        h = self.conv_out(self.activate(self.norm1(h)))
        n = int(num_frames)
        time_padding = (self.compression - n % self.compression) % self.compression
        return h[:, :, time_padding:].float().contiguous()


class SpatialMidPart(nn.Module):
    """vae.spatial.00: post_quant_conv → conv_in → mid block. [F_m, 4, H', W'] → [F_m, C_top, H', W']."""

    def __init__(self, module: AutoencoderKLDecoderSide):
        super().__init__()
        self.post_quant_conv = module.post_quant_conv
        self.conv_in = module.decoder.conv_in
        self.mid_block = module.decoder.mid_block

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h.to(self.conv_in.weight.dtype)
        return self.mid_block(self.conv_in(self.post_quant_conv(h))).float().contiguous()


class SpatialUpPart(nn.Module):
    """vae.spatial.0k: one diffusers up block (ResNets, nearest ×2 + conv unless it is the last)."""

    def __init__(self, block: SpatialUpBlock):
        super().__init__()
        self.block = block

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h.to(self.block.resnets[0].conv1.weight.dtype)
        return self.block(h).float().contiguous()


class SpatialOutPart(nn.Module):
    """Last spatial part: GroupNorm → SiLU → conv_out. Output [F_m, 3, H, W]."""

    def __init__(self, decoder: SpatialDecoder):
        super().__init__()
        self.conv_norm_out = decoder.conv_norm_out
        self.conv_act = nn.SiLU()
        self.conv_out = decoder.conv_out

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h.to(self.conv_out.weight.dtype)
        return self.conv_out(self.conv_act(self.conv_norm_out(h))).float().contiguous()


def vae_blocks(model: VideoVAEDecoder) -> List[BlockSpec]:
    """The VAE blocks of a pack, temporal parts then spatial parts, each set of parts numbered from 0 (``order`` is
    the index within its role, matching the file name). The parts share parameters with ``model``."""
    dec = model.temporal_vae.decoder
    temporal: List[nn.Module] = [TemporalMidPart(model.temporal_vae)]
    for i in reversed(range(dec.num_blocks)):  # run order
        if i > 0:
            temporal.append(TemporalUpPart(dec.block_res_blocks[i], dec.conv_blocks[i - 1], dec.t_strides[i - 1]))
        else:
            temporal.append(TemporalUpPart(dec.block_res_blocks[i], nn.Identity(), 1))
    temporal.append(TemporalOutPart(dec, model.config.temporal_compression))

    kl = model.spatial_vae.module
    spatial: List[nn.Module] = [SpatialMidPart(kl)]
    spatial.extend(SpatialUpPart(b) for b in kl.decoder.up_blocks)
    spatial.append(SpatialOutPart(kl.decoder))

    specs = [BlockSpec(name=f"vae.temporal.{k:02d}", set="vae", role="vae-temporal", order=k,
                       file=f"vae/temporal_{k:02d}.pt", module=m) for k, m in enumerate(temporal)]
    specs += [BlockSpec(name=f"vae.spatial.{k:02d}", set="vae", role="vae-spatial", order=k,
                        file=f"vae/spatial_{k:02d}.pt", module=m) for k, m in enumerate(spatial)]
    return specs


BlocksArg = Union[Sequence[BlockSpec], Tuple[Sequence[nn.Module], Sequence[nn.Module]]]


def _split_blocks(blocks: BlocksArg) -> Tuple[List[Any], List[Any]]:
    if isinstance(blocks, tuple) and len(blocks) == 2 and not isinstance(blocks[0], BlockSpec):
        return list(blocks[0]), list(blocks[1])
    specs = list(blocks)
    temporal = [b.module for b in sorted((b for b in specs if b.role == "vae-temporal"), key=lambda b: b.order)]
    spatial = [b.module for b in sorted((b for b in specs if b.role == "vae-spatial"), key=lambda b: b.order)]
    return temporal, spatial


@torch.no_grad()
def decode_with_blocks(blocks: BlocksArg, z: torch.Tensor, num_frames: int, cfg: VAEConfig) -> torch.Tensor:
    """What the Java side does with the VAE blocks, in Python: z [1, 4, T, H', W'] → frames [1, 3, F, H, W] float32.

    ``blocks``: BlockSpecs (as from :func:`vae_blocks`, modules possibly replaced by scripted ones; other roles are
    ignored) or a pair (temporal modules, spatial modules) in run order.
    Steps: ``z·scale + shift`` per channel; per chunk of ``micro_z_frame_size`` latent frames run the temporal parts
    with ``num_frames = min(micro_frame_size, remaining)`` (int64 0-d); concatenate along time; divide by
    ``scaling_factor``; [1, 4, F, H', W'] → [F, 4, H', W']; run the spatial parts per ``spatial_micro_batch`` frames;
    [F, 3, H, W] → [1, 3, F, H, W].
    """
    temporal, spatial = _split_blocks(blocks)
    if z.dim() != 5 or z.size(0) != 1:
        raise ValueError("z must be [1, C, T, H', W']")
    z = z.float()
    c = cfg.latent_channels
    scale = torch.tensor(cfg.scale, dtype=torch.float32).reshape(1, c, 1, 1, 1)
    shift = torch.tensor(cfg.shift, dtype=torch.float32).reshape(1, c, 1, 1, 1)
    z = z * scale + shift
    chunks = []
    for start, end, frames in temporal_chunks(z.size(2), num_frames, cfg):
        h = z[:, :, start:end]
        n = torch.tensor(frames, dtype=torch.int64)
        for part in temporal:
            h = part(h, n)
        chunks.append(h)
    x = torch.cat(chunks, dim=2) / cfg.scaling_factor  # [1, 4, F, H', W']
    x = x[0].permute(1, 0, 2, 3).contiguous()  # [F, 4, H', W']
    outs = []
    for i in range(0, x.size(0), cfg.spatial_micro_batch):
        h = x[i:i + cfg.spatial_micro_batch]
        for part in spatial:
            h = part(h)
        outs.append(h)
    frames = torch.cat(outs, dim=0)  # [F, 3, H, W]
    return frames.permute(1, 0, 2, 3).unsqueeze(0).contiguous()

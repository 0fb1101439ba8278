"""STDiT3 (Open-Sora v1.2 denoiser, hpcai-tech/OpenSora-STDiT-v3) and its split into pack blocks.

The module tree mirrors upstream ``opensora/models/stdit/stdit3.py`` (v1.2.0) so that the checkpoint's state dict loads
with ``load_state_dict(strict=True)``. Persistent entries (C = hidden_size, D = C / num_heads):

    rope.freqs                               [D/2]   (rotary_embedding_torch registers it as a frozen nn.Parameter)
    x_embedder.proj.{weight,bias}            [C, in, 1, 2, 2], [C]
    t_embedder.mlp.{0,2}.{weight,bias}       [C, 256], [C, C]
    fps_embedder.mlp.{0,2}.{weight,bias}     [C, 256], [C, C]
    t_block.1.{weight,bias}                  [6C, C]
    y_embedder.y_proj.fc1.{weight,bias}      [C, Ccap]
    y_embedder.y_proj.fc2.{weight,bias}      [C, C]
    y_embedder.y_embedding                   [model_max_length, Ccap]  (buffer: the CFG null caption)
    {spatial,temporal}_blocks.{i}.scale_shift_table              [6, C]
    {spatial,temporal}_blocks.{i}.attn.qkv.{weight,bias}         [3C, C]
    {spatial,temporal}_blocks.{i}.attn.{q,k}_norm.weight         [D]   (only with qk_norm)
    {spatial,temporal}_blocks.{i}.attn.proj.{weight,bias}        [C, C]
    {spatial,temporal}_blocks.{i}.cross_attn.q_linear.{weight,bias}   [C, C]
    {spatial,temporal}_blocks.{i}.cross_attn.kv_linear.{weight,bias}  [2C, C]
    {spatial,temporal}_blocks.{i}.cross_attn.proj.{weight,bias}       [C, C]
    {spatial,temporal}_blocks.{i}.mlp.fc1.{weight,bias}          [4C, C]
    {spatial,temporal}_blocks.{i}.mlp.fc2.{weight,bias}          [C, 4C]
    final_layer.scale_shift_table            [2, C]
    final_layer.linear.{weight,bias}         [prod(patch) * out_channels, C]

``pos_embed`` (PositionEmbedding2D) only has a non-persistent ``inv_freq`` buffer upstream, so it is not in the
checkpoint; here it is a function. LayerNorms have no affine parameters.

Precision rule for every pack block: inputs and outputs are float32; each Linear/Conv receives its input cast to its
own weight dtype and its output is cast back to float32; LayerNorm, RMSNorm, softmax, RoPE and the residual stream stay
in float32 (so ``.half()`` before scripting gives fp16 matmuls with fp32 accumulation-side math).
"""

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .blocks import BlockSpec


@dataclass
class STDiT3Config:
    in_channels: int = 4
    patch_size: Tuple[int, int, int] = (1, 2, 2)
    hidden_size: int = 1152
    depth: int = 28
    num_heads: int = 16
    mlp_ratio: float = 4.0
    pred_sigma: bool = True
    caption_channels: int = 4096
    model_max_length: int = 300
    input_sq_size: int = 512
    qk_norm: bool = True

    @property
    def out_channels(self) -> int:
        return self.in_channels * 2 if self.pred_sigma else self.in_channels

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def xl2(cls) -> "STDiT3Config":
        """STDiT3-XL/2 as released in hpcai-tech/OpenSora-STDiT-v3."""
        return cls()

    @classmethod
    def tiny(cls, caption_channels: int = 32) -> "STDiT3Config":
        """A small random-weight configuration for tests and tiny packs."""
        return cls(hidden_size=64, depth=2, num_heads=4, caption_channels=caption_channels, model_max_length=300)

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["patch_size"] = list(self.patch_size)
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "STDiT3Config":
        """From to_dict() output or an upstream/HF STDiT3 config.json (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "patch_size" in kw:
            kw["patch_size"] = tuple(int(p) for p in kw["patch_size"])
        return cls(**kw)


# ---------------------------------------------------------------------------------------------------------------------
# embedding functions


def timestep_embedding(t: Tensor, dim: int = 256, max_period: float = 10000.0) -> Tensor:
    """[cos(t*f_k), sin(t*f_k)], f_k = exp(-ln(max_period) * k / (dim/2)), k < dim/2 (cos first); float32 [N, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2 == 1:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def _sin_cos(pos: Tensor, inv_freq: Tensor) -> Tensor:
    out = pos[:, None] * inv_freq[None, :]
    return torch.cat([torch.sin(out), torch.cos(out)], dim=-1)


def pos_embed_2d(h: int, w: int, dim: int, scale: float, base_size: int, device: torch.device) -> Tensor:
    """PositionEmbedding2D: [h*w, dim] float32, token s = r*w + c, first half encodes the column, second the row.

    gy(r) = r / scale * base_size / h, gx(c) = c / scale * base_size / w,
    sc(p) = [sin(p f_k), cos(p f_k)], f_k = 10000^(-2k/(dim/2)), k < dim/4.
    """
    half = dim // 2
    inv_freq = 1.0 / torch.pow(10000.0, torch.arange(0, half, 2, device=device).float() / half)
    grid_h = torch.arange(h, device=device) / scale
    grid_w = torch.arange(w, device=device) / scale
    grid_h = grid_h * (base_size / h)
    grid_w = grid_w * (base_size / w)
    col = grid_w[None, :].expand(h, w).reshape(-1)
    row = grid_h[:, None].expand(h, w).reshape(-1)
    return torch.cat([_sin_cos(col, inv_freq), _sin_cos(row, inv_freq)], dim=-1)


def pos_embed_scale(height: float, width: float, input_sq_size: float, h: int, w: int) -> Tuple[float, int]:
    """(scale, base_size) as STDiT3.forward derives them: sqrt(height*width)/input_sq_size, round(sqrt(h*w))."""
    scale = (height * width) ** 0.5 / input_sq_size
    base_size = int(round((h * w) ** 0.5))
    return scale, base_size


def apply_rope(x: Tensor, freqs: Tensor) -> Tensor:
    """Interleaved rotary embedding along dim -2 (positions 0..n-1), rotary_embedding_torch 'lang' style.

    x: [..., n, D] float32, freqs: [D/2]; angle[p, 2j] = angle[p, 2j+1] = p * freqs[j];
    x' = x*cos + rotate_half(x)*sin with rotate_half((a, b) pairs) = (-b, a).
    """
    n = x.shape[-2]
    pos = torch.arange(n, device=x.device, dtype=torch.float32)
    angles = (pos[:, None] * freqs.float()[None, :]).repeat_interleave(2, dim=-1)  # [n, D]
    x1 = x[..., 0::2]
    x2 = x[..., 1::2]
    rotated = torch.stack((-x2, x1), dim=-1).flatten(-2)
    return x * torch.cos(angles) + rotated * torch.sin(angles)


def _lin(layer: nn.Linear, x: Tensor) -> Tensor:  # eager helper (pack blocks inline this)
    return layer(x.to(layer.weight.dtype)).float()


# ---------------------------------------------------------------------------------------------------------------------
# layers (names follow upstream so that state_dict keys match)


class RotaryEmbedding(nn.Module):
    """Holds the RoPE frequencies exactly like rotary_embedding_torch.RotaryEmbedding(dim) ('lang', theta 10000)."""

    def __init__(self, dim: int, theta: float = 10000.0, device: Optional[torch.device] = None):
        super().__init__()
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, device=device)[: dim // 2].float() / dim))
        self.freqs = nn.Parameter(freqs, requires_grad=False)


class RMSNorm(nn.Module):
    """LlamaRMSNorm over the last dim (q/k norm), float32 math."""

    def __init__(self, dim: int, eps: float = 1e-6, device: Optional[torch.device] = None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, device=device))
        self.variance_epsilon = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight.float() * (x * torch.rsqrt(variance + self.variance_epsilon))


class PatchEmbed3D(nn.Module):
    def __init__(self, patch_size: Tuple[int, int, int], in_chans: int, embed_dim: int,
                 device: Optional[torch.device] = None):
        super().__init__()
        self.pt, self.ph, self.pw = int(patch_size[0]), int(patch_size[1]), int(patch_size[2])
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, device=device)

    def forward(self, x: Tensor) -> Tuple[Tensor, int, int, int]:
        """x [B, in, T, H', W'] -> (tokens [B, T*h*w, C] ordered (t, row, col), T, h, w); zero-pads bottom/right."""
        t, hh, ww = x.shape[2], x.shape[3], x.shape[4]
        pad_t = (self.pt - t % self.pt) % self.pt
        pad_h = (self.ph - hh % self.ph) % self.ph
        pad_w = (self.pw - ww % self.pw) % self.pw
        if pad_t + pad_h + pad_w > 0:
            x = F.pad(x, [0, pad_w, 0, pad_h, 0, pad_t])
        y = self.proj(x.to(self.proj.weight.dtype)).float()  # [B, C, T, h, w]
        nt, nh, nw = y.shape[2], y.shape[3], y.shape[4]
        return y.flatten(2).transpose(1, 2), nt, nh, nw


class TimestepEmbedder(nn.Module):
    """Sinusoid (cos first, 256) -> Linear -> SiLU -> Linear. Used for the timestep and (as SizeEmbedder) for fps."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256, device: Optional[torch.device] = None):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True, device=device),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True, device=device),
        )
        self.frequency_embedding_size = frequency_embedding_size

    def forward(self, t: Tensor) -> Tensor:
        """t [N] (any float) -> [N, C] float32."""
        emb = timestep_embedding(t, self.frequency_embedding_size)
        l0 = self.mlp[0]
        l2 = self.mlp[2]
        h = F.silu(l0(emb.to(l0.weight.dtype)).float())
        return l2(h.to(l2.weight.dtype)).float()


class Mlp(nn.Module):
    """timm Mlp: fc1 -> GELU(tanh) -> fc2 (no dropout)."""

    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 device: Optional[torch.device] = None):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features, device=device)
        self.fc2 = nn.Linear(hidden_features, out_features, device=device)

    def forward(self, x: Tensor) -> Tensor:
        h = F.gelu(self.fc1(x.to(self.fc1.weight.dtype)).float(), approximate="tanh")
        return self.fc2(h.to(self.fc2.weight.dtype)).float()


class CaptionEmbedder(nn.Module):
    def __init__(self, in_channels: int, hidden_size: int, token_num: int, device: Optional[torch.device] = None):
        super().__init__()
        self.y_proj = Mlp(in_channels, hidden_size, hidden_size, device=device)
        self.register_buffer("y_embedding", torch.randn(token_num, in_channels, device=device) / in_channels ** 0.5)

    def forward(self, caption: Tensor) -> Tensor:
        return self.y_proj(caption)


class Attention(nn.Module):
    """Self-attention: qkv -> (q/k RMSNorm) -> (RoPE on q and k separately) -> softmax(q k^T / sqrt(D)) v -> proj."""

    def __init__(self, dim: int, num_heads: int, qk_norm: bool, device: Optional[torch.device] = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True, device=device)
        if qk_norm:
            self.q_norm = RMSNorm(self.head_dim, 1e-6, device=device)
            self.k_norm = RMSNorm(self.head_dim, 1e-6, device=device)
        else:
            self.q_norm = nn.Identity()
            self.k_norm = nn.Identity()
        self.proj = nn.Linear(dim, dim, device=device)

    def forward(self, x: Tensor, freqs: Optional[Tensor]) -> Tensor:
        """x [B', n, C] float32; freqs given -> RoPE over positions 0..n-1. Returns float32 [B', n, C]."""
        b, n, c = x.shape[0], x.shape[1], x.shape[2]
        qkv = self.qkv(x.to(self.qkv.weight.dtype)).float()
        qkv = qkv.view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q = self.q_norm(qkv[0])
        k = self.k_norm(qkv[1])
        v = qkv[2]
        if freqs is not None:
            q = apply_rope(q, freqs)
            k = apply_rope(k, freqs)
        attn = torch.softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out.to(self.proj.weight.dtype)).float()


class MultiHeadCrossAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, device: Optional[torch.device] = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.scale = self.head_dim ** -0.5
        self.q_linear = nn.Linear(d_model, d_model, device=device)
        self.kv_linear = nn.Linear(d_model, d_model * 2, device=device)
        self.proj = nn.Linear(d_model, d_model, device=device)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """Per-sample cross-attention: x [B, M, C] attends to its own cond [B, L, C]. float32 [B, M, C]."""
        b, m, c = x.shape[0], x.shape[1], x.shape[2]
        n_cond = cond.shape[1]
        q = self.q_linear(x.to(self.q_linear.weight.dtype)).float()
        q = q.view(b, m, self.num_heads, self.head_dim).transpose(1, 2)
        kv = self.kv_linear(cond.to(self.kv_linear.weight.dtype)).float()
        kv = kv.view(b, n_cond, 2, self.num_heads, self.head_dim)
        k = kv[:, :, 0].transpose(1, 2)
        v = kv[:, :, 1].transpose(1, 2)
        attn = torch.softmax(torch.matmul(q * self.scale, k.transpose(-2, -1)), dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, m, c)
        return self.proj(out.to(self.proj.weight.dtype)).float()

    @torch.jit.unused
    def forward_packed(self, x: Tensor, cond: Tensor, y_lens: List[int]) -> Tensor:
        """Upstream formulation (eager reference): cond [1, sum(y_lens), C] packed, block-diagonal mask."""
        b, n, c = x.shape
        q = _lin(self.q_linear, x).view(1, b * n, self.num_heads, self.head_dim).transpose(1, 2)
        kv = _lin(self.kv_linear, cond).view(1, -1, 2, self.num_heads, self.head_dim)
        k = kv[:, :, 0].transpose(1, 2)
        v = kv[:, :, 1].transpose(1, 2)
        bias = torch.full((b * n, k.shape[2]), float("-inf"), device=x.device)
        start = 0
        for i, length in enumerate(y_lens):
            bias[i * n:(i + 1) * n, start:start + length] = 0.0
            start += length
        scores = torch.matmul(q * self.scale, k.transpose(-2, -1)) + bias
        out = torch.matmul(torch.softmax(scores, dim=-1), v)  # [1, H, B*N, D]
        out = out.transpose(1, 2).reshape(b, n, c)
        return _lin(self.proj, out)


def _layer_norm(x: Tensor) -> Tensor:
    return F.layer_norm(x.float(), [x.shape[-1]], None, None, 1e-6)


class STDiT3Block(nn.Module):
    """One spatial or temporal block (identical weights layout). Sub-stages as methods; all float32 in/out."""

    def __init__(self, hidden_size: int, num_heads: int, mlp_ratio: float, qk_norm: bool, temporal: bool,
                 device: Optional[torch.device] = None):
        super().__init__()
        self.temporal = temporal
        self.hidden_size = hidden_size
        self.attn = Attention(hidden_size, num_heads, qk_norm, device=device)
        self.cross_attn = MultiHeadCrossAttention(hidden_size, num_heads, device=device)
        self.mlp = Mlp(hidden_size, int(hidden_size * mlp_ratio), hidden_size, device=device)
        self.scale_shift_table = nn.Parameter(torch.randn(6, hidden_size, device=device) / hidden_size ** 0.5)

    def modulation(self, t_mlp: Tensor, i: int) -> Tensor:
        """Chunk i of (scale_shift_table + t_mlp.reshape(B, 6, C)): 0 shift_msa, 1 scale_msa, 2 gate_msa,
        3 shift_mlp, 4 scale_mlp, 5 gate_mlp. Returns [B, 1, C]."""
        b = t_mlp.shape[0]
        mod = self.scale_shift_table.float()[None] + t_mlp.float().reshape(b, 6, -1)
        return mod[:, i:i + 1]

    def norm_msa(self, x: Tensor, t_mlp: Tensor) -> Tensor:
        return _layer_norm(x) * (1.0 + self.modulation(t_mlp, 1)) + self.modulation(t_mlp, 0)

    def self_attention(self, h: Tensor, num_frames: int, freqs: Optional[Tensor]) -> Tensor:
        """h [B, T*S, C] tokens (t, s). Spatial: attention over S within each frame. Temporal: over T per position,
        with RoPE (freqs) at positions 0..T-1."""
        b, m, c = h.shape[0], h.shape[1], h.shape[2]
        s = m // num_frames
        if self.temporal:
            u = h.reshape(b, num_frames, s, c).transpose(1, 2).reshape(b * s, num_frames, c)
            u = self.attn(u, freqs)
            return u.reshape(b, s, num_frames, c).transpose(1, 2).reshape(b, m, c)
        u = self.attn(h.reshape(b * num_frames, s, c), None)
        return u.reshape(b, m, c)

    def gate_msa(self, x: Tensor, a: Tensor, t_mlp: Tensor) -> Tensor:
        return x + self.modulation(t_mlp, 2) * a

    def cross_attention(self, x: Tensor, y_tokens: Tensor) -> Tensor:
        return self.cross_attn(x, y_tokens)

    def mlp_residual(self, x: Tensor, t_mlp: Tensor) -> Tensor:
        h = _layer_norm(x) * (1.0 + self.modulation(t_mlp, 4)) + self.modulation(t_mlp, 3)
        return x + self.modulation(t_mlp, 5) * self.mlp(h)

    def forward(self, x: Tensor, y_tokens: Tensor, t_mlp: Tensor, num_frames: int,
                freqs: Optional[Tensor]) -> Tensor:
        x = self.gate_msa(x, self.self_attention(self.norm_msa(x, t_mlp), num_frames, freqs), t_mlp)
        x = x + self.cross_attention(x, y_tokens)
        return self.mlp_residual(x, t_mlp)

    @torch.jit.unused
    def forward_reference(self, x: Tensor, y_packed: Tensor, y_lens: List[int], t_mlp: Tensor, T: int, S: int,
                          freqs: Optional[Tensor]) -> Tensor:
        """Upstream STDiT3Block.forward (x_mask=None): packed captions with a block-diagonal cross-attention mask."""
        B, N, C = x.shape
        table = self.scale_shift_table.float()[None] + t_mlp.reshape(B, 6, -1)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = table.chunk(6, dim=1)
        x_m = _layer_norm(x) * (1 + scale_msa) + shift_msa
        if self.temporal:
            x_m = x_m.view(B, T, S, C).permute(0, 2, 1, 3).reshape(B * S, T, C)  # B (T S) C -> (B S) T C
            x_m = self.attn(x_m, freqs)
            x_m = x_m.view(B, S, T, C).permute(0, 2, 1, 3).reshape(B, T * S, C)
        else:
            x_m = x_m.view(B * T, S, C)  # B (T S) C -> (B T) S C
            x_m = self.attn(x_m, None)
            x_m = x_m.view(B, T * S, C)
        x = x + gate_msa * x_m
        x = x + self.cross_attn.forward_packed(x, y_packed, y_lens)
        x_m = _layer_norm(x) * (1 + scale_mlp) + shift_mlp
        return x + gate_mlp * self.mlp(x_m)


class T2IFinalLayer(nn.Module):
    def __init__(self, hidden_size: int, num_patch: int, out_channels: int, device: Optional[torch.device] = None):
        super().__init__()
        self.linear = nn.Linear(hidden_size, num_patch * out_channels, bias=True, device=device)
        self.scale_shift_table = nn.Parameter(torch.randn(2, hidden_size, device=device) / hidden_size ** 0.5)
        self.out_channels = out_channels

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """x [B, N, C], t [B, C] (timestep + fps embedding, NOT t_mlp) -> [B, N, num_patch*out_channels]."""
        mod = self.scale_shift_table.float()[None] + t.float()[:, None]  # [B, 2, C]
        shift = mod[:, 0:1]
        scale = mod[:, 1:2]
        h = _layer_norm(x) * (1.0 + scale) + shift
        return self.linear(h.to(self.linear.weight.dtype)).float()


class STDiT3(nn.Module):
    """STDiT3 with upstream parameter names; ``forward`` is the eager reference with upstream semantics."""

    def __init__(self, cfg: STDiT3Config, device: Optional[torch.device] = None):
        super().__init__()
        self.config = cfg
        c = cfg.hidden_size
        self.hidden_size = c
        self.num_heads = cfg.num_heads
        self.patch_size = tuple(int(p) for p in cfg.patch_size)
        self.in_channels = cfg.in_channels
        self.out_channels = cfg.out_channels
        self.input_sq_size = cfg.input_sq_size
        self.rope = RotaryEmbedding(cfg.head_dim, device=device)
        self.x_embedder = PatchEmbed3D(self.patch_size, cfg.in_channels, c, device=device)
        self.t_embedder = TimestepEmbedder(c, device=device)
        self.fps_embedder = TimestepEmbedder(c, device=device)  # upstream SizeEmbedder: same layout and math
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(c, 6 * c, bias=True, device=device))
        self.y_embedder = CaptionEmbedder(cfg.caption_channels, c, cfg.model_max_length, device=device)
        self.spatial_blocks = nn.ModuleList([
            STDiT3Block(c, cfg.num_heads, cfg.mlp_ratio, cfg.qk_norm, temporal=False, device=device)
            for _ in range(cfg.depth)])
        self.temporal_blocks = nn.ModuleList([
            STDiT3Block(c, cfg.num_heads, cfg.mlp_ratio, cfg.qk_norm, temporal=True, device=device)
            for _ in range(cfg.depth)])
        num_patch = self.patch_size[0] * self.patch_size[1] * self.patch_size[2]
        self.final_layer = T2IFinalLayer(c, num_patch, self.out_channels, device=device)

    def forward(self, x: Tensor, timestep: Tensor, y: Tensor, mask: Optional[Tensor] = None,
                fps: Optional[Tensor] = None, height: Optional[Tensor] = None,
                width: Optional[Tensor] = None) -> Tensor:
        """x [B, in, T, H', W'], timestep [B], y [B, 1, Lt, Ccap], mask [1 or B, Lt] int64, fps/height/width [1]
        -> [B, out, T, H', W'] float32. Follows upstream STDiT3.forward with x_mask=None."""
        B = x.shape[0]
        _, _, Tx, Hx, Wx = x.shape
        pt, ph, pw = self.patch_size
        T, H, W = -(-Tx // pt), -(-Hx // ph), -(-Wx // pw)
        S = H * W
        base_size = round(S ** 0.5)
        if height is None or width is None:
            raise ValueError("height and width (pixels) are required")
        resolution_sq = (height[0].item() * width[0].item()) ** 0.5
        scale = resolution_sq / self.input_sq_size
        pos_emb = _pos_embed_reference(self.hidden_size, H, W, scale, base_size, x.device)  # [1, S, C]

        t = self.t_embedder(timestep)
        if fps is None:
            raise ValueError("fps is required")
        fps_in = fps.reshape(-1)
        if fps_in.shape[0] != B:
            fps_in = fps_in.repeat(B // fps_in.shape[0])
        t = t + self.fps_embedder(fps_in)
        t_mlp = _lin(self.t_block[1], F.silu(t))

        y = self.y_embedder(y)  # [B, 1, Lt, C]
        if mask is not None:
            if mask.shape[0] != y.shape[0]:
                mask = mask.repeat(y.shape[0] // mask.shape[0], 1)
            y = y.squeeze(1).masked_select(mask.unsqueeze(-1) != 0).view(1, -1, self.hidden_size)
            y_lens = [int(v) for v in mask.sum(dim=1).tolist()]
        else:
            y_lens = [y.shape[2]] * y.shape[0]
            y = y.squeeze(1).reshape(1, -1, self.hidden_size)

        tokens, _, _, _ = self.x_embedder(x)
        tokens = (tokens.view(B, T, S, self.hidden_size) + pos_emb[:, None]).view(B, T * S, self.hidden_size)

        for spatial, temporal in zip(self.spatial_blocks, self.temporal_blocks):
            tokens = spatial.forward_reference(tokens, y, y_lens, t_mlp, T, S, None)
            tokens = temporal.forward_reference(tokens, y, y_lens, t_mlp, T, S, self.rope.freqs)

        out = self.final_layer(tokens, t)
        # B (N_t N_h N_w) (T_p H_p W_p C_out) -> B C_out (N_t T_p) (N_h H_p) (N_w W_p), then crop the padding
        out = out.view(B, T, H, W, pt, ph, pw, self.out_channels)
        out = torch.einsum("bthwpqrc->bctphqwr", out).reshape(B, self.out_channels, T * pt, H * ph, W * pw)
        return out[:, :, :Tx, :Hx, :Wx].float()


def _pos_embed_reference(dim: int, h: int, w: int, scale: float, base_size: int, device: torch.device) -> Tensor:
    """Upstream PositionEmbedding2D._get_cached_emb, step by step (meshgrid with w first). [1, h*w, dim]."""
    half = dim // 2
    inv_freq = 1.0 / (10000 ** (torch.arange(0, half, 2, device=device).float() / half))
    grid_h = torch.arange(h, device=device) / scale
    grid_w = torch.arange(w, device=device) / scale
    grid_h *= base_size / h
    grid_w *= base_size / w
    first, second = torch.meshgrid(grid_w, grid_h, indexing="ij")  # [w, h] each; first holds column coords
    first = first.t().reshape(-1)
    second = second.t().reshape(-1)

    def sc(p: Tensor) -> Tensor:
        out = torch.einsum("i,d->id", p, inv_freq)
        return torch.cat((torch.sin(out), torch.cos(out)), dim=-1)

    return torch.cat([sc(first), sc(second)], dim=-1).unsqueeze(0)


# ---------------------------------------------------------------------------------------------------------------------
# pack blocks (docs/model-pack.md, set "stdit")


class STDiT3Embed(nn.Module):
    """stdit-embed: (z [B,in,T,H',W'], timestep [B], y_valid [B,L,Ccap], fps [1], height [1], width [1])
    -> (x [B,N,C], y_tokens [B,L,C], t_mlp [B,6C], t_emb [B,C])."""

    def __init__(self, model: STDiT3):
        super().__init__()
        self.x_embedder = model.x_embedder
        self.t_embedder = model.t_embedder
        self.fps_embedder = model.fps_embedder
        self.t_linear = model.t_block[1]
        self.y_proj = model.y_embedder.y_proj
        self.hidden_size = model.hidden_size
        self.input_sq_size = float(model.input_sq_size)

    def forward(self, z: Tensor, timestep: Tensor, y: Tensor, fps: Tensor, height: Tensor,
                width: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        b = z.shape[0]
        c = self.hidden_size
        x, nt, nh, nw = self.x_embedder(z.float())
        s = nh * nw
        scale = (float(height[0]) * float(width[0])) ** 0.5 / self.input_sq_size
        base_size = int(round(float(s) ** 0.5))
        pos = pos_embed_2d(nh, nw, c, scale, base_size, z.device)  # [S, C]
        x = (x.reshape(b, nt, s, c) + pos[None, None]).reshape(b, nt * s, c)

        t = self.t_embedder(timestep)
        f = self.fps_embedder(fps.reshape(-1))
        if f.shape[0] != b:
            f = f.expand(b, c)
        t = t + f
        t_mlp = self.t_linear(F.silu(t).to(self.t_linear.weight.dtype)).float()
        y_tokens = self.y_proj(y)
        return x, y_tokens, t_mlp, t


def merge_frames(x: Tensor, sizes: List[int], averaged: List[int]) -> Tensor:
    """TDTM merge [B, T*S, C] -> [B, G*S, C]: group g covers ``sizes[g]`` consecutive frames and becomes the mean of
    its first ``averaged[g]`` frames, summed in frame order and then divided by the count (a single frame is kept
    as it is). Leading groups of one size r (all averaged) are summed through one strided view per position, as
    the Java ``TokenMerger.merge`` does: the same float32 operations, so the result is bit-equal to it."""
    b, m, c = x.shape[0], x.shape[1], x.shape[2]
    t = 0
    for n in sizes:
        t += n
    s = m // t
    frames = x.reshape(b, t, s, c)
    r = sizes[0]
    uniform = 0
    while uniform < len(sizes) and sizes[uniform] == r and averaged[uniform] == r:
        uniform += 1
    parts: List[Tensor] = []
    if r > 1 and uniform > 1:
        u = frames[:, 0:uniform * r].reshape(b, uniform, r, s, c)
        acc = u[:, :, 0]
        for f in range(1, r):
            acc = acc + u[:, :, f]
        parts.append(acc / float(r))
    else:
        uniform = 0
    start = uniform * r
    for g in range(uniform, len(sizes)):
        acc = frames[:, start:start + 1]
        for f in range(1, averaged[g]):
            acc = acc + frames[:, start + f:start + f + 1]
        parts.append(acc / float(averaged[g]) if averaged[g] > 1 else acc)
        start += sizes[g]
    merged = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
    return merged.reshape(b, len(sizes) * s, c)


def add_unmerged(x: Tensor, d: Tensor, sizes: List[int]) -> Tensor:
    """``x + unmerge(d)`` for x [B, T*S, C] and merged d [B, G*S, C] without materialising the unmerged d: each
    group's rows of d broadcast over its ``sizes[g]`` frames of x (leading groups of one size in one call; when all
    groups have one size, as for an even T, that is the whole add). Elementwise the same additions as adding the
    repeated copy."""
    b, m, c = x.shape[0], x.shape[1], x.shape[2]
    t = 0
    for n in sizes:
        t += n
    s = m // t
    g_count = len(sizes)
    xf = x.reshape(b, t, s, c)
    df = d.reshape(b, g_count, s, c)
    r = sizes[0]
    uniform = 0
    while uniform < g_count and sizes[uniform] == r:
        uniform += 1
    end = uniform * r
    head = (xf[:, 0:end].reshape(b, uniform, r, s, c) + df[:, 0:uniform, None]).reshape(b, end, s, c)
    if uniform == g_count:
        return head.reshape(b, m, c)
    parts: List[Tensor] = [head]
    start = end
    for g in range(uniform, g_count):
        parts.append(xf[:, start:start + sizes[g]] + df[:, g:g + 1])
        start += sizes[g]
    return torch.cat(parts, 1).reshape(b, m, c)


class STDiT3BlockPair(nn.Module):
    """stdit-block: spatial_blocks[j] then temporal_blocks[j], with the sub-stage methods of docs/model-pack.md and
    ``forward_merged``, the pair's TDTM step with the merges inside (docs/techniques.md)."""

    def __init__(self, spatial: STDiT3Block, temporal: STDiT3Block, rope: RotaryEmbedding):
        super().__init__()
        self.spatial = spatial
        self.temporal = temporal
        self.rope = rope

    @torch.jit.export
    def spatial_norm_msa(self, x: Tensor, t_mlp: Tensor) -> Tensor:
        return self.spatial.norm_msa(x, t_mlp)

    @torch.jit.export
    def spatial_self_attn(self, h: Tensor, num_frames: Tensor) -> Tensor:
        return self.spatial.self_attention(h, int(num_frames), None)

    @torch.jit.export
    def spatial_gate_msa(self, x: Tensor, a: Tensor, t_mlp: Tensor) -> Tensor:
        return self.spatial.gate_msa(x, a, t_mlp)

    @torch.jit.export
    def spatial_cross_attn(self, x: Tensor, y_tokens: Tensor) -> Tensor:
        return self.spatial.cross_attention(x, y_tokens)

    @torch.jit.export
    def spatial_mlp(self, x: Tensor, t_mlp: Tensor) -> Tensor:
        return self.spatial.mlp_residual(x, t_mlp)

    @torch.jit.export
    def temporal_norm_msa(self, x: Tensor, t_mlp: Tensor) -> Tensor:
        return self.temporal.norm_msa(x, t_mlp)

    @torch.jit.export
    def temporal_self_attn(self, h: Tensor, num_frames: Tensor) -> Tensor:
        return self.temporal.self_attention(h, int(num_frames), self.rope.freqs)

    @torch.jit.export
    def temporal_gate_msa(self, x: Tensor, a: Tensor, t_mlp: Tensor) -> Tensor:
        return self.temporal.gate_msa(x, a, t_mlp)

    @torch.jit.export
    def temporal_cross_attn(self, x: Tensor, y_tokens: Tensor) -> Tensor:
        return self.temporal.cross_attention(x, y_tokens)

    @torch.jit.export
    def temporal_mlp(self, x: Tensor, t_mlp: Tensor) -> Tensor:
        return self.temporal.mlp_residual(x, t_mlp)

    @torch.jit.export
    def forward_merged(self, x: Tensor, y_tokens: Tensor, t_mlp: Tensor, groups: Tensor) -> Tensor:
        """The pair on a TDTM step: ``groups`` int64 [2, G], row 0 the frames of each group (summing to T), row 1
        how many of a group's leading frames its merge averages (1 to its size; fewer than its size drops frames as
        upstream's odd-T rule does). Self- and cross-attention see the G merged frames, the MLP all T; the result
        equals the sub-stage chain around the Java ``TokenMerger`` bit for bit."""
        sizes: List[int] = []
        averaged: List[int] = []
        for g in range(groups.shape[1]):  # int() of elements, not tolist(): names the allowlist already has
            sizes.append(int(groups[0, g]))
            averaged.append(int(groups[1, g]))
        g = len(sizes)
        # Each half written out (a submodule passed as an argument would tie the method to one compiled module
        # type, which differs between processes). gate · unmerge(a) == unmerge(gate · a): the gate is per sample
        # and channel, the same product per element.
        sp = self.spatial
        a = sp.self_attention(merge_frames(sp.norm_msa(x, t_mlp), sizes, averaged), g, None)
        x = add_unmerged(x, sp.modulation(t_mlp, 2) * a, sizes)
        x = add_unmerged(x, sp.cross_attention(merge_frames(x, sizes, averaged), y_tokens), sizes)
        x = sp.mlp_residual(x, t_mlp)
        tp = self.temporal
        a = tp.self_attention(merge_frames(tp.norm_msa(x, t_mlp), sizes, averaged), g, self.rope.freqs)
        x = add_unmerged(x, tp.modulation(t_mlp, 2) * a, sizes)
        x = add_unmerged(x, tp.cross_attention(merge_frames(x, sizes, averaged), y_tokens), sizes)
        return tp.mlp_residual(x, t_mlp)

    def forward(self, x: Tensor, y_tokens: Tensor, t_mlp: Tensor, num_frames: Tensor) -> Tensor:
        x = self.spatial_gate_msa(x, self.spatial_self_attn(self.spatial_norm_msa(x, t_mlp), num_frames), t_mlp)
        x = x + self.spatial_cross_attn(x, y_tokens)
        x = self.spatial_mlp(x, t_mlp)
        x = self.temporal_gate_msa(x, self.temporal_self_attn(self.temporal_norm_msa(x, t_mlp), num_frames), t_mlp)
        x = x + self.temporal_cross_attn(x, y_tokens)
        return self.temporal_mlp(x, t_mlp)


class STDiT3Final(nn.Module):
    """stdit-final: (x [B,N,C], t_emb [B,C], latent_size int64 [3] = (T,H',W')) -> [B,out,T,H',W'] (padding cropped).

    Output channel c of patch offset (p_t, p_h, p_w) is linear output index ((p_t*ph + p_h)*pw + p_w)*out + c.
    """

    def __init__(self, model: STDiT3):
        super().__init__()
        self.final_layer = model.final_layer
        self.pt, self.ph, self.pw = (int(p) for p in model.patch_size)
        self.out_channels = model.out_channels

    def forward(self, x: Tensor, t_emb: Tensor, latent_size: Tensor) -> Tensor:
        tt, hh, ww = int(latent_size[0]), int(latent_size[1]), int(latent_size[2])
        nt = (tt + self.pt - 1) // self.pt
        nh = (hh + self.ph - 1) // self.ph
        nw = (ww + self.pw - 1) // self.pw
        b = x.shape[0]
        out = self.final_layer(x, t_emb)
        out = out.reshape(b, nt, nh, nw, self.pt, self.ph, self.pw, self.out_channels)
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(b, self.out_channels, nt * self.pt, nh * self.ph,
                                                             nw * self.pw)
        return out[:, :, :tt, :hh, :ww].contiguous()


def stdit_embed(model: STDiT3) -> STDiT3Embed:
    return STDiT3Embed(model)


def stdit_block_pair(model: STDiT3, j: int) -> STDiT3BlockPair:
    return STDiT3BlockPair(model.spatial_blocks[j], model.temporal_blocks[j], model.rope)


def stdit_final(model: STDiT3) -> STDiT3Final:
    return STDiT3Final(model)


def stdit_blocks(model: STDiT3) -> List[BlockSpec]:
    """embed, one spatial+temporal pair per depth index, final; the modules share parameters with ``model``."""
    specs = [BlockSpec(name="stdit.embed", set="stdit", role="stdit-embed", order=0, file="stdit/embed.pt",
                       module=stdit_embed(model))]
    for j in range(len(model.spatial_blocks)):
        specs.append(BlockSpec(name=f"stdit.block.{j:02d}", set="stdit", role="stdit-block", order=j,
                               file=f"stdit/block_{j:02d}.pt", module=stdit_block_pair(model, j)))
    specs.append(BlockSpec(name="stdit.final", set="stdit", role="stdit-final", order=0, file="stdit/final.pt",
                           module=stdit_final(model)))
    return specs


def null_embedding(model: STDiT3) -> Tensor:
    """y_embedder.y_embedding [model_max_length, caption_channels] float32 (the CFG null caption)."""
    return model.y_embedder.y_embedding.detach().float().cpu().clone()

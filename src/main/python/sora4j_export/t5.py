"""T5 v1.1 encoder (the Open-Sora text encoder, DeepFloyd/t5-v1_1-xxl) and its split into pack blocks.

The module tree mirrors Hugging Face ``T5EncoderModel`` so that a checkpoint's state dict loads with
``load_state_dict(strict=True)``:

    shared.weight                                                    [vocab, d_model]
    encoder.embed_tokens.weight                                      (the same tensor as shared.weight)
    encoder.block.{i}.layer.0.SelfAttention.{q,k,v,o}.weight         [H*d_kv, d_model] / [d_model, H*d_kv]
    encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight   [num_buckets, H]
    encoder.block.{i}.layer.0.layer_norm.weight                      [d_model]
    encoder.block.{i}.layer.1.DenseReluDense.{wi_0,wi_1}.weight      [d_ff, d_model]
    encoder.block.{i}.layer.1.DenseReluDense.wo.weight               [d_model, d_ff]
    encoder.block.{i}.layer.1.layer_norm.weight                      [d_model]
    encoder.final_layer_norm.weight                                  [d_model]

Numerics (T5 v1.1): RMSNorm without mean or bias, statistics in float32; gated GELU with the tanh approximation
(``gelu_new``); relative position bias (bidirectional buckets) computed once in block 0 and reused by every block;
attention scores are NOT scaled by 1/sqrt(d_kv); no dropout at inference.

Precision rule shared by every block: inputs and outputs are float32. Each ``nn.Linear`` receives its input cast to
the block's *compute dtype* (the dtype of the block's RMSNorm weights, so ``.half()`` gives float16 matmuls and
``quantize_dynamic`` -- which leaves the norms in float32 -- gives float32 input to the int8 dynamic Linear) and its
output is cast back to float32. Norms, softmax and the residual stream stay in float32.
"""

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .blocks import BlockSpec

# (1 - mask) * finfo(float32).min, as HF get_extended_attention_mask builds it for a float32 model.
_F32_MIN = float(torch.finfo(torch.float32).min)


@dataclass
class T5Config:
    vocab_size: int = 32128
    d_model: int = 4096
    d_kv: int = 64
    d_ff: int = 10240
    num_layers: int = 24
    num_heads: int = 64
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    layer_norm_epsilon: float = 1e-6

    @classmethod
    def xxl(cls) -> "T5Config":
        """DeepFloyd/t5-v1_1-xxl (the encoder Open-Sora v1.2 uses)."""
        return cls()

    @classmethod
    def tiny(cls, vocab_size: int = 32128) -> "T5Config":
        """A small random-weight configuration for tests and tiny packs."""
        return cls(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)

    @classmethod
    def from_hf_config(cls, cfg: Dict[str, Any]) -> "T5Config":
        """From a Hugging Face T5 ``config.json`` dict. Only gated-GELU (v1.1) encoders are supported."""
        ff = cfg.get("feed_forward_proj", "gated-gelu")
        if ff not in ("gated-gelu", "gated-gelu_new"):
            raise ValueError(f"unsupported feed_forward_proj {ff!r}: only T5 v1.1 gated-gelu is implemented")
        act = cfg.get("dense_act_fn", "gelu_new")
        if act not in ("gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"unsupported dense_act_fn {act!r}")
        d = cls()
        return cls(
            vocab_size=int(cfg.get("vocab_size", d.vocab_size)),
            d_model=int(cfg.get("d_model", d.d_model)),
            d_kv=int(cfg.get("d_kv", d.d_kv)),
            d_ff=int(cfg.get("d_ff", d.d_ff)),
            num_layers=int(cfg.get("num_layers", d.num_layers)),
            num_heads=int(cfg.get("num_heads", d.num_heads)),
            relative_attention_num_buckets=int(
                cfg.get("relative_attention_num_buckets", d.relative_attention_num_buckets)),
            relative_attention_max_distance=int(
                cfg.get("relative_attention_max_distance", d.relative_attention_max_distance)),
            layer_norm_epsilon=float(cfg.get("layer_norm_epsilon", d.layer_norm_epsilon)),
        )

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------------------
# building blocks (attribute names follow HF so that state_dict keys match)


def relative_position_bucket(relative_position: Tensor, bidirectional: bool, num_buckets: int,
                             max_distance: int) -> Tensor:
    """T5 bucketing of (memory - query) offsets: half the buckets exact, half log-spaced up to max_distance."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets = num_buckets // 2
        buckets = buckets + (relative_position > 0).to(torch.long) * num_buckets
        distance = torch.abs(relative_position)
    else:
        distance = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    log_ratio = torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, distance, large)


def _gelu_new(x: Tensor) -> Tensor:
    # tanh approximation of GELU, written out as HF's gelu_new evaluates it
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class T5LayerNorm(nn.Module):
    """RMSNorm: x / sqrt(mean(x^2) + eps) * weight, in float32, no mean subtraction, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6, device: Optional[torch.device] = None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, device=device))
        self.variance_epsilon = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight.float() * (x * torch.rsqrt(variance + self.variance_epsilon))


class T5Attention(nn.Module):
    def __init__(self, cfg: T5Config, has_relative_attention_bias: bool, device: Optional[torch.device] = None):
        super().__init__()
        self.n_heads = cfg.num_heads
        self.d_kv = cfg.d_kv
        inner = cfg.num_heads * cfg.d_kv
        self.q = nn.Linear(cfg.d_model, inner, bias=False, device=device)
        self.k = nn.Linear(cfg.d_model, inner, bias=False, device=device)
        self.v = nn.Linear(cfg.d_model, inner, bias=False, device=device)
        self.o = nn.Linear(inner, cfg.d_model, bias=False, device=device)
        self.num_buckets = cfg.relative_attention_num_buckets
        self.max_distance = cfg.relative_attention_max_distance
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(cfg.relative_attention_num_buckets, cfg.num_heads,
                                                        device=device)

    def compute_bias(self, query_length: int, key_length: int) -> Tensor:
        """Relative position bias [1, H, q, k] in float32 (only on the block that owns relative_attention_bias)."""
        weight = self.relative_attention_bias.weight
        q_pos = torch.arange(query_length, dtype=torch.long, device=weight.device)[:, None]
        k_pos = torch.arange(key_length, dtype=torch.long, device=weight.device)[None, :]
        bucket = relative_position_bucket(k_pos - q_pos, True, self.num_buckets, self.max_distance)
        values = self.relative_attention_bias(bucket).float()  # [q, k, H]
        return values.permute(2, 0, 1).unsqueeze(0)

    def forward(self, h: Tensor, position_bias: Tensor) -> Tensor:
        """h: normalised hidden states already in the compute dtype [B, L, D]; returns float32 [B, L, D]."""
        b, n = h.shape[0], h.shape[1]
        q = self.q(h).float().view(b, n, self.n_heads, self.d_kv).transpose(1, 2)
        k = self.k(h).float().view(b, n, self.n_heads, self.d_kv).transpose(1, 2)
        v = self.v(h).float().view(b, n, self.n_heads, self.d_kv).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(2, 3)) + position_bias  # no 1/sqrt(d) in T5
        weights = torch.softmax(scores, dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(b, n, self.n_heads * self.d_kv)
        return self.o(out.to(h.dtype)).float()


class T5LayerSelfAttention(nn.Module):
    def __init__(self, cfg: T5Config, has_relative_attention_bias: bool, device: Optional[torch.device] = None):
        super().__init__()
        self.SelfAttention = T5Attention(cfg, has_relative_attention_bias, device=device)
        self.layer_norm = T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon, device=device)

    def forward(self, x: Tensor, position_bias: Tensor) -> Tensor:
        normed = self.layer_norm(x).to(self.layer_norm.weight.dtype)
        return x + self.SelfAttention(normed, position_bias)


class T5DenseGatedActDense(nn.Module):
    def __init__(self, cfg: T5Config, device: Optional[torch.device] = None):
        super().__init__()
        self.wi_0 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False, device=device)
        self.wi_1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False, device=device)
        self.wo = nn.Linear(cfg.d_ff, cfg.d_model, bias=False, device=device)

    def forward(self, h: Tensor) -> Tensor:
        """h in the compute dtype; returns float32."""
        gated = _gelu_new(self.wi_0(h).float()) * self.wi_1(h).float()
        return self.wo(gated.to(h.dtype)).float()


class T5LayerFF(nn.Module):
    def __init__(self, cfg: T5Config, device: Optional[torch.device] = None):
        super().__init__()
        self.DenseReluDense = T5DenseGatedActDense(cfg, device=device)
        self.layer_norm = T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon, device=device)

    def forward(self, x: Tensor) -> Tensor:
        normed = self.layer_norm(x).to(self.layer_norm.weight.dtype)
        return x + self.DenseReluDense(normed)


class T5Block(nn.Module):
    """One encoder block. forward(hidden, position_bias) -> (hidden, position_bias) (bias passed through)."""

    def __init__(self, cfg: T5Config, has_relative_attention_bias: bool, device: Optional[torch.device] = None):
        super().__init__()
        self.layer = nn.ModuleList([
            T5LayerSelfAttention(cfg, has_relative_attention_bias, device=device),
            T5LayerFF(cfg, device=device),
        ])

    def forward(self, hidden: Tensor, position_bias: Tensor) -> Tuple[Tensor, Tensor]:
        h = self.layer[0](hidden.float(), position_bias)
        h = self.layer[1](h)
        return h, position_bias


class T5Stack(nn.Module):
    def __init__(self, cfg: T5Config, embed_tokens: nn.Embedding, device: Optional[torch.device] = None):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.block = nn.ModuleList([T5Block(cfg, i == 0, device=device) for i in range(cfg.num_layers)])
        self.final_layer_norm = T5LayerNorm(cfg.d_model, cfg.layer_norm_epsilon, device=device)


class T5Encoder(nn.Module):
    """Hugging Face ``T5EncoderModel`` equivalent (inference only)."""

    def __init__(self, cfg: T5Config, device: Optional[torch.device] = None):
        super().__init__()
        self.config = cfg
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model, device=device)
        self.encoder = T5Stack(cfg, self.shared, device=device)  # embed_tokens is tied to shared

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None) -> Tensor:
        """input_ids, attention_mask: int64 [B, Lt] -> last_hidden_state float32 [B, Lt, D]."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.encoder.embed_tokens(input_ids).float()
        length = input_ids.shape[1]
        bias = self.encoder.block[0].layer[0].SelfAttention.compute_bias(length, length)
        extended = (1.0 - attention_mask[:, None, None, :].float()) * _F32_MIN
        bias = bias + extended
        for block in self.encoder.block:
            hidden, bias = block(hidden, bias)
        return self.encoder.final_layer_norm(hidden)


# ---------------------------------------------------------------------------------------------------------------------
# pack blocks (docs/model-pack.md, set "t5")


class T5EmbedBlock(nn.Module):
    """t5-embed: input_ids int64 [B, Lt] -> hidden float32 [B, Lt, D]."""

    def __init__(self, embed_tokens: nn.Embedding):
        super().__init__()
        self.embed_tokens = embed_tokens

    def forward(self, input_ids: Tensor) -> Tensor:
        return self.embed_tokens(input_ids).float()


class T5FirstBlock(nn.Module):
    """t5-block order 0: (hidden [B, Lt, D], attention_mask int64 [B, Lt]) -> (hidden, position_bias [B, H, Lt, Lt]).

    position_bias = relative position bias + (1 - mask) * finfo(float32).min, as HF passes it to later blocks.
    """

    def __init__(self, block: T5Block):
        super().__init__()
        self.block = block
        self.mask_min = _F32_MIN

    def forward(self, hidden: Tensor, attention_mask: Tensor) -> Tuple[Tensor, Tensor]:
        length = hidden.shape[1]
        bias = self.block.layer[0].SelfAttention.compute_bias(length, length)
        extended = (1.0 - attention_mask[:, None, None, :].float()) * self.mask_min
        return self.block(hidden, bias + extended)


class T5FinalNormBlock(nn.Module):
    """t5-final-norm: hidden -> RMSNorm(hidden), float32."""

    def __init__(self, norm: T5LayerNorm):
        super().__init__()
        self.final_layer_norm = norm

    def forward(self, hidden: Tensor) -> Tensor:
        return self.final_layer_norm(hidden)


def t5_blocks(model: T5Encoder) -> List[BlockSpec]:
    """embed, one block per encoder layer, final norm; the modules share parameters with ``model``."""
    specs = [BlockSpec(name="t5.embed", set="t5", role="t5-embed", order=0, file="t5/embed.pt",
                       module=T5EmbedBlock(model.encoder.embed_tokens))]
    for i, block in enumerate(model.encoder.block):
        module = T5FirstBlock(block) if i == 0 else block
        specs.append(BlockSpec(name=f"t5.block.{i:02d}", set="t5", role="t5-block", order=i,
                               file=f"t5/block_{i:02d}.pt", module=module))
    specs.append(BlockSpec(name="t5.final_norm", set="t5", role="t5-final-norm", order=0, file="t5/final_norm.pt",
                           module=T5FinalNormBlock(model.encoder.final_layer_norm)))
    return specs

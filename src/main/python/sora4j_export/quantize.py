"""Int8 dynamic quantization of the T5 encoder (what the On-device Sora app ships: T5 int8, STDiT and VAE fp32).

Every ``nn.Linear`` gets int8 weights (per-tensor affine, ``torch.qint8``) and runs with dynamically quantized
activations (fbgemm / qnnpack kernels, CPU only). Embeddings, norms and everything else stay float32. The result is
scriptable and saves with ``torch.jit.save``.
"""

import copy

import torch

__all__ = ["quantize_t5_int8", "quantized_parameter_bytes", "measure_int8_error"]


def _dynamic_linear_type():
    try:
        return torch.ao.nn.quantized.dynamic.Linear
    except AttributeError:  # older torch
        return torch.nn.quantized.dynamic.Linear


def quantize_t5_int8(module: torch.nn.Module, inplace: bool = False) -> torch.nn.Module:
    """Returns ``module`` with every ``nn.Linear`` replaced by a dynamic int8 Linear (a copy unless ``inplace``).
    The module is moved to float32 first (dynamic quantization starts from float32 weights) and put in eval mode."""
    m = module if inplace else copy.deepcopy(module)
    m = m.float().eval()
    return torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def quantized_parameter_bytes(module: torch.nn.Module) -> int:
    """Bytes of parameters and buffers, counting the packed int8 weights (1 byte each) and float biases of dynamic
    quantized Linears, which are neither parameters nor buffers. Tensors shared between submodules count once."""
    seen = set()
    total = 0

    def add(t):
        nonlocal total
        if t is None:
            return
        key = (t.data_ptr(), t.numel(), t.dtype) if not t.is_quantized else id(t)
        if key in seen:
            return
        seen.add(key)
        total += t.numel() * t.element_size()

    for t in module.parameters():
        add(t)
    for t in module.buffers():
        add(t)
    qlinear = _dynamic_linear_type()
    for sub in module.modules():
        if isinstance(sub, qlinear):
            w = sub.weight()
            total += w.numel() * w.element_size()
            if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
                total += w.q_per_channel_scales().numel() * 8 + w.q_per_channel_zero_points().numel() * 8
            else:
                total += 16  # scale (double) and zero point (int64)
            add(sub.bias())
    return total


@torch.no_grad()
def measure_int8_error(model: torch.nn.Module, *inputs, mask=None, quantized: torch.nn.Module = None) -> dict:
    """Runs ``model(*inputs)`` in float32 and its int8 twin (``quantized``, default ``quantize_t5_int8(model)``) and
    compares the first outputs.

    ``mask`` ([B, L], 1 = token) restricts the comparison to the valid rows of a [B, L, D] output. Returns
    ``{"max_abs": max |q - r|, "max_rel": max_abs / max |r|, "rel_l2": ||q - r|| / ||r||, "ref_max_abs": max |r|}``.
    """
    ref_model = copy.deepcopy(model).float().eval()
    q = quantized if quantized is not None else quantize_t5_int8(ref_model)
    ref = _first(ref_model(*inputs)).float()
    out = _first(q(*inputs)).float()
    if mask is not None:
        keep = mask.to(torch.bool)
        ref, out = ref[keep], out[keep]
    diff = (out - ref).abs()
    ref_max = ref.abs().max().item() if ref.numel() else 0.0
    max_abs = diff.max().item() if diff.numel() else 0.0
    ref_norm = ref.norm().item()
    return {
        "max_abs": max_abs,
        "max_rel": max_abs / ref_max if ref_max > 0 else float("inf") if max_abs > 0 else 0.0,
        "rel_l2": (out - ref).norm().item() / ref_norm if ref_norm > 0 else 0.0,
        "ref_max_abs": ref_max,
    }


def _first(out):
    if isinstance(out, (tuple, list)):
        return out[0]
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out

"""The committed tiny-random pack and its reference files, generated deterministically from one seed.

Regenerate (from the repository root)::

    PYTHONPATH=src/main/python PYTHONHASHSEED=0 /usr/bin/python3 -m sora4j_export.tiny

(or, the same code, ``python3 -m sora4j_export references``) which writes

* the pack ``src/main/resources/io/github/sora4j/packs/tiny-random/`` (``pack.write_pack``), and
* the references ``src/test/resources/reference/tiny-random/`` (``blocks.npz``, ``t5.npz``, ``run_*.npz`` and a
  generated ``README.md`` that lists every key, shape and dtype). Decoded ``frames`` are stored only in the runs whose
  :class:`RunSpec` says so (the baselines and ``run_tdtm_odd``), which keeps the files at about 7 MB.

``python3 -m sora4j_export tiny --out DIR --seed 0`` writes the same pack through :func:`write_tiny_pack`.

The models are the tiny configurations of t5.py, stdit3.py and vae.py (``T5Config.tiny(vocab)``,
``STDiT3Config.tiny(d_model)``, ``VAEConfig.tiny()``) with every learned tensor re-drawn from a seeded generator
(:func:`randomize`). The references are produced by the eager reference sampler (reference.py), never by the
TorchScript files. ``.npz`` files are written with fixed zip timestamps and a fixed key order, so regenerating gives
byte-identical files; TorchScript files are byte-identical only with the same ``PYTHONHASHSEED`` (see pack.py), which
``main`` sets to 0 by re-executing itself when it is unset.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import sys
import tempfile
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from . import reference as ref

SEED = 0
PACK_NAME = "tiny-random"
REPO_ROOT = Path(__file__).resolve().parents[4]
PACK_DIR = REPO_ROOT / "src" / "main" / "resources" / "io" / "github" / "sora4j" / "packs" / PACK_NAME
REF_DIR = REPO_ROOT / "src" / "test" / "resources" / "reference" / PACK_NAME
COMMAND = "PYTHONPATH=src/main/python PYTHONHASHSEED=0 /usr/bin/python3 -m sora4j_export.tiny"

# prompts (before clean_prompt / with_aesthetic_score)
RUN_PROMPT = "A red ball bouncing slowly on the beach at sunset"
ODD_PROMPT = "Two white birds flying over the sea"
T5_PROMPTS = [
    RUN_PROMPT,
    "Close-up of a LEMUR   in the forest,  cinematic!",  # unknown word, punctuation, whitespace and case
    " ".join(["a small blue cube spinning"] * 70),  # 350 words: truncated to max_length - 1 tokens + </s>
]


# ---------------------------------------------------------------------------------------------------------------------
# models


def randomize(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Re-draws every learned floating tensor of ``model`` from ``generator``, in sorted parameter-name order.

    * frozen parameters (``requires_grad=False``, e.g. the RoPE frequencies) keep their constructor values;
    * ``nn.Embedding`` tables: N(0, 1);
    * STDiT ``scale_shift_table`` (adaLN tables): N(0, 0.1^2) (upstream zero-initialises parts of them);
    * other tensors with >= 2 dims (Linear/Conv weights): N(0, 1/fan_in), fan_in = numel / out_channels;
    * 1-D ``*weight`` (RMSNorm/LayerNorm/GroupNorm scales): 1 + N(0, 0.1^2);
    * other 1-D tensors (biases): N(0, 0.05^2).
    Then the STDiT null caption buffer ``y_embedder.y_embedding`` (if present) is drawn as N(0, 1).
    Nothing is left at zero (upstream zero-initialises the final layer, gates and cross-attention projections), so
    every block of a tiny pack does real, non-degenerate work.
    """
    owners = dict(model.named_modules())
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if not p.is_floating_point() or not p.requires_grad:
                continue
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            owner = owners.get(name.rsplit(".", 1)[0] if "." in name else "")
            if isinstance(owner, torch.nn.Embedding):
                value = noise
            elif name.endswith("scale_shift_table"):
                value = 0.1 * noise
            elif p.dim() >= 2:
                value = noise / math.sqrt(max(p[0].numel(), 1))
            elif name.endswith("weight"):
                value = 1.0 + 0.1 * noise
            else:
                value = 0.05 * noise
            p.copy_(value.to(p.dtype))
        for name, b in sorted(model.named_buffers(), key=lambda kv: kv[0]):
            if name.endswith("y_embedder.y_embedding"):
                b.copy_(torch.randn(b.shape, generator=generator, dtype=torch.float32).to(b.dtype))


@dataclass
class TinyModels:
    seed: int
    t5: torch.nn.Module
    t5_config: object
    stdit: torch.nn.Module
    stdit_config: object
    vae: torch.nn.Module
    vae_config: object
    tokenizer: object
    vocab: Dict[str, int] = field(default_factory=dict)

    @property
    def max_length(self) -> int:
        return int(self.stdit_config.model_max_length)

    @property
    def null_embedding(self) -> torch.Tensor:
        from .stdit3 import null_embedding

        return null_embedding(self.stdit)


def build_tiny_models(seed: int = SEED) -> TinyModels:
    """The seeded random tiny T5 / STDiT3 / VAE and the project tokenizer. Deterministic for a given seed.

    One ``torch.Generator().manual_seed(seed)`` draws the T5, then the STDiT3, then the VAE tensors
    (:func:`randomize`); ``torch.manual_seed(seed)`` is also set first so constructor-time draws are reproducible.
    """
    from .stdit3 import STDiT3, STDiT3Config
    from .t5 import T5Config, T5Encoder
    from .tokenizer import WordLevelTokenizer, build_vocab
    from .vae import VAEConfig, VideoVAEDecoder

    vocab = build_vocab()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t5_config = T5Config.tiny(len(vocab))
    t5 = T5Encoder(t5_config).eval()
    randomize(t5, gen)
    stdit_config = STDiT3Config.tiny(t5_config.d_model)
    stdit = STDiT3(stdit_config).eval()
    randomize(stdit, gen)
    vae_config = VAEConfig.tiny()
    vae = VideoVAEDecoder(vae_config).eval()
    randomize(vae, gen)
    return TinyModels(seed, t5, t5_config, stdit, stdit_config, vae, vae_config, WordLevelTokenizer(vocab), vocab)


# ---------------------------------------------------------------------------------------------------------------------
# runs


@dataclass(frozen=True)
class RunSpec:
    name: str
    prompt: str
    seed: int
    num_frames: int
    height: int
    width: int
    steps: int = 30
    guidance: float = 7.0
    fps: int = 24
    lpl: Optional[ref.LplConfig] = None
    tdtm_steps: int = 0
    aesthetic_score: float = 6.5
    frames: bool = True  # store the decoded `frames` (omitted where z_final/latents suffice, to keep the files small)


EVEN = dict(prompt=RUN_PROMPT, seed=42, num_frames=34, height=64, width=64)   # latent [4, 10, 8, 8]
ODD = dict(prompt=ODD_PROMPT, seed=7, num_frames=17, height=48, width=72)     # latent [4, 5, 6, 9], W' padded to 10

RUNS = [
    RunSpec("run_baseline_even", **EVEN),
    RunSpec("run_baseline_odd_pad", **ODD),
    RunSpec("run_lpl_fixed", **EVEN, lpl=ref.LplConfig.fixed(15), frames=False),
    RunSpec("run_lpl_dynamic", **EVEN, lpl=ref.LplConfig.dynamic(), frames=False),
    RunSpec("run_tdtm", **EVEN, tdtm_steps=15, frames=False),
    RunSpec("run_tdtm_odd", **ODD, tdtm_steps=30),
]

_LPL_MODES = {None: 0, ref.LPL_OFF: 0, ref.LPL_FIXED: 1, ref.LPL_DYNAMIC: 2}
_COS_SCOPES = {ref.COS_FULL_TENSOR: 0, ref.COS_SLICE_B0_C0_F0_ROWWISE: 1}


def _utf8(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-8"), dtype=np.uint8).copy()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy().copy()


def initial_noise(seed: int, shape) -> torch.Tensor:
    """``torch.manual_seed(seed); torch.randn(shape)`` (float32, CPU): what sora4j's TorchGenerator reproduces."""
    torch.manual_seed(seed)
    return torch.randn(tuple(shape))


@torch.no_grad()
def generate_run(m: TinyModels, spec: RunSpec) -> "OrderedDict[str, np.ndarray]":
    """One end-to-end reference run as an ordered dict of arrays (the keys of a run_*.npz file)."""
    T, Hl, Wl = m.vae.latent_size(spec.num_frames, spec.height, spec.width)
    z0 = initial_noise(spec.seed, (1, m.vae_config.latent_channels, T, Hl, Wl))
    text = ref.prepare_prompt(spec.prompt, spec.aesthetic_score)
    y, mask, ids = ref.encode_prompt(m.t5, m.tokenizer, spec.prompt, m.max_length, spec.aesthetic_score)
    null = m.null_embedding
    L = int(mask.sum())
    sampler = ref.Sampler(m.stdit)
    res = sampler.sample(z0, y, mask, null, height=spec.height, width=spec.width, num_frames=spec.num_frames,
                         steps=spec.steps, guidance=spec.guidance, fps=spec.fps, lpl=spec.lpl,
                         tdtm_steps=spec.tdtm_steps, record=True)
    # the raw model output of step 0 (CFG batch [cond, uncond], all 8 channels), for debugging
    y_cfg = torch.cat([y[:, :L], null[None, :L]], 0)
    out0 = sampler.model_output(torch.cat([z0, z0], 0), torch.tensor([res.schedule[0]] * 2, dtype=torch.float32),
                                y_cfg, spec.fps, spec.height, spec.width, merged=spec.tdtm_steps > 0)
    lpl = spec.lpl or ref.LplConfig(mode=ref.LPL_OFF)
    d = OrderedDict()
    d["seed"] = np.array(spec.seed, dtype=np.int64)
    d["prompt_utf8"] = _utf8(spec.prompt)
    d["text_utf8"] = _utf8(text)
    d["num_frames"] = np.array(spec.num_frames, dtype=np.int64)
    d["height"] = np.array(spec.height, dtype=np.int64)
    d["width"] = np.array(spec.width, dtype=np.int64)
    d["steps"] = np.array(spec.steps, dtype=np.int64)
    d["guidance"] = np.array(spec.guidance, dtype=np.float64)
    d["fps"] = np.array(spec.fps, dtype=np.int64)
    d["aesthetic_score"] = np.array(spec.aesthetic_score, dtype=np.float64)
    d["tdtm_steps"] = np.array(spec.tdtm_steps, dtype=np.int64)
    d["lpl_mode"] = np.array(_LPL_MODES[lpl.mode], dtype=np.int64)
    d["lpl_target_step"] = np.array(lpl.target_step, dtype=np.int64)
    d["lpl_min_step_fraction"] = np.array(lpl.min_step_fraction, dtype=np.float64)
    d["lpl_cos_tolerance"] = np.array(lpl.cos_tolerance, dtype=np.float64)
    d["lpl_patience"] = np.array(lpl.patience, dtype=np.int64)
    d["lpl_cosine_scope"] = np.array(_COS_SCOPES[lpl.cosine_scope], dtype=np.int64)
    d["latent_size"] = np.array([T, Hl, Wl], dtype=np.int64)
    d["ids"] = _np(ids)
    d["mask"] = _np(mask)
    d["y"] = _np(y)
    d["y_cfg"] = _np(y_cfg)
    d["z0"] = _np(z0)
    d["schedule"] = np.array(res.schedule, dtype=np.float64)
    d["timesteps"] = np.array(res.timesteps, dtype=np.float64)
    d["dts"] = np.array(res.dts, dtype=np.float64)
    d["model_out_step0"] = _np(out0)
    d["velocities"] = _np(torch.stack(res.velocities, 0))
    d["latents"] = _np(torch.stack(res.latents, 0))
    d["cosines"] = np.array(res.cosines, dtype=np.float64)
    d["leap_step"] = np.array(-1 if res.leap_step is None else res.leap_step, dtype=np.int64)
    d["calls"] = np.array(res.calls, dtype=np.int64)
    d["z_final"] = _np(res.z)
    if spec.frames:
        d["frames"] = _np(ref.decode(m.vae, res.z, spec.num_frames).float())
    return d


# ---------------------------------------------------------------------------------------------------------------------
# T5 references


@torch.no_grad()
def generate_t5(m: TinyModels) -> "OrderedDict[str, np.ndarray]":
    d = OrderedDict()
    d["max_length"] = np.array(m.max_length, dtype=np.int64)
    d["aesthetic_score"] = np.array(6.5, dtype=np.float64)
    for k, prompt in enumerate(T5_PROMPTS):
        y, mask, ids = ref.encode_prompt(m.t5, m.tokenizer, prompt, m.max_length)
        d[f"p{k}.prompt_utf8"] = _utf8(prompt)
        d[f"p{k}.text_utf8"] = _utf8(ref.prepare_prompt(prompt))
        d[f"p{k}.ids"] = _np(ids)
        d[f"p{k}.mask"] = _np(mask)
        d[f"p{k}.y"] = _np(y)
    return d


# ---------------------------------------------------------------------------------------------------------------------
# block references

BLOCK_FRAMES, BLOCK_HEIGHT, BLOCK_WIDTH = 17, 32, 40  # latent [4, 5, 4, 5]: odd T, W' padded 5 -> 6, S = 2*3
BLOCK_SEED = 5
BLOCK_STEP = 3  # the timestep is schedule[BLOCK_STEP] of a 30-step schedule at that size
BLOCK_SPATIAL_FRAMES = 2  # frames of the spatial micro-batch stored in blocks.npz (the parts take any count)


@torch.no_grad()
def generate_blocks(m: TinyModels) -> "OrderedDict[str, np.ndarray]":
    """Inputs and outputs of every block, from the eager block modules (t5_blocks, stdit_blocks, vae_blocks)."""
    from .stdit3 import stdit_blocks
    from .t5 import t5_blocks
    from .vae import temporal_chunks, vae_blocks

    d = OrderedDict()
    i64 = torch.int64

    # ---- T5, batch 1, the run prompt
    text = ref.prepare_prompt(RUN_PROMPT)
    ids, mask = m.tokenizer.encode(text, m.max_length)
    ids = torch.tensor([ids], dtype=i64)
    mask = torch.tensor([mask], dtype=i64)
    specs = t5_blocks(m.t5)
    emb, blocks, final = specs[0].module, [s.module for s in specs[1:-1]], specs[-1].module
    d["t5.embed.in.input_ids"] = _np(ids)
    h = emb(ids)
    d["t5.embed.out.hidden"] = _np(h)
    d["t5.block.00.in.attention_mask"] = _np(mask)
    h, bias = blocks[0](h, mask)
    d["t5.block.00.out.hidden"] = _np(h)
    d["t5.block.00.out.position_bias"] = _np(bias)
    for k, blk in enumerate(blocks[1:], start=1):
        h, bias2 = blk(h, bias)
        assert torch.equal(bias2, bias)
        d[f"t5.block.{k:02d}.out.hidden"] = _np(h)
    h = final(h)
    d["t5.final_norm.out.hidden"] = _np(h)
    y = h

    # ---- STDiT, CFG batch 2
    T, Hl, Wl = m.vae.latent_size(BLOCK_FRAMES, BLOCK_HEIGHT, BLOCK_WIDTH)
    z = initial_noise(BLOCK_SEED, (1, 4, T, Hl, Wl))
    L = int(mask.sum())
    y_cfg = torch.cat([y[:, :L], m.null_embedding[None, :L]], 0)
    t = ref.timesteps(30, BLOCK_FRAMES, BLOCK_HEIGHT, BLOCK_WIDTH)[BLOCK_STEP]
    z_in = torch.cat([z, z], 0)
    t_in = torch.tensor([t, t], dtype=torch.float32)
    f32 = torch.float32
    fps, hh, ww = (torch.tensor([v], dtype=f32) for v in (24.0, float(BLOCK_HEIGHT), float(BLOCK_WIDTH)))
    sspecs = stdit_blocks(m.stdit)
    embed, pairs, sfinal = sspecs[0].module, [s.module for s in sspecs[1:-1]], sspecs[-1].module
    d["stdit.embed.in.z"] = _np(z_in)
    d["stdit.embed.in.timestep"] = _np(t_in)
    d["stdit.embed.in.y"] = _np(y_cfg)
    d["stdit.embed.in.fps"] = _np(fps)
    d["stdit.embed.in.height"] = _np(hh)
    d["stdit.embed.in.width"] = _np(ww)
    x, y_tok, t_mlp, t_emb = embed(z_in, t_in, y_cfg, fps, hh, ww)
    d["stdit.embed.out.x"] = _np(x)
    d["stdit.embed.out.y_tokens"] = _np(y_tok)
    d["stdit.embed.out.t_mlp"] = _np(t_mlp)
    d["stdit.embed.out.t_emb"] = _np(t_emb)
    S = x.shape[1] // T
    Tm = (T + 1) // 2
    nf = torch.tensor(T, dtype=i64)
    nfm = torch.tensor(Tm, dtype=i64)
    d["stdit.num_frames"] = _np(nf)
    d["stdit.num_frames_merged"] = _np(nfm)
    for j, pair in enumerate(pairs):
        p = f"stdit.block.{j:02d}"
        # sub-stages of the fused path, chained from this block's input
        xs = x
        for half in ("spatial", "temporal"):
            q = f"{p}.{half}"
            hm = getattr(pair, half + "_norm_msa")(xs, t_mlp)
            a = getattr(pair, half + "_self_attn")(hm, nf)
            xs = getattr(pair, half + "_gate_msa")(xs, a, t_mlp)
            c = getattr(pair, half + "_cross_attn")(xs, y_tok)
            d[f"{q}.norm_msa.out"] = _np(hm)
            d[f"{q}.self_attn.out"] = _np(a)
            d[f"{q}.gate_msa.out"] = _np(xs)
            d[f"{q}.cross_attn.out"] = _np(c)
            xs = xs + c
            d[f"{q}.mlp.in"] = _np(xs)
            xs = getattr(pair, half + "_mlp")(xs, t_mlp)
            d[f"{q}.mlp.out"] = _np(xs)
        # TDTM (merged) path through the same methods
        xt = x
        for half in ("spatial", "temporal"):
            q = f"{p}.tdtm.{half}"
            hm = getattr(pair, half + "_norm_msa")(xt, t_mlp)
            g = ref.merge_frames(hm, T, S)
            a = getattr(pair, half + "_self_attn")(g, nfm)
            xt = getattr(pair, half + "_gate_msa")(xt, ref.unmerge_frames(a, T, S), t_mlp)
            gx = ref.merge_frames(xt, T, S)
            c = getattr(pair, half + "_cross_attn")(gx, y_tok)
            d[f"{q}.merged_h"] = _np(g)
            d[f"{q}.self_attn.out"] = _np(a)
            d[f"{q}.gate_msa.out"] = _np(xt)
            d[f"{q}.merged_x"] = _np(gx)
            d[f"{q}.cross_attn.out"] = _np(c)
            xt = xt + ref.unmerge_frames(c, T, S)
            d[f"{q}.mlp.in"] = _np(xt)
            xt = getattr(pair, half + "_mlp")(xt, t_mlp)
            d[f"{q}.mlp.out"] = _np(xt)
        d[f"{p}.in.x"] = _np(x)
        x = pair(x, y_tok, t_mlp, nf)
        d[f"{p}.out.x"] = _np(x)
        d[f"{p}.tdtm.out.x"] = _np(xt)
    ls = torch.tensor([T, Hl, Wl], dtype=i64)
    d["stdit.final.in.latent_size"] = _np(ls)
    out = sfinal(x, t_emb, ls)
    d["stdit.final.out"] = _np(out)

    # ---- VAE, the latent z above, one temporal chunk and one spatial micro-batch through the parts
    cfg = m.vae_config
    vspecs = vae_blocks(m.vae)
    temporal = [s.module for s in vspecs if s.role == "vae-temporal"]
    spatial = [s.module for s in vspecs if s.role == "vae-spatial"]
    d["vae.in.z"] = _np(z)
    scale = torch.tensor(cfg.scale, dtype=f32).reshape(1, -1, 1, 1, 1)
    shift = torch.tensor(cfg.shift, dtype=f32).reshape(1, -1, 1, 1, 1)
    (start, end, frames), = temporal_chunks(T, BLOCK_FRAMES, cfg)
    hv = (z * scale + shift)[:, :, start:end]
    nv = torch.tensor(frames, dtype=i64)
    d["vae.temporal.num_frames"] = _np(nv)
    for k, part in enumerate(temporal):
        d[f"vae.temporal.{k:02d}.in.h"] = _np(hv)
        hv = part(hv, nv)
    d["vae.temporal.out.h"] = _np(hv)
    hs = (hv / cfg.scaling_factor)[0].permute(1, 0, 2, 3).contiguous()[:BLOCK_SPATIAL_FRAMES]
    for k, part in enumerate(spatial):
        d[f"vae.spatial.{k:02d}.in.h"] = _np(hs)
        hs = part(hs)
    d["vae.spatial.out.h"] = _np(hs)
    d["vae.out.frames"] = _np(ref.decode(m.vae, z, BLOCK_FRAMES))
    return d


# ---------------------------------------------------------------------------------------------------------------------
# writing

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def save_npz(path, arrays: "OrderedDict[str, np.ndarray]") -> None:
    """An .npz (zip of .npy, deflated) with fixed timestamps and key order: same arrays → same bytes."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
    os.replace(tmp, path)


def load_npz(path) -> "OrderedDict[str, np.ndarray]":
    with np.load(str(path), allow_pickle=False) as z:
        return OrderedDict((k, z[k]) for k in z.files)


def generate_references(m: TinyModels) -> "OrderedDict[str, OrderedDict[str, np.ndarray]]":
    files = OrderedDict()
    files["blocks.npz"] = generate_blocks(m)
    files["t5.npz"] = generate_t5(m)
    for spec in RUNS:
        files[spec.name + ".npz"] = generate_run(m, spec)
    return files


RUN_KEY_DOCS = {
    "seed": "noise seed", "prompt_utf8": "prompt as given", "text_utf8": "prepared text that was tokenized",
    "num_frames": "pixel frames F", "height": "pixel height H", "width": "pixel width W", "steps": "K",
    "guidance": "CFG scale", "fps": "fps conditioning", "aesthetic_score": "score appended to the prompt",
    "tdtm_steps": "steps i < tdtm_steps are merged", "lpl_mode": "0 off, 1 fixed, 2 dynamic",
    "lpl_target_step": "FIXED leap index n", "lpl_min_step_fraction": "DYNAMIC minimum step fraction",
    "lpl_cos_tolerance": "DYNAMIC tolerance", "lpl_patience": "DYNAMIC patience",
    "lpl_cosine_scope": "0 full tensor, 1 v[0,0,0] row-wise", "latent_size": "(T, H', W')",
    "ids": "token ids, Lt = 300", "mask": "attention mask", "y": "T5 output (all Lt rows)",
    "y_cfg": "STDiT caption input [cond; null] (L valid rows)", "z0": "initial noise",
    "schedule": "all K timesteps t'_i (float32 values)", "timesteps": "t'_i of each executed step",
    "dts": "dt of each executed step (0..1000 scale)", "model_out_step0": "raw STDiT output of step 0 [cond; uncond]",
    "velocities": "CFG velocity v_i per executed step", "latents": "z after each executed step",
    "cosines": "LPL cosine per executed step (NaN = not measured)", "leap_step": "leaping step index, -1 = none",
    "calls": "STDiT evaluations", "z_final": "final latent",
    "frames": "eager VAE decode of z_final (baselines and run_tdtm_odd only)",
}


def _describe(arr: np.ndarray) -> str:
    return f"{list(arr.shape)} {arr.dtype}"


def readme_text(files, sizes: Dict[str, int], seed: int) -> str:
    lines = [
        "# tiny-random reference files",
        "",
        "Generated by `src/main/python/sora4j_export/tiny.py` (do not edit by hand). Regenerate from the repository",
        "root with:",
        "",
        "```",
        COMMAND,
        "```",
        "",
        f"Models: the pack `src/main/resources/io/github/sora4j/packs/{PACK_NAME}/` (seed {seed}, "
        "`tiny.build_tiny_models`). Every value below comes from the eager PyTorch modules and the eager reference "
        "sampler (`sora4j_export/reference.py`), not from the TorchScript files. Strings are stored as UTF-8 bytes "
        "(`*_utf8`, uint8). Files are deflated `.npz` archives with fixed timestamps (byte-identical on "
        "regeneration). `src/test/python/test_reference.py` checks that the committed files still match the code.",
        "",
        "Conventions shared by all run files:",
        "",
        "- `z0 = torch.manual_seed(seed); torch.randn([1, 4, T, H', W'])` (float32, CPU).",
        "- prompt text = `with_aesthetic_score(clean_prompt(prompt), 6.5)`; T5 on `ids`/`mask` (Lt = 300) gives `y`;",
        "  `y_cfg = cat(y[:, :L], null_embedding[None, :L])` with L = sum(mask) (the STDiT embed input).",
        "- `schedule`: 30-step rectified flow with the timestep transform, nf = the latent frame count T (for",
        "  F = 34 and 17 this equals upstream's `(F // 17) * 5`), computed in float32 in upstream's operation order",
        "  (stored as float64 holding float32 values).",
        "- step i: `t_in = [t'_i, t'_i]` (float32), model on `[z, z]`, `v = v_u + guidance*(v_c - v_u)` on channels",
        "  0..3 (float32), `dt = float32(t'_i - t'_{i+1})` (last step or leap:",
        "  `t'_i`), `z = z + v * float32(dt/1000)`. `velocities[i]`/`latents[i]` are v and z after step i's update.",
        "- LPL dynamic: `cosines[i]` = cosine(v_{i-1}, v_i) over the whole flattened tensor, float64, measured from",
        "  step ceil(0.5*K)-1 = 14 on (NaN elsewhere); `if cos > best + 1e-4: best = cos; count = 3 else count -= 1`;",
        "  the step where count reaches 0 leaps (`dt = t'_i`, stop). `leap_step` = -1 when no leap.",
        "- TDTM: steps i < tdtm_steps run each block pair through its sub-stage methods with frame pairs (2g, 2g+1)",
        "  averaged (odd T: the last frame is its own group) around self- and cross-attention.",
        "- `lpl_mode`: 0 off, 1 fixed, 2 dynamic; `lpl_cosine_scope`: 0 full tensor, 1 v[0,0,0] row-wise mean.",
        "- `frames` (the eager VAE decode of `z_final`) is stored only in the baseline runs and `run_tdtm_odd` (see the",
        "  table); the other runs are checked through `latents`/`z_final`, and the VAE itself through the baselines.",
        "",
        "## Runs",
        "",
        "| file | prompt | seed | frames F×H×W | latent | steps | LPL | TDTM steps | calls | `frames` stored |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in RUNS:
        d = files[spec.name + ".npz"]
        lpl = "off" if spec.lpl is None else (f"fixed n={spec.lpl.target_step}" if spec.lpl.mode == ref.LPL_FIXED
                                              else "dynamic (defaults)")
        lines.append(f"| `{spec.name}.npz` | {spec.prompt} | {spec.seed} | {spec.num_frames}×{spec.height}×"
                     f"{spec.width} | {list(d['latent_size'])} | {spec.steps} | {lpl} | {spec.tdtm_steps} | "
                     f"{int(d['calls'])} | {'yes' if 'frames' in d else 'no'} |")
    lines += [
        "",
        f"`t5.npz`: the three prompts below encoded with Lt = 300 (p2 is longer than 299 tokens and is truncated):",
        "",
    ]
    for k, p in enumerate(T5_PROMPTS):
        lines.append(f"- p{k}: `{p if len(p) < 80 else p[:60] + '…'}`")
    lines += [
        "",
        f"`blocks.npz`: inputs and outputs of every block, from the eager block modules, at {BLOCK_FRAMES}×"
        f"{BLOCK_HEIGHT}×{BLOCK_WIDTH} pixels (latent [4, 5, 4, 5]: odd T, W' padded 5 → 6, patch grid 2×3, S = 6), "
        f"CFG batch 2, prompt `{RUN_PROMPT}`, timestep = 30-step schedule[{BLOCK_STEP}] at that size, latent "
        f"`torch.manual_seed({BLOCK_SEED}); torch.randn([1, 4, 5, 4, 5])`. An input that is not stored under a block's "
        "own name is an earlier block's output:",
        "",
        "- T5 (batch 1, Lt = 300): `t5.embed` → `t5.block.00` (takes `t5.block.00.in.attention_mask`, returns "
        "`out.hidden` and `out.position_bias`) → `t5.block.01` (takes `t5.block.00.out.hidden` and "
        "`t5.block.00.out.position_bias`, passes the bias through unchanged) → `t5.final_norm` (takes the last "
        "block's `out.hidden`).",
        "- STDiT: `stdit.embed.in.*` → `stdit.embed.out.*`. Pair j takes `stdit.block.jj.in.x`, "
        "`stdit.embed.out.y_tokens`, `stdit.embed.out.t_mlp` and `stdit.num_frames` (T, int64 0-d); fused output "
        "`stdit.block.jj.out.x` (= the next pair's `in.x`). `stdit.final` takes the last `out.x`, "
        "`stdit.embed.out.t_emb` and `stdit.final.in.latent_size`.",
        "- Sub-stages, per half (`spatial` then `temporal`) with x = the half's input (pair `in.x`, or spatial's "
        "`mlp.out` for temporal): `norm_msa.out = norm_msa(x, t_mlp)`; `self_attn.out = self_attn(norm_msa.out, T)`; "
        "`gate_msa.out = gate_msa(x, self_attn.out, t_mlp)`; `cross_attn.out = cross_attn(gate_msa.out, y_tokens)`; "
        "`mlp.in = gate_msa.out + cross_attn.out`; `mlp.out = mlp(mlp.in, t_mlp)`. Temporal `mlp.out` == `out.x`.",
        "- TDTM (`stdit.block.jj.tdtm.{half}.*`, starting again from `in.x`): `merged_h = merge(norm_msa(x))`; "
        "`self_attn.out = self_attn(merged_h, T')` with T' = `stdit.num_frames_merged` = ceil(T/2); "
        "`gate_msa.out = gate_msa(x, unmerge(self_attn.out))`; `merged_x = merge(gate_msa.out)`; "
        "`cross_attn.out = cross_attn(merged_x, y_tokens)`; `mlp.in = gate_msa.out + unmerge(cross_attn.out)`; "
        "`mlp.out = mlp(mlp.in)`; `tdtm.out.x` = temporal `mlp.out`. merge averages frame pairs (2g, 2g+1) as "
        "`(a + b) / 2`, the odd last frame stays alone; unmerge repeats each group back to its frames.",
        "- VAE: `vae.temporal.00.in.h = vae.in.z * scale + shift` (one chunk: 5 latent frames → 17 frames); every "
        "temporal part also takes `vae.temporal.num_frames`; part k's output is part k+1's `in.h`, the last one's "
        f"is `vae.temporal.out.h`. `vae.spatial.00.in.h` = the first {BLOCK_SPATIAL_FRAMES} frames of "
        "`vae.temporal.out.h / 0.18215` as [F, 4, H', W']; the last spatial output is `vae.spatial.out.h`. "
        "`vae.out.frames` is the whole eager decode of `vae.in.z` (17 frames).",
        "",
        "## Files and keys",
        "",
    ]
    for fname, arrays in files.items():
        lines.append(f"### `{fname}` ({sizes.get(fname, 0):,} bytes)")
        lines.append("")
        run = fname.startswith("run_")
        lines.append("| key | shape dtype |" + (" meaning |" if run else ""))
        lines.append("|---|---|" + ("---|" if run else ""))
        for k, a in arrays.items():
            lines.append(f"| `{k}` | {_describe(a)} |" + (f" {RUN_KEY_DOCS.get(k, '')} |" if run else ""))
        lines.append("")
    return "\n".join(lines)


def write_references(out_dir, m: TinyModels) -> Dict[str, int]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = generate_references(m)
    sizes = {}
    for fname, arrays in files.items():
        save_npz(out / fname, arrays)
        sizes[fname] = (out / fname).stat().st_size
    (out / "README.md").write_text(readme_text(files, sizes, m.seed) + "\n", encoding="utf-8")
    return sizes


def write_tiny_pack(out_dir, m: TinyModels, *, name: str = PACK_NAME, weight_dtype: str = "float32",
                    t5_int8: bool = False, overwrite: bool = True, log=None) -> dict:
    """Writes ``m`` as a pack (``pack.write_pack``) with the project's word-level tokenizer.

    The one writer of tiny packs: the committed pack (:func:`main`) and ``python3 -m sora4j_export tiny`` both use it,
    so with the defaults and the same seed (and PYTHONHASHSEED) they give byte-identical packs.
    """
    from .pack import write_pack
    from .tokenizer import write_tokenizer_json

    with tempfile.TemporaryDirectory(prefix="sora4j-tok-") as tmp:
        tok = write_tokenizer_json(Path(tmp) / "tokenizer.json", m.vocab)
        return write_pack(
            out_dir, name=name,
            description=(f"Random tiny Open-Sora v1.2 architecture (seed {m.seed}, sora4j_export.tiny) with the sora4j "
                         f"word-level tokenizer; for tests only, produces noise."),
            t5_model=m.t5, t5_config=m.t5_config, stdit_model=m.stdit, stdit_config=m.stdit_config,
            vae_model=m.vae, vae_config=m.vae_config, tokenizer_json_path=tok, weight_dtype=weight_dtype,
            t5_int8=t5_int8, overwrite=overwrite, log=log)


def write_committed(seed: int = SEED, pack_out=PACK_DIR, ref_out=REF_DIR, pack: bool = True, refs: bool = True,
                    out=print) -> None:
    """Regenerates the committed pack and/or reference files (what :func:`main` and ``sora4j_export references`` run)."""
    m = build_tiny_models(seed)
    if pack:
        manifest = write_tiny_pack(pack_out, m)
        total = sum(b["bytes"] for b in manifest["blocks"]) + sum(f["bytes"] for f in manifest["files"])
        out(f"pack {pack_out}: {len(manifest['blocks'])} blocks, {total:,} bytes")
    if refs:
        sizes = write_references(ref_out, m)
        for k, v in sizes.items():
            out(f"  {k}: {v:,} bytes")
        out(f"references {ref_out}: {sum(sizes.values()):,} bytes")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m sora4j_export.tiny",
                                description="Writes the tiny-random pack and its reference files.")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--pack-out", default=str(PACK_DIR), help="pack directory (replaced)")
    p.add_argument("--ref-out", default=str(REF_DIR), help="reference directory")
    p.add_argument("--no-pack", action="store_true", help="only write the references")
    p.add_argument("--no-refs", action="store_true", help="only write the pack")
    args = p.parse_args(argv)
    write_committed(args.seed, args.pack_out, args.ref_out, pack=not args.no_pack, refs=not args.no_refs)
    return 0


if __name__ == "__main__":
    if "PYTHONHASHSEED" not in os.environ:
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, "-m", "sora4j_export.tiny"] + sys.argv[1:], env)
    sys.exit(main())

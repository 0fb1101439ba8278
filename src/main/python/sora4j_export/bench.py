"""The bench pack: Open-Sora v1.2's shapes at the paper's real token counts, with cut widths and depth.

``python3 -m sora4j_export bench --out DIR [--seed N] [--overwrite]`` (or :func:`write_bench_pack`) writes a seeded
random pack (docs/benchmarks.md) for the JMH benchmarks and the ablation runner (``benchmarks/ablation.sh``), which
generates it on demand under ``benchmarks/target/packs/`` (git-ignored, about 6 MB).

What is real and what is cut:

* **Real:** every shape that sets how much work a request is. The latent of 68 frames at 256×256 is [4, 20, 32, 32], so
  a sample has 20 × 16 × 16 = **5,120 tokens** (256 per frame, the spatial attention length; 20 frames, the temporal
  one), the CFG batch is 2, T5 runs on **300 tokens** (Open-Sora's ``model_max_length``), patch (1, 2, 2), MLP ratio 4,
  the VAE decodes 4 temporal chunks of 5 latent frames into 68 frames and then every frame at 256×256, with the real
  block structure (T5 blocks, spatial+temporal STDiT pairs, 7 VAE parts), the real sampling defaults (30 steps,
  CFG 7.0, timestep transform) and the real number of blocks per STDiT step.
* **Cut:** widths and depths (:data:`BENCH_STDIT`: hidden 128, 4 heads of 32, 2 pairs instead of 1152, 16 × 72, 28),
  so that one denoising step takes about half a second on one CPU core and the ablation fits in about 10
  minutes. At these
  widths the STDiT step is still dominated by the attention and MLP work over 5,120 tokens per sample (the terms that
  LPL and TDTM remove), while a CPU reads a block far faster than it computes it: the CI-DL setting therefore
  throttles block reads (see ``benchmarks/README.md``).

The widths keep Open-Sora's ratios where FLOP shares depend on them: T5 d_ff = 2.5 × d_model (as T5-XXL: 10240 / 4096),
d_kv × heads = d_model. The VAE keeps v1.2's levels, up-samplings and chunking with its channels divided by 32 (groups
of 4; v1.2: 32) and one residual block per level, so that the decode takes about as large a share of a 30-step
generation as in the paper (Table 5: T5 + VAE ≈ 180 s of ≈ 1,240 s); at these widths its time goes to memory traffic
more than to FLOPs. :data:`BENCH_*` are also recorded in the manifest's ``architecture`` object, where
``io.github.sora4j.plan.FlopModel`` reads them.

Weights are drawn as for the tiny pack (:func:`tiny.randomize`) from one seeded generator: T5, then STDiT3, then VAE;
the same seed gives byte-identical block files (under the same ``PYTHONHASHSEED``, see pack.py). The videos are noise.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

PACK_NAME = "bench-opensora"
SEED = 0

#: T5 of the bench pack: 2 blocks of width 64 (T5-XXL: 24 of 4096), d_ff = 2.5 d_model, 4 heads × 16.
BENCH_T5 = dict(d_model=64, d_kv=16, d_ff=160, num_layers=2, num_heads=4)
#: STDiT3 of the bench pack: hidden 128, 2 spatial+temporal pairs, 4 heads × 32 (XL/2: 1152, 28, 16 × 72).
BENCH_STDIT = dict(hidden_size=128, depth=2, num_heads=4, mlp_ratio=4.0, model_max_length=300)
#: VAE of the bench pack: v1.2's channels / 32 (temporal filters 4, spatial 4, 8, 16, 16), groups of 4, and one
#: residual block per level (v1.2: 4 temporal, 3 spatial).
BENCH_VAE = dict(temporal_filters=4, temporal_num_groups=4, temporal_num_res_blocks=1,
                 spatial_block_out_channels=(4, 8, 16, 16), spatial_norm_groups=4, spatial_layers_per_block=0)


@dataclass
class BenchModels:
    seed: int
    t5: torch.nn.Module
    t5_config: object
    stdit: torch.nn.Module
    stdit_config: object
    vae: torch.nn.Module
    vae_config: object
    vocab: dict


def build_bench_models(seed: int = SEED, t5: dict = None, stdit: dict = None, vae: dict = None) -> BenchModels:
    """The seeded random bench models (widths from the ``BENCH_*`` dicts unless overridden, for experiments)."""
    from .stdit3 import STDiT3, STDiT3Config
    from .t5 import T5Config, T5Encoder
    from .tiny import randomize
    from .tokenizer import build_vocab
    from .vae import VAEConfig, VideoVAEDecoder

    vocab = build_vocab()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t5_config = T5Config(vocab_size=len(vocab), **(t5 or BENCH_T5))
    t5_model = T5Encoder(t5_config).eval()
    randomize(t5_model, gen)
    stdit_config = STDiT3Config(caption_channels=t5_config.d_model, **(stdit or BENCH_STDIT))
    stdit_model = STDiT3(stdit_config).eval()
    randomize(stdit_model, gen)
    vae_config = VAEConfig(**(vae or BENCH_VAE))
    vae_model = VideoVAEDecoder(vae_config).eval()
    randomize(vae_model, gen)
    return BenchModels(seed, t5_model, t5_config, stdit_model, stdit_config, vae_model, vae_config, vocab)


def architecture(m: BenchModels) -> dict:
    """The manifest's ``architecture`` object: the full configs, for FLOP models (docs/benchmarks.md)."""
    return {"t5": m.t5_config.to_dict(), "stdit": m.stdit_config.to_dict(), "vae": m.vae_config.to_dict()}


def write_bench_pack(out_dir, m: BenchModels = None, *, seed: int = SEED, name: str = PACK_NAME,
                     overwrite: bool = False, log=None) -> dict:
    """Writes the bench pack (float32) with the project's word-level tokenizer; returns the manifest."""
    from .pack import write_pack
    from .tokenizer import write_tokenizer_json

    m = m or build_bench_models(seed)
    with tempfile.TemporaryDirectory(prefix="sora4j-tok-") as tmp:
        tok = write_tokenizer_json(Path(tmp) / "tokenizer.json", m.vocab)
        return write_pack(
            out_dir, name=name,
            description=(f"Open-Sora v1.2 shapes at the paper's token counts (68x256x256: 5,120 tokens per sample, "
                         f"T5 on 300 tokens) with cut widths and depth, random weights (seed {m.seed}, "
                         f"sora4j_export.bench); for benchmarks only, produces noise."),
            t5_model=m.t5, t5_config=m.t5_config, stdit_model=m.stdit, stdit_config=m.stdit_config,
            vae_model=m.vae, vae_config=m.vae_config, tokenizer_json_path=tok, weight_dtype="float32",
            architecture=architecture(m), overwrite=overwrite, log=log)

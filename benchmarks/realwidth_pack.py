"""The real-width pack for benchmarks/efficiency.sh: Open-Sora v1.2's released widths, one block of each kind.

    PYTHONPATH=src/main/python PYTHONHASHSEED=0 python3 benchmarks/realwidth_pack.py --out DIR [--seed 0]

writes an ordinary model pack (the exporter's ``write_pack``: the same modules, scripting, archive rewriting and
allowlist check as every pack) whose blocks have the released shapes:

* T5-XXL: d_model 4096, 64 heads × 64, d_ff 10240, **one** encoder block (of 24; the block with the relative
  position bias, which every T5 block's work equals apart from that small lookup), the bench pack's word-level
  vocabulary (the embedding's rows do not enter the benchmark);
* STDiT3-XL/2: hidden 1152, 16 heads × 72, MLP ×4, caption channels 4096, **one** spatial+temporal pair (of 28);
* the v1.2 VAE decoder, complete (temporal 128·(1, 2, 2, 4) with 4 residual blocks per level, spatial
  (128, 256, 512, 512) with 3 ResNets per level).

Weights are the bench pack's seeded random draw (``tiny.randomize``: N(0, 1/fan_in) matrices), float32. About 1.9 GB
on disk; git-ignored under benchmarks/target/. The manifest's ``architecture`` records these configs.
"""

import argparse
import sys
import time
from dataclasses import asdict

import tempfile
from pathlib import Path

from sora4j_export.bench import architecture, build_bench_models
from sora4j_export.pack import write_pack
from sora4j_export.stdit3 import STDiT3Config
from sora4j_export.t5 import T5Config
from sora4j_export.tokenizer import write_tokenizer_json
from sora4j_export.vae import VAEConfig

NAME = "realwidth-opensora"


def configs():
    """(t5, stdit, vae) keyword dicts for ``build_bench_models``: the released widths, depth 1."""
    t5 = asdict(T5Config.xxl())
    t5.pop("vocab_size")
    t5["num_layers"] = 1
    stdit = STDiT3Config.xl2().to_dict()
    stdit.pop("caption_channels")  # build_bench_models takes it from T5's d_model (4096)
    stdit["patch_size"] = tuple(stdit["patch_size"])
    stdit["depth"] = 1
    vae = {k: v for k, v in asdict(VAEConfig()).items()}
    return t5, stdit, vae


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args(argv)
    start = time.monotonic()
    t5, stdit, vae = configs()
    m = build_bench_models(a.seed, t5=t5, stdit=stdit, vae=vae)
    if m.stdit_config.caption_channels != 4096 or m.stdit_config.hidden_size != 1152:
        raise SystemExit(f"unexpected STDiT config {m.stdit_config}")
    with tempfile.TemporaryDirectory(prefix="sora4j-tok-") as tmp:
        tok = write_tokenizer_json(Path(tmp) / "tokenizer.json", m.vocab)
        write_pack(a.out, name=NAME,
                   description=(f"Open-Sora v1.2's released widths (T5-XXL, STDiT3-XL/2, v1.2 VAE) with one T5 block and "
                                f"one STDiT pair, random weights (seed {a.seed}, benchmarks/realwidth_pack.py); "
                                f"for benchmarks/efficiency.sh only, produces noise."),
                   t5_model=m.t5, t5_config=m.t5_config, stdit_model=m.stdit, stdit_config=m.stdit_config,
                   vae_model=m.vae, vae_config=m.vae_config, tokenizer_json_path=tok, weight_dtype="float32",
                   architecture=architecture(m), overwrite=a.overwrite,
                   log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"wrote {a.out} in {time.monotonic() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Real-width efficiency (docs/benchmarks.md, "Real-width efficiency"): one STDiT3-XL/2 spatial+temporal pair on
# 5,120 tokens per sample with CFG batch 2, one T5-XXL block on 300 tokens and the VAE decode of one 17-frame chunk
# at 256x256, through the library's TorchScript/DJL path, each as achieved GFLOP/s against a float32 matmul peak
# measured right before it with the same threads, FLOPs from io.github.sora4j.plan.FlopModel.
#
#   benchmarks/efficiency.sh [--reps 3] [--vae-reps 1] [--threads 1,2] [--stages] [--no-doc] [--profile FILE]
#   benchmarks/efficiency.sh --from-csv FILE     # only the report (and the doc section) of an earlier run's CSV
#
# Steps, all from the repository root:
#   1. installs the library into the local Maven repository (build output in $SORA4J_BUILD, default
#      /tmp/sora4j-bench-build) and builds benchmarks/target/benchmarks.jar (SKIP_BUILD=1 reuses the jar),
#   2. writes the real-width pack to benchmarks/target/packs/realwidth-opensora if it is missing
#      (benchmarks/realwidth_pack.py, seed 0, about 1.9 GB, one minute),
#   3. runs io.github.sora4j.benchmarks.Efficiency: a warm-up per thread count, then --reps interleaved
#      repetitions; writes benchmarks/target/efficiency/runs.csv and rewrites the section of docs/benchmarks.md
#      between <!-- efficiency:begin --> and <!-- efficiency:end -->.
# Time on the busy 2-core machine of 2026-12-04 (load 11-17): warm-up 10 minutes, about 6 minutes per repetition with
# --stages, 10-12 minutes per VAE decode and thread count; the default run with --stages took 44 minutes.
#
# Environment: SORA4J_BUILD, PYTHON (default /usr/bin/python3), MVN_OFFLINE=1 (Maven -o), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
PACK_DIR="benchmarks/target/packs/realwidth-opensora"

bench_build

if [[ " $* " != *" --from-csv "* && ! -f "$PACK_DIR/manifest.json" ]]; then
    echo "writing the real-width pack to $PACK_DIR" >&2
    PYTHONPATH=src/main/python PYTHONHASHSEED=0 "$PYTHON" benchmarks/realwidth_pack.py --out "$PACK_DIR"
fi

exec java -Xmx4g -Dai.djl.offline=true -Dai.djl.pytorch.num_interop_threads=1 \
    -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.Efficiency \
    --pack "$PACK_DIR" --command "benchmarks/efficiency.sh${*:+ $*}" "$@"

#!/usr/bin/env bash
# Java's overhead on merged (TDTM) STDiT steps, merges in the block (forward_merged) and in Java, with the ablation's
# paired measure (docs/benchmarks.md, "Java overhead on merged steps"); rewrites that section of docs/benchmarks.md
# and writes every pair to benchmarks/target/merged-overhead/pairs.csv. About 5 minutes on two cores.
#
#   benchmarks/merged_overhead.sh [--reps 5] [--steps 8] [--no-doc]
#
# Builds as benchmarks/ablation.sh does (SKIP_BUILD=1 reuses the jar), writes the bench pack if it is missing and adds
# forward_merged to a bench pack written before it (python3 -m sora4j_export.upgrade; weights unchanged).
# Environment: SORA4J_BUILD, PYTHON (default /usr/bin/python3), MVN_OFFLINE=1, SKIP_BUILD=1, THREADS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
PACK_DIR="benchmarks/target/packs/bench-opensora"

bench_build

bench_pack "$PACK_DIR"

exec java -Xmx6g -Dai.djl.offline=true -Dai.djl.pytorch.graph_optimizer=false \
    -Dai.djl.pytorch.num_threads="${THREADS:-1}" -Dai.djl.pytorch.num_interop_threads=1 \
    -Dsora4j.benchPack="$PACK_DIR" \
    -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.MergedStepOverhead "$@"

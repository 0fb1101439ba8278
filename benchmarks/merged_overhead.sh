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
BUILD="${SORA4J_BUILD:-/tmp/sora4j-bench-build}"
PYTHON="${PYTHON:-/usr/bin/python3}"
PACK_DIR="benchmarks/target/packs/bench-opensora"
MVN=(mvn -B -q ${MVN_OFFLINE:+-o})

if [[ "${SKIP_BUILD:-0}" != 1 || ! -f benchmarks/target/benchmarks.jar ]]; then
    "${MVN[@]}" install -DskipTests -DskipPythonTests=true -Dassembly.skipAssembly=true \
        -Dsora4j.buildDir="$BUILD"
    "${MVN[@]}" -f benchmarks/pom.xml package -DskipTests
fi

if [[ ! -f "$PACK_DIR/manifest.json" ]]; then
    echo "writing the bench pack to $PACK_DIR" >&2
    PYTHONPATH=src/main/python PYTHONHASHSEED=0 "$PYTHON" -m sora4j_export bench --out "$PACK_DIR"
else
    PYTHONPATH=src/main/python PYTHONHASHSEED=0 "$PYTHON" -m sora4j_export.upgrade "$PACK_DIR" >&2
fi

exec java -Xmx6g -Dai.djl.offline=true -Dai.djl.pytorch.graph_optimizer=false \
    -Dai.djl.pytorch.num_threads="${THREADS:-1}" -Dai.djl.pytorch.num_interop_threads=1 \
    -Dsora4j.benchPack="$PACK_DIR" \
    -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.MergedStepOverhead "$@"

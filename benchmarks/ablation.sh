#!/usr/bin/env bash
# The ablation (docs/benchmarks.md): Baseline / LPL / TDTM / CI-DL / All on the bench pack, interleaved,
# several repetitions, medians; rewrites the generated section of docs/benchmarks.md and writes every run to
# benchmarks/target/ablation/runs.csv. About 10 minutes on two cores with the defaults.
#
#   benchmarks/ablation.sh [--reps 5] [--steps 30] [--settings compute,streaming] [--no-doc] [--doc FILE]
#   benchmarks/ablation.sh --presets [--reps 3] [--no-doc]
#
# --presets (issue 18): the named presets (io.github.sora4j.Preset, the CLI's --preset) instead: first their quality
# on the demo pack (python3 -m sora4j_export.demo.presets: every preset against the full run on the held-out prompts,
# QUALITY_LIMIT of them, default 24 of 96; SKIP_QUALITY=1 reuses benchmarks/target/presets/quality.json), then their
# speed on the bench pack, interleaved with the full baseline (io.github.sora4j.benchmarks.PresetAblation); writes the
# speed/quality table between <!-- presets:begin --> and <!-- presets:end --> in docs/benchmarks.md and
# docs/quality.md. About 15 minutes on two cores with the defaults (2026-12-04: 16 min of quality for QUALITY_LIMIT=96, 10 min of timing). --presets --from-csv re-renders the table
# from the last timing run (benchmarks/target/presets/runs.csv, run.txt) and the quality file as it is now.
#
# Steps, all from the repository root:
#   1. installs the library into the local Maven repository (build output in $SORA4J_BUILD, default
#      /tmp/sora4j-bench-build, so that it never touches target/ of a build in progress),
#   2. builds benchmarks/target/benchmarks.jar (skipped with SKIP_BUILD=1),
#   3. writes the bench pack to benchmarks/target/packs/bench-opensora if it is missing
#      (python3 -m sora4j_export bench, seed 0),
#   4. runs io.github.sora4j.benchmarks.Ablation with the arguments given: the rows (each with its peak process
#      memory, VmHWM reset before the run), Java's overhead per step against the bare TorchScript calls, and
#      benchmarks/eager_step.py (the same step in eager PyTorch, run with $PYTHON; --no-eager skips it).
#
# Environment: SORA4J_BUILD, PYTHON (default /usr/bin/python3), MVN_OFFLINE=1 to pass -o to Maven, SKIP_BUILD=1,
# QUALITY_WORKERS (--presets: processes sharing the quality prompts, default 1; the same values, faster on free cores),
# THREADS (libtorch intra-op threads, default 1: on a 2-core machine shared with other work, two threads make every
# operator wait for the slower core and single steps vary 2-4x; one thread leaves the other core to the other work).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
PACK_DIR="benchmarks/target/packs/bench-opensora"

bench_build

bench_pack "$PACK_DIR"

if [[ "${1:-}" == --presets ]]; then
    shift
    QUALITY=benchmarks/target/presets/quality.json
    # --from-csv only re-renders the last timing run (runs.csv) with the quality file: it never reruns it
    if [[ " $* " != *" --from-csv "* && ( "${SKIP_QUALITY:-0}" != 1 || ! -f "$QUALITY" ) ]]; then
        PYTHONPATH=src/main/python OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PYTHON" -m sora4j_export.demo.presets \
            --limit "${QUALITY_LIMIT:-24}" --workers "${QUALITY_WORKERS:-1}" --json "$QUALITY"
    fi
    exec java -Xmx6g -Dai.djl.offline=true -Dai.djl.pytorch.graph_optimizer=false \
        -Dai.djl.pytorch.num_threads="${THREADS:-1}" -Dai.djl.pytorch.num_interop_threads=1 \
        -Dsora4j.benchPack="$PACK_DIR" \
        -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.PresetAblation \
        --quality "$QUALITY" --command "QUALITY_LIMIT=${QUALITY_LIMIT:-24} benchmarks/ablation.sh --presets${*:+ $*}" "$@"
fi

exec java -Xmx6g -Dai.djl.offline=true -Dai.djl.pytorch.graph_optimizer=false \
    -Dai.djl.pytorch.num_threads="${THREADS:-1}" -Dai.djl.pytorch.num_interop_threads=1 \
    -Dsora4j.benchPack="$PACK_DIR" \
    -cp benchmarks/target/benchmarks.jar io.github.sora4j.benchmarks.Ablation \
    --python "$PYTHON" --command "benchmarks/ablation.sh${*:+ $*}" "$@"

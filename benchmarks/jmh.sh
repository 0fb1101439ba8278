#!/usr/bin/env bash
# The JMH benchmarks (docs/benchmarks.md), from a fresh clone, in one command:
#
#   benchmarks/jmh.sh -l                                        # list them
#   benchmarks/jmh.sh StditStepBenchmark                        # one class
#   benchmarks/jmh.sh StditStepBenchmark -p strategy=baseline,tdtm -p size=128
#
# Arguments go to JMH. The script
#   1. installs the library into the local Maven repository (build output in $SORA4J_BUILD, default
#      /tmp/sora4j-bench-build, never target/) and builds benchmarks/target/benchmarks.jar
#      (SKIP_BUILD=1 reuses an existing jar),
#   2. writes the bench pack to benchmarks/target/packs/bench-opensora if it is missing
#      (PYTHONPATH=src/main/python $PYTHON -m sora4j_export bench; needs python3-torch),
#   3. runs JMH with -foe true, so that a benchmark that fails (no pack, a bad parameter) makes
#      this script exit non-zero instead of JMH's usual 0, and with the bench pack's path.
#
# Environment: SORA4J_BUILD, PYTHON (default /usr/bin/python3), MVN_OFFLINE=1 (Maven -o), SKIP_BUILD=1,
# THREADS (libtorch intra-op threads in the forks, default 1; see benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
PACK_DIR="benchmarks/target/packs/bench-opensora"

bench_build

bench_pack "$PACK_DIR"

exec java -jar benchmarks/target/benchmarks.jar -foe true \
    -jvmArgsAppend "-Dsora4j.benchPack=$PWD/$PACK_DIR -Dai.djl.pytorch.num_threads=${THREADS:-1}" "$@"

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
fi
[[ -f "$PACK_DIR/manifest.json" ]] || { echo "jmh.sh: no bench pack at $PACK_DIR" >&2; exit 1; }

exec java -jar benchmarks/target/benchmarks.jar -foe true \
    -jvmArgsAppend "-Dsora4j.benchPack=$PWD/$PACK_DIR -Dai.djl.pytorch.num_threads=${THREADS:-1}" "$@"

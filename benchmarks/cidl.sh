#!/usr/bin/env bash
# CI-DL vs sequential loading on the bench pack (streaming setting), with the paper's Eq. 10/11
# prediction next to the measurement. Self-contained: builds the library into its own directory,
# compiles CiDlBenchmark (and BenchPack) against it with javac, writes the bench pack if missing.
#
#   benchmarks/cidl.sh [--runs 5] [--steps 4] [--frames 68] [--size 128] [--bandwidth 1.45e9]
#                      [--scale S] [--pack DIR] [--threads N]
#
# Environment: SORA4J_BUILD (default /tmp/sora4j-cidl-build) for the build output, PYTHON
# (default /usr/bin/python3) for writing the bench pack, MVN_OFFLINE=1 to add -o.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${SORA4J_BUILD:-/tmp/sora4j-cidl-build}"
PYTHON="${PYTHON:-/usr/bin/python3}"
PACK_DIR="benchmarks/target/packs/bench-opensora"
MVN=(mvn -B -q ${MVN_OFFLINE:+-o} -Dsora4j.buildDir="$BUILD" -DskipPythonTests=true)

"${MVN[@]}" compile
"${MVN[@]}" dependency:build-classpath -Dmdep.outputFile="$BUILD/cp.txt" \
    -Dmdep.includeScope=test
mkdir -p "$BUILD/cidl-bench"
javac --release 17 -nowarn -d "$BUILD/cidl-bench" -cp "$BUILD/classes:$(cat "$BUILD/cp.txt")" \
    benchmarks/src/main/java/io/github/sora4j/benchmarks/BenchPack.java \
    benchmarks/src/main/java/io/github/sora4j/benchmarks/CiDlBenchmark.java \
    benchmarks/src/main/java/io/github/sora4j/benchmarks/ProcessMemory.java

if [[ " $* " != *" --pack "* && ! -f "$PACK_DIR/manifest.json" ]]; then
    PYTHONPATH=src/main/python PYTHONHASHSEED=0 "$PYTHON" -m sora4j_export bench --out "$PACK_DIR"
fi

exec java -Xmx4g -Dai.djl.offline=true -Dsora4j.benchPack="$PACK_DIR" \
    -cp "$BUILD/cidl-bench:$BUILD/classes:$(cat "$BUILD/cp.txt")" \
    io.github.sora4j.benchmarks.CiDlBenchmark "$@"

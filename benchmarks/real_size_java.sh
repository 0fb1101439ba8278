#!/usr/bin/env bash
# Phase 3-4 of benchmarks/real-size.sh: `sora4j inspect`, `sora4j plan --profile phone-arm64-8gb` and one
# generation (RealSizeRun) on a full-size pack.
#   benchmarks/real_size_java.sh PACK OUT FRAMES SIZE STEPS [TOTAL_BUDGET_BYTES]
# With a total budget, the generation runs the phone profile with that total (its reservation kept) and a second plan
# is printed for it (plan-run.txt). Environment: SORA4J_BUILD (default /tmp/sora4j-realsize-build), MVN_OFFLINE=1 to add -o, THREADS (default: the
# number of CPUs, at most the profile's 4).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK="$1" OUT="$2" FRAMES="$3" SIZE="$4" STEPS="$5" RUN_BUDGET="${6:-}"
BUILD="${SORA4J_BUILD:-/tmp/sora4j-realsize-build}"
THREADS="${THREADS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}"
MVN=(mvn -B -q ${MVN_OFFLINE:+-o} -Dsora4j.buildDir="$BUILD" -DskipPythonTests=true)
"${MVN[@]}" compile
"${MVN[@]}" dependency:build-classpath -Dmdep.outputFile="$BUILD/cp.txt" -Dmdep.includeScope=test
mkdir -p "$BUILD/realsize-bench"
javac --release 17 -nowarn -d "$BUILD/realsize-bench" -cp "$BUILD/classes:$(cat "$BUILD/cp.txt")" \
    benchmarks/src/main/java/io/github/sora4j/benchmarks/RealSizeRun.java \
    benchmarks/src/main/java/io/github/sora4j/benchmarks/RunRecorder.java \
    benchmarks/src/main/java/io/github/sora4j/benchmarks/ProcessMemory.java
CP="$BUILD/realsize-bench:$BUILD/classes:$(cat "$BUILD/cp.txt")"
# G1 gives the heap it grew for block arrays back (a periodic GC each second, shrinking to 30 % free): without it the
# heap kept 1.1 GB committed after the float32 T5 reads (docs/memory.md section 9). JAVA_GC_FLAGS= turns it off.
GC_FLAGS=(${JAVA_GC_FLAGS--XX:G1PeriodicGCInterval=1000 -XX:MaxHeapFreeRatio=30 -XX:MinHeapFreeRatio=10})
JAVA=(java -Xmx2g "${GC_FLAGS[@]}" -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$THREADS"
      -Dai.djl.pytorch.num_interop_threads=1 -cp "$CP")

if [[ -n "${REUSE_INSPECT:-}" && -f "$OUT/inspect.time" ]] && grep -q "Exit status: 0" "$OUT/inspect.time"; then
    echo "reusing $OUT/inspect.txt (REUSE_INSPECT)"
else
    /usr/bin/time -v -o "$OUT/inspect.time" "${JAVA[@]}" io.github.sora4j.cli.Sora4jCli inspect "$PACK" \
        > "$OUT/inspect.txt" 2>&1 || { cat "$OUT/inspect.txt"; exit 1; }
fi
cat "$OUT/inspect.txt"
# exits non-zero when the plan does not fit (the float32 pack's T5 on the phone): the table is what counts here
"${JAVA[@]}" io.github.sora4j.cli.Sora4jCli plan --pack "$PACK" --profile phone-arm64-8gb \
    --frames "$FRAMES" --size "${SIZE}x$SIZE" > "$OUT/plan.txt" 2>&1 || true
grep -q "^Memory plan" "$OUT/plan.txt" || { cat "$OUT/plan.txt"; exit 1; }
"${JAVA[@]}" io.github.sora4j.cli.Sora4jCli plan --pack "$PACK" --profile phone-arm64-8gb \
    --frames 68 --size 256x256 > "$OUT/plan-68x256.txt" 2>&1 || true
cat "$OUT/plan.txt"
if [[ -n "$RUN_BUDGET" ]]; then  # --budget is the available bytes: the total less the phone profile's 0.3 GB
    "${JAVA[@]}" io.github.sora4j.cli.Sora4jCli plan --pack "$PACK" --profile phone-arm64-8gb \
        --budget "$(( RUN_BUDGET - 300000000 ))" --frames "$FRAMES" --size "${SIZE}x$SIZE" > "$OUT/plan-run.txt" 2>&1 \
        || { cat "$OUT/plan-run.txt"; exit 1; }
    cat "$OUT/plan-run.txt"
fi
/usr/bin/time -v -o "$OUT/run.time" "${JAVA[@]}" io.github.sora4j.benchmarks.RealSizeRun "$PACK" "$FRAMES" "$SIZE" \
    "$STEPS" "$OUT/run.json" $RUN_BUDGET > "$OUT/run.txt" 2>&1 || { tail -50 "$OUT/run.txt"; exit 1; }
grep -E "Maximum resident|Elapsed \(wall" "$OUT/run.time"

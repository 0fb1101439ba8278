# Sourced by the benchmark scripts (ablation.sh, jmh.sh, merged_overhead.sh, efficiency.sh), run from the
# repository root: the settings they share, the build of the library and of benchmarks/target/benchmarks.jar, and
# the bench pack.
# Environment: SORA4J_BUILD (build directory, default /tmp/sora4j-bench-build), PYTHON (default /usr/bin/python3),
# MVN_OFFLINE=1 (Maven -o), SKIP_BUILD=1 (reuse benchmarks/target/benchmarks.jar when it exists).
BUILD="${SORA4J_BUILD:-/tmp/sora4j-bench-build}"
PYTHON="${PYTHON:-/usr/bin/python3}"
MVN=(mvn -B -q ${MVN_OFFLINE:+-o})

# Installs the library (tests skipped) and packages the benchmarks jar, unless SKIP_BUILD=1 and the jar exists.
bench_build() {
    if [[ "${SKIP_BUILD:-0}" != 1 || ! -f benchmarks/target/benchmarks.jar ]]; then
        "${MVN[@]}" install -DskipTests -DskipPythonTests=true -Dassembly.skipAssembly=true \
            -Dsora4j.buildDir="$BUILD"
        "${MVN[@]}" -f benchmarks/pom.xml package -DskipTests
    fi
}

# Writes the bench pack into $1 when it is missing; a bench pack written before forward_merged gets the method
# (weights unchanged), so merged steps merge in the blocks. Fails when no pack is there afterwards.
bench_pack() {
    local dir="$1"
    if [[ ! -f "$dir/manifest.json" ]]; then
        echo "writing the bench pack to $dir" >&2
        PYTHONPATH=src/main/python PYTHONHASHSEED=0 "$PYTHON" -m sora4j_export bench --out "$dir"
    else
        PYTHONPATH=src/main/python PYTHONHASHSEED=0 "$PYTHON" -m sora4j_export.upgrade "$dir" >&2
    fi
    [[ -f "$dir/manifest.json" ]] || { echo "$(basename "$0"): no bench pack at $dir" >&2; exit 1; }
}

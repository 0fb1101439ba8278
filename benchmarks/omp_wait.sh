#!/usr/bin/env bash
# OpenMP's wait policy on a free and on a busy machine (docs/benchmarks.md, "OpenMP wait policy"): the CLI's
# default generation (embedded demo pack, default threads) with sora4j's passive policy and with libtorch's own
# (spinning), interleaved, ROUNDS pairs each, medians; "busy" runs BUSY busy-loop processes beside it (default 1:
# one core taken by another program) at nice 0, "busy, niced" the same at nice 5 (a background job). Rewrites the section between <!-- omp-wait:begin --> and
# <!-- omp-wait:end --> of docs/benchmarks.md (--no-doc: print only) and writes every run to
# benchmarks/target/omp-wait/runs.csv. About 15 minutes on two cores with --rounds 5.
#
#   benchmarks/omp_wait.sh [--rounds 5] [--busy 1] [--no-doc]
#
# Builds the CLI jar (mvn package -DskipTests) unless SKIP_BUILD=1 and it exists. Other load on the machine
# changes the "free" rows: the script records the load average before it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=5
BUSY=1
DOC=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --busy) BUSY="$2"; shift 2 ;;
        --no-doc) DOC=0; shift ;;
        *) echo "omp_wait.sh: unknown argument $1 (use --rounds N, --busy N, --no-doc)" >&2; exit 2 ;;
    esac
done
JAR=$(ls target/sora4j-*-cli.jar 2>/dev/null | head -1 || true)
if [[ "${SKIP_BUILD:-0}" != 1 || -z "$JAR" ]]; then
    mvn -B -q ${MVN_OFFLINE:+-o} package -DskipTests
    JAR=$(ls target/sora4j-*-cli.jar | head -1)
fi
OUT=benchmarks/target/omp-wait
mkdir -p "$OUT"
CSV="$OUT/runs.csv"
echo "condition,round,policy,total_s,wall_s" > "$CSV"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

run_one() { # condition round policy
    local start end total out
    start=$(date +%s.%N)
    out=$(java -Dsora4j.ompWaitPolicy="$3" -jar "$JAR" generate --prompt "a red circle moving left" \
        --output "$OUT/video.mp4" 2>&1)
    end=$(date +%s.%N)
    total=$(awk '$1 == "total" {print $2; exit}' <<< "$out")
    # the request the jar ran (e.g. "51 frames 64x64"), for the text written into the docs
    awk '$1 == "request" {print $2, $3, $4; exit}' <<< "$out" > "$OUT/request.txt"
    echo "$1,$2,$3,$total,$(echo "$end - $start" | bc)" >> "$CSV"
}

BUSY_PIDS=()
stop_busy() { for p in "${BUSY_PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done; BUSY_PIDS=(); }
trap stop_busy EXIT

for condition in free busy busy-niced; do
    if [[ "$condition" == busy* ]]; then
        niceness=0; [[ "$condition" == busy-niced ]] && niceness=5
        for _ in $(seq "$BUSY"); do nice -n "$niceness" bash -c 'while :; do :; done' & BUSY_PIDS+=($!); done
    fi
    for round in $(seq "$ROUNDS"); do
        if (( round % 2 )); then order=(passive default); else order=(default passive); fi
        for policy in "${order[@]}"; do run_one "$condition" "$round" "$policy"; done
    done
    stop_busy
done

/usr/bin/python3 - "$CSV" "$DOC" "$ROUNDS" "$BUSY" "$LOAD_BEFORE" "$(nproc)" <<'EOF'
import csv, datetime, re, statistics, sys
path, doc, rounds, busy, load, cores = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
frames, _, size = open("benchmarks/target/omp-wait/request.txt", encoding="utf-8").read().split()  # the jar's request
width, height = size.split("x")
def med(cond, pol, key):
    return statistics.median(float(r[key]) for r in rows if r["condition"] == cond and r["policy"] == pol)
lines = [f"Measured {datetime.date.today()} with `benchmarks/omp_wait.sh --rounds {rounds} --busy {busy}` on "
         f"{cores} cores (load average before: {load}): `generate --prompt 'a red circle moving left'` with the "
         f"embedded demo pack ({frames} frames of {width}×{height}, its native request; 30 "
         f"steps, default threads), {rounds} interleaved pairs per "
         f"condition, medians of the CLI's reported total (the JVM's start not included).", "",
         "| Machine | Passive (sora4j's default) | Spinning (libtorch's default) | Spinning ÷ passive |",
         "|---|---|---|---|"]
for cond, label in (("free", "cores free"), ("busy", f"{busy} busy-loop process(es) beside it"),
                    ("busy-niced", f"{busy} busy-loop process(es) at nice 5 beside it")):
    p, d = med(cond, "passive", "total_s"), med(cond, "default", "total_s")
    lines.append(f"| {label} | {p:.2f} s | {d:.2f} s | {d / p:.2f}× |")
table = "\n".join(lines)
print(table)
if doc == "1":
    f = "docs/benchmarks.md"
    s = open(f).read()
    new, n = re.subn(r"(<!-- omp-wait:begin -->\n).*?(<!-- omp-wait:end -->)",
                     lambda m: m.group(1) + table + "\n" + m.group(2), s, flags=re.S)
    if n != 1:
        sys.exit("docs/benchmarks.md has no <!-- omp-wait:begin --> ... <!-- omp-wait:end --> section")
    open(f, "w").write(new)
EOF

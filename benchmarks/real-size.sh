#!/usr/bin/env bash
# Full-size rehearsal of the real path (not part of CI; about an hour on 2 cores, ~50 GB of disk at its peak):
#   1. random checkpoints with the released names, shapes, dtypes and layout (real_size_checkpoints.py), ~25 GB
#   2. the streaming export of them under /usr/bin/time -v (spiece.model converted to tokenizer.json on the way)
#   3. `sora4j inspect` and `sora4j plan --profile phone-arm64-8gb` of the full-size pack
#   4. one generation on it with CI-DL under the phone profile's budget (RealSizeRun: per-block load and compute
#      times, plan vs measured VmHWM)
#   5. benchmarks/target/real-size/summary.json
#
#   benchmarks/real-size.sh [--keep] [--dtype float32|float16] [--t5-int8] [--frames 17] [--size 64]
#                           [--steps 2] [--all-dtypes] [--work DIR] [--reuse] [--export-only] [--budget BYTES]
#
# --budget: the generation's total budget (default: the phone profile's 3.3 GB with --t5-int8, the pack the profile
# names; 3.9 GB for the float32 pack, whose 772 MB T5 blocks cannot be read within 3.3 GB: docs/memory.md section 9);
# --keep keeps the checkpoints and the pack (default: checkpoints deleted after the export, the pack at the end);
# --reuse skips phase 1 when the checkpoints of an earlier run are complete (checkpoints.json written) and phase 2
# when its export finished (exit status 0 in export-main.time and the pack's manifest.json present), so a rerun
# after a code change costs only the phases that changed (use it with --keep);
# --export-only stops after phase 2 (e.g. to start the long export before the Java side is ready);
# --all-dtypes also exports with --dtype float16, --t5-int8 and both (peak RSS and time of each, packs deleted).
# Environment: PYTHON (default /usr/bin/python3), SORA4J_SHARED (default ../shared, for t5/tokenizer.json),
# SORA4J_BUILD (default /tmp/sora4j-realsize-build), MVN_OFFLINE=1 to add -o to Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-/usr/bin/python3}"
SHARED="${SORA4J_SHARED:-../shared}"
OUT=benchmarks/target/real-size
WORK="$OUT"
KEEP=0 DTYPE=float32 INT8=() FRAMES=17 SIZE=64 STEPS=2 ALL=0 REUSE=0 EXPORT_ONLY=0 BUDGET=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --keep) KEEP=1 ;;
        --dtype) DTYPE="$2"; shift ;;
        --t5-int8) INT8=(--t5-int8) ;;
        --frames) FRAMES="$2"; shift ;;
        --size) SIZE="$2"; shift ;;
        --steps) STEPS="$2"; shift ;;
        --all-dtypes) ALL=1 ;;
        --work) WORK="$2"; shift ;;
        --reuse) REUSE=1 ;;
        --budget) BUDGET="$2"; shift ;;
        --export-only) EXPORT_ONLY=1 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
REF_TOK="$SHARED/t5/tokenizer.json"
[[ -f "$REF_TOK" ]] || { echo "no reference T5 tokenizer at $REF_TOK (set SORA4J_SHARED)" >&2; exit 2; }
mkdir -p "$OUT" "$WORK"
CKPT="$WORK/checkpoints" PACK="$WORK/pack"
export PYTHONPATH=src/main/python PYTHONHASHSEED=0
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/real-size.log"; }

pack_done() {  # the export of an earlier run finished (its pack and /usr/bin/time report are there)
    [[ -f "$PACK/manifest.json" && -f "$OUT/export-main.time" ]] && grep -q "Exit status: 0" "$OUT/export-main.time"
}
if [[ $REUSE == 1 && -s "$OUT/checkpoints.json" ]] && { [[ -d "$CKPT" ]] || pack_done; }; then
    log "1/5 reusing the checkpoints in $CKPT (or the pack made from them)"
else
    log "1/5 writing random full-size checkpoints to $CKPT"
    rm -rf "$CKPT" "$OUT/checkpoints.json"
    "$PYTHON" benchmarks/real_size_checkpoints.py --out "$CKPT" --reference-tokenizer "$REF_TOK" \
        > "$OUT/checkpoints.json.tmp"
    mv "$OUT/checkpoints.json.tmp" "$OUT/checkpoints.json"
fi
cat "$OUT/checkpoints.json" | tee -a "$OUT/real-size.log"

export_pack() {  # $1 = pack dir, $2 = tag, rest = extra flags
    local pack="$1" tag="$2"; shift 2
    rm -rf "$pack"
    /usr/bin/time -v -o "$OUT/export-$tag.time" "$PYTHON" -m sora4j_export export \
        --t5 "$CKPT/t5-v1_1-xxl" --stdit "$CKPT/OpenSora-STDiT-v3/model.safetensors" \
        --vae "$CKPT/OpenSora-VAE-v1.2/model.safetensors" --tokenizer "$CKPT/t5-v1_1-xxl/spiece.model" \
        --out "$pack" "$@" 2> "$OUT/export-$tag.log"
    grep -E "Maximum resident|Elapsed \(wall" "$OUT/export-$tag.time" | tee -a "$OUT/real-size.log"
}

if [[ $REUSE == 1 ]] && pack_done; then
    log "2/5 reusing the pack in $PACK (export-main.time of its export kept)"
else
    log "2/5 streaming export (--dtype $DTYPE ${INT8[*]}) under /usr/bin/time -v"
    export_pack "$PACK" main --dtype "$DTYPE" "${INT8[@]}"
fi
du -sb "$PACK" | tee "$OUT/pack.du"
[[ $EXPORT_ONLY == 0 ]] || { log "   stopping after the export (--export-only)"; exit 0; }

log "3/5 and 4/5 inspect, plan, generate (CI-DL, phone-arm64-8gb, $FRAMES frames ${SIZE}x$SIZE, $STEPS steps)"
[[ -n "$BUDGET" || ${#INT8[@]} -gt 0 ]] || BUDGET=3900000000
benchmarks/real_size_java.sh "$PACK" "$OUT" "$FRAMES" "$SIZE" "$STEPS" $BUDGET

if [[ $ALL == 1 ]]; then
    for combo in "float16:" "float32:--t5-int8" "float16:--t5-int8"; do
        d="${combo%%:*}" f="${combo#*:}"
        log "   extra export --dtype $d $f"
        export_pack "$WORK/pack-extra" "$d${f:+-int8}" --dtype "$d" $f
        du -sb "$WORK/pack-extra" > "$OUT/pack-$d${f:+-int8}.du"
        rm -rf "$WORK/pack-extra"
    done
fi
[[ $KEEP == 1 ]] || { log "   deleting the checkpoints"; rm -rf "$CKPT"; }

log "5/5 summary"
"$PYTHON" benchmarks/real_size_summary.py "$OUT" | tee -a "$OUT/real-size.log"
[[ $KEEP == 1 ]] || { log "   deleting the pack"; rm -rf "$PACK"; }
log "done: $OUT/summary.json"

"""Phase 5 of benchmarks/real-size.sh: collects the measurements of a rehearsal directory into summary.json.

    python3 benchmarks/real_size_summary.py benchmarks/target/real-size
"""

import datetime
import json
import re
import sys
from pathlib import Path


def _time_v(path: Path) -> dict:
    """Peak RSS (bytes) and wall seconds from a ``/usr/bin/time -v`` report."""
    text = path.read_text()
    if "Maximum resident set size" not in text:
        return None  # still running, or killed before /usr/bin/time could report
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) * 1024
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    status = int(re.search(r"Exit status: (\d+)", text).group(1))
    return {"peak_rss_bytes": rss, "seconds": round(seconds, 1), "exit_status": status}


def _du(path: Path) -> int:
    return int(path.read_text().split()[0])


def main(out_dir) -> int:
    out = Path(out_dir)
    export = _time_v(out / "export-main.time")
    run = json.loads((out / "run.json").read_text())
    run_time = _time_v(out / "run.time")
    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": "benchmarks/real-size.sh " + " ".join(sys.argv[2:]),
        "export_peak_rss_bytes": export["peak_rss_bytes"],
        "export_seconds": export["seconds"],
        "disk_bytes": _du(out / "pack.du"),
        "checkpoints": json.loads((out / "checkpoints.json").read_text()),
        "plan_peak_bytes": run["plan_peak_bytes"],
        "plan_budget_reserved_bytes": run["budget_reserved_bytes"],
        "plan_predicted_process_bytes": run["plan_peak_bytes"] + run["budget_reserved_bytes"],
        "run_peak_rss_bytes": run["run_peak_rss_bytes"],
        "run_peak_rss_bytes_time_v": run_time["peak_rss_bytes"],
        "run_process_seconds": run_time["seconds"],
        "run": run,
        "exports": {},
    }
    summary["measured_over_predicted"] = round(summary["run_peak_rss_bytes"]
                                               / summary["plan_predicted_process_bytes"], 3)
    for f in sorted(out.glob("export-*.time")):
        tag = f.stem[len("export-"):]
        entry = _time_v(f)
        if entry is None:
            summary["exports"][tag] = "unfinished"
            continue
        du = out / ("pack.du" if tag == "main" else f"pack-{tag}.du")
        if du.is_file():
            entry["disk_bytes"] = _du(du)
        summary["exports"][tag] = entry
    # further runs of RealSizeRun in the same directory (run2.json, run3.json, …: e.g. other allocator settings,
    # described in docs/memory.md section 9) and the VAE decode measurement (VaeDecodeMemory, vae68.txt)
    for f in sorted(out.glob("run?*.json")):
        r = json.loads(f.read_text())
        summary.setdefault("more_runs", {})[f.stem] = {
            k: r[k] for k in ("run_peak_rss_bytes", "rss_after_build_bytes", "peak_rss_by_stage", "run_seconds",
                              "text_encode_seconds", "denoise_seconds", "decode_seconds") if k in r}
    for f in sorted(out.glob("vae*.txt")):
        lines = [x for x in f.read_text().splitlines() if x.startswith("{")]
        if lines:
            summary.setdefault("vae_decode", {})[f.stem] = json.loads(lines[-1])
    # what one block read holds (BlockReadMemory, block-read.txt): one JSON line per read
    for f in sorted(out.glob("block-read*.txt")):
        summary.setdefault("block_reads", {})[f.stem] = [json.loads(x) for x in f.read_text().splitlines()
                                                        if x.startswith("{")]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("run", "checkpoints")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

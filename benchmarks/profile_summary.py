"""Self time per operator in a libtorch profiler trace (chrome JSON), as ``benchmarks/efficiency.sh --profile FILE``
writes it for one STDiT pair call:

    python3 benchmarks/profile_summary.py FILE [--top 15] [--markdown]

Self time = an event's duration less that of the events nested in it on the same thread.
"""

import argparse
import collections
import json
import sys


def self_times(events):
    evs = sorted((e for e in events if e.get("ph") == "X"), key=lambda e: (e.get("tid"), e["ts"], -e["dur"]))
    own = {}
    stack = []
    for i, e in enumerate(evs):
        while stack and (evs[stack[-1]].get("tid") != e.get("tid")
                         or evs[stack[-1]]["ts"] + evs[stack[-1]]["dur"] <= e["ts"]):
            stack.pop()
        own[i] = own.get(i, 0.0) + e["dur"]
        if stack:
            own[stack[-1]] -= e["dur"]
        stack.append(i)
    total = collections.defaultdict(float)
    calls = collections.Counter()
    for i, e in enumerate(evs):
        total[e["name"]] += own[i]
        calls[e["name"]] += 1
    return total, calls


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args(argv)
    with open(a.trace, encoding="utf-8") as f:
        d = json.load(f)
    total, calls = self_times(d["traceEvents"] if isinstance(d, dict) else d)
    all_us = sum(total.values())
    rows = sorted(total.items(), key=lambda kv: -kv[1])[: a.top]
    if a.markdown:
        print("| Operator | Calls | Self time | Share |")
        print("|---|---:|---:|---:|")
        for name, us in rows:
            print(f"| `{name}` | {calls[name]} | {us / 1e6:.2f} s | {100 * us / all_us:.1f} % |")
        print(f"| all | {sum(calls.values())} | {all_us / 1e6:.2f} s | 100 % |")
    else:
        for name, us in rows:
            print(f"{us / 1e3:10.1f} ms {100 * us / all_us:5.1f} % x{calls[name]:4d} {name}")
        print(f"{all_us / 1e3:10.1f} ms total")
    return 0


if __name__ == "__main__":
    sys.exit(main())

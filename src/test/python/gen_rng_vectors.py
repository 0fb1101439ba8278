"""Writes the reference vectors that TorchGeneratorTest compares io.github.sora4j.random.TorchGenerator against.

Usage (from the repository root, with the Python that has torch):

    /usr/bin/python3 src/test/python/gen_rng_vectors.py            # rewrite src/test/resources/rng/
    /usr/bin/python3 src/test/python/gen_rng_vectors.py --check    # compare the committed files, write nothing

Everything comes from ``torch.manual_seed(seed); torch.randn(shape)`` (float32, CPU) and, for the raw Mersenne
Twister words, from ``torch.empty(n, dtype=torch.int64).random_(-2**63, None, generator=g)``, which returns the
generator's ``random64()`` = (first 32-bit word << 32) | second 32-bit word without any reduction.

Files written under src/test/resources/rng/:
  index.json            all cases: seed, shape, count, sha256 of the little-endian float32 bytes, optional file
  randn_*.bin           raw little-endian float32 values of the stored cases
  sequence_seed7.bin    several randn calls on one generator, concatenated (checks the cached normal sample)
  normal_s3_*.bin       torch.empty(n).normal_(0.3, 1.7) after torch.manual_seed(3)

The result depends on the CPU kernel torch dispatches to (``torch.__config__.show()`` "CPU capability usage"); the
index records it. The committed files were produced by Debian's torch 1.13.1 with capability AVX2.
"""

import argparse
import hashlib
import json
import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT_DIR = os.path.join(ROOT, "src", "test", "resources", "rng")

SEEDS = [0, 1, 42, 1024, 2 ** 31 - 1, 2 ** 32 + 5, 123456789012]
SHAPES = [[7], [15], [16], [17], [33], [1, 4, 5, 8, 8], [1, 4, 10, 8, 8], [1, 4, 20, 16, 16], [1, 4, 20, 32, 32],
          [1, 4, 6, 6, 10]]
# Every case has the sha256 of its float32 bytes in the index (the Java test checks it for every case); the raw values
# of cases larger than STORE_LIMIT are stored for STORE_LARGE_SEED only, to keep the resources near 200 KB.
STORE_LIMIT = 2000
STORE_LARGE_SEED = 42
# Negative seeds are reinterpreted as uint64 by torch; only the low 32 bits seed the Mersenne Twister.
EXTRA_CASES = [(-1, [7]), (-1, [17]), (-1, [33]), (2 ** 32 - 1, [33]), (5, [33])]
# One generator, several calls in a row: exercises the cached second Box-Muller value of the scalar (numel < 16) path
# and shows that the vectorised (numel >= 16) path neither reads nor clears it.
SEQUENCE_SEED = 7
SEQUENCE_SIZES = [1, 16, 1, 3, 17, 5, 2, 40]
# torch.empty(n).normal_(mean, std): the mean/std handling of both paths.
NORMAL_SEED = 3
NORMAL_MEAN = 0.3
NORMAL_STD = 1.7
NORMAL_SIZES = [7, 33, 48]
RAW_SEEDS = [0, 42, 5489, 2 ** 32 + 5, -1]
RAW_WINDOWS = [(0, 16), (620, 632), (1240, 1256)]  # 32-bit word indices [from, to); crosses the 624-word refills


def cpu_capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def shape_name(shape):
    return "x".join(str(d) for d in shape)


def seed_name(seed):
    return ("m%d" % -seed) if seed < 0 else str(seed)


def randn_bytes(seed, shape):
    torch.manual_seed(seed)
    t = torch.randn(shape, dtype=torch.float32)
    return t.contiguous().numpy().astype("<f4", copy=False).tobytes()


def raw_words(seed, count):
    g = torch.Generator().manual_seed(seed)
    pairs = torch.empty((count + 1) // 2, dtype=torch.int64).random_(-2 ** 63, None, generator=g)
    words = []
    for v in pairs.tolist():
        v &= 0xFFFFFFFFFFFFFFFF
        words.append(v >> 32)
        words.append(v & 0xFFFFFFFF)
    return words[:count]


def build():
    """Returns (index dict, {file name: bytes})."""
    files = {}
    cases = []
    all_cases = [(s, sh) for s in SEEDS for sh in SHAPES] + EXTRA_CASES
    for seed, shape in all_cases:
        data = randn_bytes(seed, shape)
        case = {
            "seed": seed,
            "shape": shape,
            "count": len(data) // 4,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if case["count"] <= STORE_LIMIT or (seed == STORE_LARGE_SEED and case["count"] <= 20480):
            name = "randn_s%s_%s.bin" % (seed_name(seed), shape_name(shape))
            files[name] = data
            case["file"] = name
        cases.append(case)

    torch.manual_seed(SEQUENCE_SEED)
    seq = b"".join(torch.randn(n).numpy().astype("<f4", copy=False).tobytes() for n in SEQUENCE_SIZES)
    files["sequence_seed7.bin"] = seq

    normal = []
    for n in NORMAL_SIZES:
        torch.manual_seed(NORMAL_SEED)
        data = torch.empty(n, dtype=torch.float32).normal_(NORMAL_MEAN, NORMAL_STD).numpy().astype("<f4").tobytes()
        name = "normal_s%d_%d.bin" % (NORMAL_SEED, n)
        files[name] = data
        normal.append({"seed": NORMAL_SEED, "mean": NORMAL_MEAN, "std": NORMAL_STD, "count": n, "file": name,
                       "sha256": hashlib.sha256(data).hexdigest()})

    raw = []
    last = max(to for _, to in RAW_WINDOWS)
    for seed in RAW_SEEDS:
        words = raw_words(seed, last)
        raw.append({
            "seed": seed,
            "windows": [{"from": a, "words": words[a:b]} for a, b in RAW_WINDOWS],
        })

    index = {
        "producer": "src/test/python/gen_rng_vectors.py",
        "torch_version": torch.__version__,
        "cpu_capability": cpu_capability(),
        "byte_order": "little-endian float32",
        "randn": cases,
        "sequence": {"seed": SEQUENCE_SEED, "sizes": SEQUENCE_SIZES, "file": "sequence_seed7.bin",
                     "sha256": hashlib.sha256(seq).hexdigest()},
        "normal": normal,
        "raw_uint32": raw,
    }
    return index, files


def index_text(index):
    """JSON with one case (or one raw-word window) per line."""
    lines = ["{"]
    for key in ("producer", "torch_version", "cpu_capability", "byte_order"):
        lines.append(" %s: %s," % (json.dumps(key), json.dumps(index[key])))
    lines.append(' "randn": [')
    lines.append(",\n".join("  " + json.dumps(c) for c in index["randn"]))
    lines.append(" ],")
    lines.append(' "sequence": %s,' % json.dumps(index["sequence"]))
    lines.append(' "normal": [')
    lines.append(",\n".join("  " + json.dumps(c) for c in index["normal"]))
    lines.append(" ],")
    lines.append(' "raw_uint32": [')
    lines.append(",\n".join("  " + json.dumps(r) for r in index["raw_uint32"]))
    lines.append(" ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == index
    return text


def check(index, files):
    """Returns a list of differences between what torch produces now and the committed files."""
    problems = []
    path = os.path.join(OUT_DIR, "index.json")
    if not os.path.exists(path):
        return ["missing " + path]
    with open(path) as f:
        committed = json.load(f)
    for key in ("randn", "sequence", "normal", "raw_uint32"):
        if committed.get(key) != index[key]:
            problems.append("index.json: '%s' differs" % key)
    for name, data in files.items():
        p = os.path.join(OUT_DIR, name)
        if not os.path.exists(p):
            problems.append("missing " + p)
            continue
        with open(p, "rb") as f:
            if f.read() != data:
                problems.append("differs: " + p)
    return problems


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args(argv)
    index, files = build()
    if args.check:
        problems = check(index, files)
        for p in problems:
            print(p)
        print("OK" if not problems else "%d problem(s)" % len(problems))
        return 1 if problems else 0
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(OUT_DIR, name), "wb") as f:
            f.write(data)
    with open(os.path.join(OUT_DIR, "index.json"), "w") as f:
        f.write(index_text(index))
    total = sum(len(d) for d in files.values())
    print("wrote %d files (%d bytes of float32) to %s, capability %s" % (len(files) + 1, total, OUT_DIR,
                                                                        index["cpu_capability"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

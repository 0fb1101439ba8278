"""Experiment only (docs/benchmarks.md, "Fused attention"): rewrites the TorchScript code of an exported STDiT pair so
that its self- and cross-attentions call ``torch.scaled_dot_product_attention`` instead of matmul, softmax, matmul.

    python3 benchmarks/fused_attention_patch.py IN.pt OUT.pt

The exporter's torch (Debian 1.13) has no ``scaled_dot_product_attention`` (only the private
``F._scaled_dot_product_attention``, which libtorch 2.x no longer has), so a block can only get the fused kernel by
editing its serialized code after scripting; torch 1.13 cannot load the result, libtorch >= 2.1 (DJL's 2.7.1) can.
The output is not a pack block (no role tag check, not in the TorchScript allowlist); it is for timing and parity
experiments (benchmarks/fused_attention_probe.jsh).
"""

import re
import sys
import zipfile

ATTN = re.compile(
    r"(?P<i>[ ]+)(?P<s>_\d+) = torch\.matmul\(torch\.mul\((?P<q>\w+), scale\), torch\.transpose\((?P<k>\w+), -2, -1\)\)\n"
    r"(?P=i)attn = torch\.softmax\((?P=s), -1\)\n"
    r"(?P=i)(?P<o>_\d+) = torch\.transpose\(torch\.matmul\(attn, (?P<v>\w+)\), 1, 2\)\n")


def patch_code(text: str):
    def repl(m):
        return (f"{m['i']}{m['o']} = torch.transpose(torch.scaled_dot_product_attention({m['q']}, {m['k']}, {m['v']}, "
                f"None, 0., False, scale=scale), 1, 2)\n")
    return ATTN.subn(repl, text)


def main(src: str, dst: str) -> int:
    total = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith(".py") and "/code/" in info.filename:
                text, n = patch_code(data.decode("utf-8"))
                total += n
                data = text.encode("utf-8")
            zout.writestr(info, data)
    print(f"replaced {total} attention(s)", file=sys.stderr)
    return 0 if total else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

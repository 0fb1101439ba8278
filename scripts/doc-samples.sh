#!/usr/bin/env bash
# Regenerates the sample outputs shown in README.md and docs/cli.md, so that they stay true: runs
# each command the docs show next to a sample, with the CLI jar and the README's own QuickStart,
# and writes its output between the markers <!-- sample:NAME --> and <!-- /sample -->, stamped
# with the date and the machine. Timings in them are of that run on that machine.
#
#   scripts/doc-samples.sh            # builds target/sora4j-VERSION-cli.jar if missing
#   SKIP_BUILD=1 scripts/doc-samples.sh
#
# Needs JDK 17, Maven, /usr/bin/python3 with numpy and PIL, ffmpeg (the detector reads MP4) and
# ImageMagick's montage (the frame strip).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=$(sed -n 's|^  <version>\(.*\)</version>$|\1|p' pom.xml | head -1)
jar=$root/target/sora4j-$version-cli.jar
if [ -z "${SKIP_BUILD:-}" ] || [ ! -f "$jar" ]; then
    mvn -B -q package -DskipTests
fi
[ -f "$jar" ] || { echo "doc-samples: no $jar" >&2; exit 1; }
command -v montage > /dev/null || { echo "doc-samples: needs ImageMagick's montage (apt install imagemagick)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/samples
mkdir -p "$out" "$tmp/run"
# What a terminal shows at the end: the text after each line's last carriage return.
screen() { sed -e 's/.*\r//' -e 's/[[:space:]]*$//'; }
prompt='a red circle moving left'

(cd "$tmp/run" && java -jar "$jar" generate --prompt "$prompt" --output sora4j.mp4 --progress bar) \
    2>&1 | screen > "$out/generate-demo"
(cd "$tmp/run" && PYTHONPATH=$root/src/main/python /usr/bin/python3 -m sora4j_export.demo.detect \
    sora4j.mp4 --prompt "$prompt") 2>&1 | screen > "$out/detect-demo"
(cd "$tmp/run" && java -jar "$jar" generate --prompt "$prompt" --lpl fixed --tdtm-steps 15 \
    --output sora4j.mp4 --progress bar) 2>&1 | screen > "$out/generate-techniques"
(cd "$tmp/run" && java -jar "$jar" inspect) 2>&1 | screen \
    | sed -e "s|^directory    .*|directory    (the extracted copy under java.io.tmpdir)|" > "$out/inspect-demo"

# The strip under the samples (docs/demo-strip.png): every sixth of the 51 frames (0, 6, ..., 48)
# of the README prompt and of a light-background prompt, seed 42 (the CLI default), 64x64 frames
# shown at 96x96 without smoothing.
strip_prompt2='a blue square moving up slowly on a light background'
(cd "$tmp/run" && java -jar "$jar" generate --prompt "$prompt" --output strip1 --progress none \
    && java -jar "$jar" generate --prompt "$strip_prompt2" --output strip2 --progress none) \
    > /dev/null
tiles=()
for row in strip1 strip2; do
    for i in 0 6 12 18 24 30 36 42 48; do tiles+=("$tmp/run/$row/$(printf 'frame_%05d.png' "$i")"); done
done
montage "${tiles[@]}" -tile 9x2 -geometry 96x96+2+2 -filter point -background '#18181c' \
    -strip "$tmp/strip.png"
mv "$tmp/strip.png" docs/demo-strip.png

# The README's QuickStart, compiled and run as pasted (the CLI jar holds every dependency).
python3 - "$root/README.md" "$tmp/qs" <<'PY'
import os, re, sys
readme, dest = sys.argv[1], sys.argv[2]
blocks = re.findall(r"```java\n(.*?)```", open(readme, encoding="utf-8").read(), re.S)
src = next(b for b in blocks if "public class QuickStart" in b)
os.makedirs(dest, exist_ok=True)
open(os.path.join(dest, "QuickStart.java"), "w", encoding="utf-8").write(src)
PY
javac --release 17 -cp "$jar" -d "$tmp/qs" "$tmp/qs/QuickStart.java"
(cd "$tmp/run" && java -cp "$tmp/qs:$jar" QuickStart) 2>&1 | screen \
    | awk '/^step /{n++; if (n > 3 && !/^step 16\//) { if (!gap) print "…"; gap = 1; next } } {print}' \
    > "$out/quickstart"

stamp="$(date -u +%F), $(uname -s) $(uname -m), $(nproc) CPUs (load average $(cut -d' ' -f1 \
    /proc/loadavg) at the end), Java $(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p')"
python3 - "$out" "$stamp" README.md docs/cli.md <<'PY'
import os, re, sys
samples, stamp, files = sys.argv[1], sys.argv[2], sys.argv[3:]
pattern = re.compile(r"(<!-- sample:([\w-]+) -->\n).*?(<!-- /sample -->)", re.S)
for f in files:
    text = open(f, encoding="utf-8").read()
    def fill(m):
        body = open(os.path.join(samples, m.group(2)), encoding="utf-8").read().rstrip("\n")
        return (m.group(1) + "```text\n" + body + "\n```\n\n*Output written by `scripts/doc-samples.sh` on "
                + stamp + ".*\n" + m.group(3))
    new, n = pattern.subn(fill, text)
    open(f, "w", encoding="utf-8").write(new)
    print(f"doc-samples: {f}: {n} sample(s)")
PY

#!/usr/bin/env bash
# Builds a private linux-aarch64 Java 17 runtime and qemu-user for the emulated parity run
# (the Maven profile aarch64-emulated, docs/arm64.md), from Debian packages, without installing
# anything on this machine: no dpkg architecture is added, no package is installed or upgraded,
# and the machine's own Java is untouched.
#
#   src/test/arm64/setup-sysroot.sh [--force]
#
# Result, under $SORA4J_ARM64_HOME (default ${XDG_CACHE_HOME:-$HOME/.cache}/sora4j/arm64):
#   sysroot/   the unpacked arm64 packages: openjdk-17-jre-headless:arm64 and its dependency
#              closure (libc6, libstdc++6, ...), absolute symlinks rewritten as relative ones
#   bin/qemu-aarch64-static   from the host's qemu-user-static if installed, else unpacked from
#              Debian's qemu-user-static .deb
#   READY      written last; lists the package versions. The script does nothing when it exists
#              (and the JVM starts), unless --force.
#
# How: a private apt configuration (state, lists and cache under $SORA4J_ARM64_HOME/apt; the
# machine's sources.list and keyrings) with architectures amd64+arm64 and an empty dpkg status
# resolves, at run time, exactly the packages apt would install for
# `openjdk-17-jre-headless:arm64` on an empty system; `apt-get download` fetches them and
# `dpkg-deb -x` unpacks them. Needs: a Debian (bookworm) amd64 host with apt-get, dpkg-deb and
# network access to its Debian mirror; no root. About 140 MB of downloads (package lists 18 MB,
# arm64 packages 60 MB, qemu-user-static 60 MB unless installed), 255 MB unpacked, 12-15 s.
set -euo pipefail

ARM64_HOME=${SORA4J_ARM64_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/sora4j/arm64}
JAVA_REL=usr/lib/jvm/java-17-openjdk-arm64/bin/java
force=false
[ "${1:-}" = --force ] && force=true

log() { printf 'setup-sysroot: %s\n' "$*" >&2; }

probe() {
    local out
    out=$("$ARM64_HOME/bin/qemu-aarch64-static" -L "$ARM64_HOME/sysroot" \
        "$ARM64_HOME/sysroot/$JAVA_REL" -XshowSettings:properties -version 2>&1) || return 1
    [[ $out == *"os.arch = aarch64"* ]]
}

if ! $force && [ -f "$ARM64_HOME/READY" ] && probe; then
    log "ready: $ARM64_HOME (--force rebuilds)"
    echo "$ARM64_HOME/sysroot/$JAVA_REL"
    exit 0
fi

for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null || { log "needs $tool (a Debian host)"; exit 1; }
done
[ "$(dpkg --print-architecture)" = amd64 ] || log "warning: host is $(dpkg --print-architecture), not amd64"

rm -f "$ARM64_HOME/READY"
apt_dir=$ARM64_HOME/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$ARM64_HOME/bin"
: > "$apt_dir/status"
apt_opts=(
    -o "Dir::State=$apt_dir" -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64"
    -o "APT::Sandbox::User=$(id -un)" -o "Debug::NoLocking=1"
    -o "APT::Get::List-Cleanup=0" -q
)

log "updating the private package lists (amd64 + arm64)"
apt-get "${apt_opts[@]}" update >/dev/null

want=(openjdk-17-jre-headless:arm64)
host_qemu=$(command -v qemu-aarch64-static || true)
[ -n "$host_qemu" ] || want+=(qemu-user-static)
# What apt would install on an empty system; keep the arm64 packages and qemu-user-static
# (arch-all helpers such as java-common, and the amd64 packages they pull in, are not needed).
mapfile -t pkgs < <(apt-get "${apt_opts[@]}" install -s --no-install-recommends "${want[@]}" \
    | sed -n -e 's/^Inst \([^ ]*:arm64\) (\([^ ]*\) .*/\1=\2/p' \
             -e 's/^Inst \(qemu-user-static\) (\([^ ]*\) .*/\1:amd64=\2/p')
[ ${#pkgs[@]} -gt 10 ] || { log "could not resolve openjdk-17-jre-headless:arm64"; exit 1; }
log "downloading ${#pkgs[@]} packages"
debs=$ARM64_HOME/debs
rm -rf "$debs" && mkdir -p "$debs"
(cd "$debs" && apt-get "${apt_opts[@]}" download "${pkgs[@]}" >/dev/null)

tmp=$ARM64_HOME/sysroot.tmp
rm -rf "$tmp" && mkdir -p "$tmp"
for f in "$debs"/*_arm64.deb; do
    dpkg-deb -x "$f" "$tmp"
done
if [ -n "$host_qemu" ]; then
    ln -sfn "$host_qemu" "$ARM64_HOME/bin/qemu-aarch64-static"
else
    q=$(mktemp -d)
    dpkg-deb -x "$debs"/qemu-user-static_*_amd64.deb "$q"
    rm -f "$ARM64_HOME/bin/qemu-aarch64-static"
    cp "$q/usr/bin/qemu-aarch64-static" "$ARM64_HOME/bin/"
    rm -rf "$q"
fi

# Absolute symlinks (e.g. the JRE's lib/jvm.cfg -> /etc/java-17-openjdk/jvm-arm64.cfg) would
# resolve against the host's root; make them relative to the sysroot.
while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    case $target in
        /*) ln -sfn "$(realpath -s -m --relative-to="$(dirname "$link")" "$tmp$target")" "$link" ;;
    esac
done < <(find "$tmp" -type l -print0)
# Trust store (not needed offline; the JRE would otherwise lack one since no postinst ran).
if [ -f /etc/ssl/certs/java/cacerts ]; then
    mkdir -p "$tmp/etc/ssl/certs/java"
    cp /etc/ssl/certs/java/cacerts "$tmp/etc/ssl/certs/java/cacerts"
fi

rm -rf "$ARM64_HOME/sysroot"
mv "$tmp" "$ARM64_HOME/sysroot"
probe || { log "the arm64 JVM does not start under qemu"; exit 1; }
{
    echo "# sora4j arm64 sysroot, made $(date -u +%FT%TZ) by src/test/arm64/setup-sysroot.sh"
    echo "qemu: $("$ARM64_HOME/bin/qemu-aarch64-static" --version | head -1)"
    printf '%s\n' "${pkgs[@]}"
} > "$ARM64_HOME/READY.tmp"
mv "$ARM64_HOME/READY.tmp" "$ARM64_HOME/READY"
log "ready: $ARM64_HOME ($(du -sh "$ARM64_HOME/sysroot" | cut -f1) sysroot)"
echo "$ARM64_HOME/sysroot/$JAVA_REL"

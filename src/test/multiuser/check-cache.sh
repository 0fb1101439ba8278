#!/bin/sh
# Two OS users and the embedded-pack cache (docs/model-pack.md, "Threat model"): each user gets an owner-only cache
# of their own, and a cache directory of one user is refused to the other with the fix in the message.
# Needs root (it runs a JVM as "nobody" with setpriv) and `mvn -o compile` done; run from the repository root:
#   sudo sh src/test/multiuser/check-cache.sh
set -eu
work=$(mktemp -d /tmp/sora4j-multiuser.XXXXXX)
trap 'rm -rf "$work"' EXIT
mvn -B -o -q dependency:build-classpath -Dmdep.outputFile="$work/cp.txt" >/dev/null
mkdir -p "$work/lib" "$work/a" "$work/b" "$work/pub"
for j in $(tr ':' ' ' < "$work/cp.txt"); do case "$j" in *gson*|*slf4j-api*) cp "$j" "$work/lib/";; esac; done
cp -r target/classes "$work/classes"
cat > "$work/Open.java" <<'JAVA'
public class Open {
    public static void main(String[] a) {
        try {
            System.out.println(System.getProperty("user.name") + ": OK "
                    + io.github.sora4j.pack.ModelPack.embedded("tiny-random").directory());
        } catch (RuntimeException e) {
            System.out.println(System.getProperty("user.name") + ": REFUSED " + e.getMessage());
        }
    }
}
JAVA
javac -cp "$work/classes" -d "$work" "$work/Open.java"
chown nobody "$work/b"; chmod 1777 "$work/pub"; chmod -R a+rX "$work"; chmod 755 "$work"
cp="$work:$work/classes:$work/lib/*"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
echo "== default caches: one per user"
java -Duser.home="$work/a" -cp "$cp" Open 2>/dev/null
as_nobody java -Duser.home="$work/b" -cp "$cp" Open 2>/dev/null
ls -ld "$work/a/.cache/sora4j" "$work/b/.cache/sora4j"
echo "== one -Dsora4j.cacheDir for both: the second user is refused"
as_nobody java -Dsora4j.cacheDir="$work/pub/c" -cp "$cp" Open 2>/dev/null
java -Dsora4j.cacheDir="$work/pub/c" -cp "$cp" Open 2>/dev/null

package io.github.sora4j.cli;

import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The trust lines of {@code sora4j inspect}: code, signature and how loads are checked. */
final class PackReport {
    private PackReport() {}

    /**
     * Checks every block's code (allowlist, role tag) as a load does and prints the result.
     *
     * @return whether every block passed
     */
    static boolean code(Path dir, PackManifest m, PrintWriter out) {
        List<String> failures = new ArrayList<>();
        int tagged = 0;
        String untagged = null;
        for (BlockInfo b : m.blocks()) {
            try {
                if (ModelPack.checkBlockCode(dir, b)) {
                    tagged++;
                } else if (untagged == null) {
                    untagged = b.name();
                }
            } catch (ModelPackException e) {
                failures.add(e.getMessage());
            }
        }
        int checked = m.blocks().size() - failures.size();
        if (tagged > 0 && untagged != null) {
            failures.add("block " + untagged + " has no role tag, but " + tagged + " other"
                    + " block(s) have one: it was put there from another pack");
        }
        if (!failures.isEmpty()) {
            out.printf(Locale.ROOT, "code         FAILED: %d of %d blocks%n", failures.size(),
                    m.blocks().size());
            failures.forEach(f -> out.println("  " + f));
            return false;
        }
        out.printf(Locale.ROOT, "code         OK (%d blocks: every TorchScript operator on the"
                + " allowlist; %s)%n", checked, tagged == checked ? "role tags match the manifest"
                : "no role tags (exported before tags: roles checked through the manifest"
                        + " only; python3 -m sora4j_export.trust retag adds them)");
        return true;
    }

    /** Prints whether the pack is signed and whether the signature was checked. */
    static void signature(Path dir, boolean builtIn, boolean checked, PrintWriter out) {
        String line;
        if (builtIn) {
            line = "not needed (built into the sora4j jar, checked against the jar's hashes)";
        } else if (checked) {
            line = "OK (manifest.json.sig made by a --trusted-key)";
        } else if (Files.isRegularFile(dir.resolve("manifest.json.sig"))) {
            line = "present, not checked (give the publisher's key: --trusted-key PEM)";
        } else {
            line = "none (unsigned: --trusted-key would refuse the pack)";
        }
        out.printf(Locale.ROOT, "signature    %s%n", line);
    }

    /** Prints how {@code generate} will check each block load (BlockLoadCheck). */
    static void loads(Path dir, PackManifest m, boolean noVerify, PrintWriter out) {
        String line;
        if (noVerify) {
            line = "sizes only (--no-verify)";
        } else {
            Optional<String> others = Optional.empty();
            for (BlockInfo b : m.blocks()) {
                try {
                    others = ModelPack.othersCanWrite(dir, b.file());
                } catch (ModelPackException e) {
                    continue; // a missing file: the integrity line names it
                }
                if (others.isPresent()) {
                    break;
                }
            }
            line = others.map(o -> "SHA-256 of every load (" + o + ")")
                    .orElse("CRC32C of every load against the bytes hashed at open (only you"
                            + " and root can write the pack)");
        }
        out.printf(Locale.ROOT, "loads        %s%n", line);
    }
}

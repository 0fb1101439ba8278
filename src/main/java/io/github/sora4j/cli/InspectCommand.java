package io.github.sora4j.cli;

import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.PackFile;
import io.github.sora4j.pack.PackManifest;
import io.github.sora4j.pack.PackTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sora4j inspect}: a pack's manifest, sizes per block set and an integrity check. */
@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show a model pack: its manifest, block counts and sizes per set; check "
            + "every file's size and SHA-256 against the manifest, every block's TorchScript "
            + "code against sora4j's operator allowlist and its role tag against the manifest, "
            + "and with --trusted-key the publisher's signature; say how loads will be checked.",
            "Exits with 1 and names each bad file if a check fails."})
final class InspectCommand implements Callable<Integer> {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @CommandLine.ParentCommand
    private Sora4jCli parent;

    @Parameters(arity = "0..1", paramLabel = "PACK", description = "The pack: a directory or a "
            + "built-in pack's name, demo (the default) or tiny-random.")
    private String pack;

    @Option(names = "--no-verify", description = "Check sizes only, not SHA-256 (the code "
            + "checks still run).")
    private boolean noVerify;

    @Option(names = "--trusted-key", paramLabel = "PEM", description = "Require the pack to be "
            + "signed (manifest.json.sig) by this Ed25519 public key (repeatable; "
            + "docs/model-pack.md, Threat model).")
    private List<Path> trustedKeys = new ArrayList<>();

    /** One file the manifest lists. */
    private record Entry(String file, long bytes, String sha256) {}

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        String name = pack != null ? pack : ModelPack.DEFAULT_EMBEDDED;
        boolean builtIn = PackOptions.isBuiltIn(name);
        if (builtIn && !trustedKeys.isEmpty()) {
            throw new IllegalArgumentException("--trusted-key needs a pack directory (the"
                    + " built-in packs are trusted through the jar)");
        }
        Path dir = builtIn ? ModelPack.embedded(name).directory() : PackOptions.directory(name);
        // A required signature is checked before anything of the manifest is shown.
        PackManifest m = trustedKeys.isEmpty() ? ModelPack.readManifest(dir)
                : ModelPack.readManifest(dir, PackTrust.signedBy(trustedKeys.stream()
                        .map(PackTrust::readPublicKey).toArray(PublicKey[]::new)));

        out.printf(Locale.ROOT, "pack         %s (%s), format version %d%n", m.name(), m.family(),
                m.formatVersion());
        out.printf(Locale.ROOT, "directory    %s%n", dir.toAbsolutePath().normalize());
        if (m.description() != null && !m.description().isBlank()) {
            out.printf(Locale.ROOT, "description  %s%n", m.description());
        }
        out.printf(Locale.ROOT, "weights      %s%s%n", m.weightDtype(),
                m.text().int8() ? " (T5 int8)" : "");
        out.printf(Locale.ROOT, "text         T5: %d blocks, d_model %d, %d heads, %d tokens%n",
                m.text().numBlocks(), m.text().dModel(), m.text().numHeads(),
                m.text().modelMaxLength());
        int[] p = m.stdit().patchSize();
        out.printf(Locale.ROOT, "denoiser     STDiT3: depth %d, hidden %d, %d heads, patch "
                        + "%dx%dx%d%n", m.stdit().depth(), m.stdit().hiddenSize(),
                m.stdit().numHeads(), p[0], p[1], p[2]);
        out.printf(Locale.ROOT, "decoder      VAE: %d latent channels, %dx temporal, %dx spatial "
                        + "compression (sizes must be multiples of %d)%n",
                m.vae().latentChannels(), m.vae().temporalCompression(),
                m.vae().spatialCompression(), m.vae().spatialCompression());
        out.printf(Locale.ROOT, "sampling     %d steps, CFG %s, %d fps%n", m.sampling().steps(),
                m.sampling().guidanceScale(), m.sampling().fps());
        out.println();

        Map<String, List<BlockInfo>> sets = new LinkedHashMap<>();
        for (BlockInfo b : m.blocks()) {
            sets.computeIfAbsent(b.set(), k -> new ArrayList<>()).add(b);
        }
        out.printf(Locale.ROOT, "%-12s %6s %12s %12s  %s%n", "set", "blocks", "file bytes",
                "parameters", "largest block");
        long totalFiles = 0;
        long totalParams = 0;
        for (Map.Entry<String, List<BlockInfo>> e : sets.entrySet()) {
            List<BlockInfo> blocks = e.getValue();
            long files = blocks.stream().mapToLong(BlockInfo::bytes).sum();
            long params = blocks.stream().mapToLong(BlockInfo::parameterBytes).sum();
            BlockInfo largest = blocks.stream()
                    .max(Comparator.comparingLong(BlockInfo::parameterBytes)).orElseThrow();
            out.printf(Locale.ROOT, "%-12s %6d %12s %12s  %s (%s)%n", e.getKey(), blocks.size(),
                    MemoryBudget.format(files), MemoryBudget.format(params), largest.name(),
                    MemoryBudget.format(largest.parameterBytes()));
            totalFiles += files;
            totalParams += params;
        }
        long other = m.files().stream().mapToLong(PackFile::bytes).sum();
        out.printf(Locale.ROOT, "%-12s %6d %12s %12s  %s%n", "other files", m.files().size(),
                MemoryBudget.format(other), "", String.join(", ",
                        m.files().stream().map(PackFile::file).toList()));
        out.printf(Locale.ROOT, "%-12s %6d %12s %12s%n", "total",
                m.blocks().size() + m.files().size(), MemoryBudget.format(totalFiles + other),
                MemoryBudget.format(totalParams));
        out.println();
        out.flush();

        List<Entry> entries = new ArrayList<>();
        m.blocks().forEach(b -> entries.add(new Entry(b.file(), b.bytes(), b.sha256())));
        m.files().forEach(f -> entries.add(new Entry(f.file(), f.bytes(), f.sha256())));
        List<String> failures = verify(dir, entries, out, parent.terminal());
        String what = noVerify ? "sizes" : "sizes and sha256";
        boolean ok = failures.isEmpty();
        if (ok) {
            out.printf(Locale.ROOT, "integrity    OK (%s of %d files, %s)%n", what,
                    entries.size(), MemoryBudget.format(totalFiles + other));
        } else {
            out.printf(Locale.ROOT, "integrity    FAILED: %d of %d files (%s)%n",
                    failures.size(), entries.size(), what);
            failures.forEach(f -> out.println("  " + f));
        }
        ok &= PackReport.code(dir, m, out);
        PackReport.signature(dir, builtIn, !trustedKeys.isEmpty(), out);
        PackReport.loads(dir, m, noVerify, out);
        out.flush();
        return ok ? Sora4jCli.EXIT_OK : Sora4jCli.EXIT_FAILURE;
    }

    private List<String> verify(Path dir, List<Entry> entries, PrintWriter out,
            boolean terminal) {
        List<String> failures = new ArrayList<>();
        long total = entries.stream().mapToLong(Entry::bytes).sum();
        long done = 0;
        int index = 0;
        for (Entry e : entries) {
            index++;
            if (terminal && !noVerify) {
                out.printf(Locale.ROOT, "\rverifying    %d/%d files, %s of %s ", index,
                        entries.size(), MemoryBudget.format(done), MemoryBudget.format(total));
                out.flush();
            }
            done += e.bytes();
            Path file = dir.resolve(e.file());
            if (!Files.isRegularFile(file)) {
                failures.add(e.file() + ": missing");
                continue;
            }
            try {
                long size = Files.size(file);
                if (size != e.bytes()) {
                    failures.add(e.file() + ": " + size + " bytes, the manifest says " + e.bytes()
                            + " (truncated or replaced)");
                    continue;
                }
                if (!noVerify) {
                    String actual = sha256(file);
                    if (!actual.equals(e.sha256())) {
                        failures.add(e.file() + ": sha256 mismatch: expected " + e.sha256()
                                + ", found " + actual);
                    }
                }
            } catch (IOException ex) {
                failures.add(e.file() + ": cannot read (" + ex.getMessage() + ")");
            }
        }
        if (terminal && !noVerify) {
            out.print("\r" + " ".repeat(60) + "\r");
            out.flush();
        }
        return failures;
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JVM", e);
        }
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                md.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}

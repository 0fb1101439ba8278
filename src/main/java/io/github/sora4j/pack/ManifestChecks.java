package io.github.sora4j.pack;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Range and consistency checks of a parsed manifest, run when a pack is opened and before any
 * block loads. Each failure is a {@link ModelPackException} naming the field, the value and what
 * is allowed; the ranges are wide enough for every Open-Sora-like model and narrow enough that no
 * later division, array index or {@code int} product can fail because of the manifest.
 */
final class ManifestChecks {
    /** Block dtypes the exporter writes. */
    static final Set<String> BLOCK_DTYPES = Set.of("float32", "float16", "int8");

    private final String where;

    private ManifestChecks(String where) {
        this.where = where;
    }

    /**
     * Checks a manifest.
     *
     * @param m the parsed manifest (format and version already checked)
     * @param where the manifest's file, for messages
     * @throws ModelPackException on the first problem found
     */
    static void check(PackManifest m, String where) {
        new ManifestChecks(where).all(m);
    }

    /**
     * Parses and checks a manifest.
     *
     * @param bytes the bytes of {@code manifest.json}
     * @param where the manifest's file, for messages
     * @return the checked manifest
     * @throws ModelPackException if it is not valid JSON, not a sora4j pack, of an unknown
     *     version, incomplete or invalid
     */
    static PackManifest parse(byte[] bytes, String where) {
        PackManifest m;
        try {
            m = new Gson().fromJson(new String(bytes, StandardCharsets.UTF_8), PackManifest.class);
        } catch (JsonParseException e) {
            throw new ModelPackException("manifest is not valid JSON: " + where + ": "
                    + e.getMessage(), e);
        } catch (RuntimeException e) {
            // Gson wraps what a record constructor throws ("Failed to invoke constructor")
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof ModelPackException mpe) {
                    throw new ModelPackException("invalid manifest " + where + ": "
                            + mpe.getMessage(), mpe);
                }
            }
            throw new ModelPackException("invalid manifest " + where + ": " + e.getMessage(), e);
        }
        if (m == null || !"sora4j-pack".equals(m.format())) {
            throw new ModelPackException("not a sora4j model pack manifest (format="
                    + (m == null ? null : m.format()) + "): " + where);
        }
        if (m.formatVersion() != PackManifest.FORMAT_VERSION) {
            throw new ModelPackException("unknown model pack format version " + m.formatVersion()
                    + " in " + where + " (this sora4j reads version "
                    + PackManifest.FORMAT_VERSION + ")");
        }
        if (m.text() == null || m.stdit() == null || m.vae() == null || m.sampling() == null) {
            throw new ModelPackException("manifest lacks text, stdit, vae or sampling: " + where);
        }
        for (String set : List.of("t5", "stdit", "vae")) {
            if (m.blocks(set).isEmpty()) {
                throw new ModelPackException("manifest lists no '" + set + "' blocks: " + where);
            }
        }
        check(m, where);
        PackManifest.Request r = m.request();
        int multiple = m.vae().spatialCompression();
        if (r != null && (r.frames() < 1 || r.width() < multiple || r.height() < multiple
                || r.width() % multiple != 0 || r.height() % multiple != 0)) {
            throw new ModelPackException("manifest request must have frames >= 1 and a size in "
                    + "multiples of " + multiple + " but was " + r + ": " + where);
        }
        return m;
    }

    private void all(PackManifest m) {
        if (m.name() == null || m.name().isBlank()) {
            fail("name is missing");
        }
        if (!"float32".equals(m.weightDtype()) && !"float16".equals(m.weightDtype())) {
            fail("weightDtype is " + quoted(m.weightDtype()) + "; allowed: \"float32\" or"
                    + " \"float16\"");
        }
        text(m.text());
        stdit(m.stdit(), m.text());
        vae(m.vae(), m.stdit());
        sampling(m.sampling());
        blocks(m);
        files(m);
    }

    private void text(PackManifest.Text t) {
        range("text.modelMaxLength", t.modelMaxLength(), 1, 4096);
        range("text.dModel", t.dModel(), 1, 65536);
        range("text.numBlocks", t.numBlocks(), 1, 1024);
        range("text.numHeads", t.numHeads(), 1, 1024);
        range("text.padTokenId", t.padTokenId(), 0, Integer.MAX_VALUE);
        range("text.eosTokenId", t.eosTokenId(), 0, Integer.MAX_VALUE);
        PackPaths.checkForm("text.tokenizer", t.tokenizer());
    }

    private void stdit(PackManifest.Stdit s, PackManifest.Text t) {
        range("stdit.hiddenSize", s.hiddenSize(), 1, 65536);
        range("stdit.depth", s.depth(), 1, 1024);
        range("stdit.numHeads", s.numHeads(), 1, s.hiddenSize());
        if (s.hiddenSize() % s.numHeads() != 0) {
            fail("stdit.hiddenSize " + s.hiddenSize() + " is not a multiple of stdit.numHeads "
                    + s.numHeads());
        }
        int[] p = s.patchSize();
        if (p == null || p.length != 3) {
            fail("stdit.patchSize is " + (p == null ? "missing" : java.util.Arrays.toString(p))
                    + "; allowed: 3 entries (t, h, w), each 1 to 64");
        }
        for (int i = 0; i < 3; i++) {
            range("stdit.patchSize[" + i + "]", p[i], 1, 64);
        }
        range("stdit.inChannels", s.inChannels(), 1, 1024);
        if (s.outChannels() != s.inChannels() && s.outChannels() != 2 * s.inChannels()) {
            fail("stdit.outChannels is " + s.outChannels() + "; allowed: stdit.inChannels ("
                    + s.inChannels() + ") or twice that (with the sigma half)");
        }
        if (s.captionChannels() != t.dModel()) {
            fail("stdit.captionChannels is " + s.captionChannels() + "; it must equal text.dModel ("
                    + t.dModel() + "), the width of the text embedding STDiT reads");
        }
        range("stdit.inputSqSize", s.inputSqSize(), 1, 65536);
        PackPaths.checkForm("stdit.nullEmbedding", s.nullEmbedding());
    }

    private void vae(PackManifest.Vae v, PackManifest.Stdit s) {
        range("vae.latentChannels", v.latentChannels(), 1, 1024);
        if (v.latentChannels() != s.inChannels()) {
            fail("vae.latentChannels is " + v.latentChannels() + "; it must equal"
                    + " stdit.inChannels (" + s.inChannels() + "), the channels of the latent");
        }
        for (String name : List.of("scale", "shift")) {
            double[] a = name.equals("scale") ? v.scale() : v.shift();
            if (a == null || a.length != v.latentChannels()) {
                fail("vae." + name + " has " + (a == null ? "no" : String.valueOf(a.length))
                        + " entries; allowed: one per latent channel (vae.latentChannels = "
                        + v.latentChannels() + ")");
            }
            for (int i = 0; i < a.length; i++) {
                if (!Double.isFinite(a[i]) || (name.equals("scale") && a[i] == 0)) {
                    fail("vae." + name + "[" + i + "] is " + a[i] + "; allowed: a finite"
                            + (name.equals("scale") ? ", non-zero" : "") + " number");
                }
            }
        }
        range("vae.temporalCompression", v.temporalCompression(), 1, 64);
        range("vae.spatialCompression", v.spatialCompression(), 1, 64);
        range("vae.microFrameSize", v.microFrameSize(), 1, 4096);
        int z = (v.microFrameSize() + v.temporalCompression() - 1) / v.temporalCompression();
        if (v.microZFrameSize() != z) {
            fail("vae.microZFrameSize is " + v.microZFrameSize() + "; it must be ceil("
                    + "vae.microFrameSize / vae.temporalCompression) = ceil(" + v.microFrameSize()
                    + " / " + v.temporalCompression() + ") = " + z);
        }
        range("vae.spatialMicroBatch", v.spatialMicroBatch(), 1, 4096);
        positiveFinite("vae.spatialScalingFactor", v.spatialScalingFactor());
    }

    private void sampling(PackManifest.Sampling s) {
        range("sampling.numTimesteps", s.numTimesteps(), 1, 1_000_000);
        range("sampling.steps", s.steps(), 1, s.numTimesteps());
        if (!Double.isFinite(s.guidanceScale()) || s.guidanceScale() < 0
                || s.guidanceScale() > 1000) {
            fail("sampling.guidanceScale is " + s.guidanceScale() + "; allowed: 0 to 1000");
        }
        positiveFinite("sampling.transformScale", s.transformScale());
        range("sampling.fps", s.fps(), 1, 240);
        if (!Double.isFinite(s.aestheticScore())) {
            fail("sampling.aestheticScore is " + s.aestheticScore() + "; allowed: a finite number");
        }
    }

    private void blocks(PackManifest m) {
        Set<String> names = new HashSet<>();
        Set<String> files = new HashSet<>();
        Map<String, Set<Integer>> orders = new HashMap<>();
        List<BlockInfo> blocks = m.blocks();
        for (int i = 0; i < blocks.size(); i++) {
            BlockInfo b = blocks.get(i);
            String f = "blocks[" + i + "] (" + b.name() + ")";
            String set = b.role().substring(0, b.role().indexOf('-'));
            if (!set.equals(b.set())) {
                fail(f + " has set " + quoted(b.set()) + " but role " + b.role() + " belongs to set "
                        + quoted(set));
            }
            if (b.dtype() == null || !BLOCK_DTYPES.contains(b.dtype())) {
                fail(f + " has dtype " + quoted(b.dtype()) + "; allowed: " + BLOCK_DTYPES);
            }
            range(f + ".order", b.order(), 0, 1023);
            PackPaths.checkForm(f + ".file", b.file());
            if (!names.add(b.name())) {
                fail("block name " + b.name() + " is listed twice");
            }
            if (!files.add(b.file())) {
                fail("block file " + b.file() + " is listed twice");
            }
            if (!orders.computeIfAbsent(b.role(), r -> new HashSet<>()).add(b.order())) {
                fail("two " + b.role() + " blocks have order " + b.order());
            }
        }
        Map<String, Integer> expected = new HashMap<>();
        expected.put("t5-embed", 1);
        expected.put("t5-block", m.text().numBlocks());
        expected.put("t5-final-norm", 1);
        expected.put("stdit-embed", 1);
        expected.put("stdit-block", m.stdit().depth());
        expected.put("stdit-final", 1);
        for (String role : PackManifest.ROLES) {
            int n = orders.getOrDefault(role, Set.of()).size();
            Integer want = expected.get(role);
            if (want != null && n != want) {
                String why = role.equals("t5-block") ? " (text.numBlocks)"
                        : role.equals("stdit-block") ? " (stdit.depth)" : "";
                fail("the manifest lists " + n + " " + role + " block(s); the architecture needs "
                        + want + why);
            }
            if (want == null && n == 0) {
                fail("the manifest lists no " + role + " blocks; the VAE decoder needs at least one");
            }
            for (int k = 0; k < n; k++) {
                if (!orders.get(role).contains(k)) {
                    fail("the " + role + " blocks have orders " + new java.util.TreeSet<>(
                            orders.get(role)) + "; they must be 0 to " + (n - 1) + " without gaps"
                            + " (order " + k + " is missing)");
                }
            }
        }
    }

    private void files(PackManifest m) {
        Set<String> seen = new HashSet<>();
        m.blocks().forEach(b -> seen.add(b.file()));
        for (int i = 0; i < m.files().size(); i++) {
            PackFile f = m.files().get(i);
            if (f == null) {
                fail("files[" + i + "] is null");
            }
            PackPaths.checkForm("files[" + i + "].file", f.file());
            if (f.bytes() < 0) {
                fail("files[" + i + "] (" + f.file() + ") has bytes " + f.bytes()
                        + "; allowed: 0 or more");
            }
            if (f.sha256() == null || !f.sha256().matches("[0-9a-f]{64}")) {
                fail("files[" + i + "] (" + f.file() + ") has sha256 " + quoted(f.sha256())
                        + "; allowed: 64 lower-case hex digits");
            }
            if (!seen.add(f.file())) {
                fail("file " + f.file() + " is listed twice");
            }
        }
        for (String named : List.of(m.text().tokenizer(), m.stdit().nullEmbedding())) {
            if (m.files().stream().noneMatch(f -> f.file().equals(named))) {
                fail(named + " (text.tokenizer or stdit.nullEmbedding) is not listed in files, so"
                        + " its size and sha256 cannot be checked");
            }
        }
    }

    private void range(String field, long value, long min, long max) {
        if (value < min || value > max) {
            fail(field + " is " + value + "; allowed: " + min + " to " + max);
        }
    }

    private void positiveFinite(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            fail(field + " is " + value + "; allowed: a finite number > 0");
        }
    }

    private static String quoted(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }

    private void fail(String problem) {
        throw new ModelPackException(String.format(Locale.ROOT, "invalid manifest %s: %s", where,
                problem));
    }
}

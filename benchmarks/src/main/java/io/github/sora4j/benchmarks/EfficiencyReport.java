package io.github.sora4j.benchmarks;

import ai.djl.engine.Engine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The raw CSV and the markdown section of {@link Efficiency}: medians per item and thread count,
 * achieved GFLOP/s against the matmul peak measured right before each measurement, the time the
 * FLOP model predicts at that peak, and the load the machine was under.
 */
final class EfficiencyReport {
    static final String BEGIN = "<!-- efficiency:begin -->";
    static final String END = "<!-- efficiency:end -->";

    /**
     * Command-line options.
     *
     * @param pack the real-width pack
     * @param reps interleaved repetitions of the STDiT pair and the T5 block
     * @param vaeReps repetitions of the VAE chunk (minutes each)
     * @param threads libtorch intra-op thread counts
     * @param stages whether to time the pair's sub-stage methods
     * @param csv raw rows
     * @param doc document whose efficiency section is rewritten, or null
     * @param profile chrome-trace file of one profiled pair call, or null
     * @param command the command line, for the report
     * @param fromCsv a CSV of an earlier run to report instead of measuring, or null
     */
    record Options(Path pack, int reps, int vaeReps, int[] threads, boolean stages, Path csv,
            Path doc, Path profile, String command, Path fromCsv) {

        static Options parse(String[] args) {
            Path pack = Path.of("benchmarks/target/packs/realwidth-opensora");
            int reps = 3;
            int vaeReps = 1;
            int[] threads = {1, 2};
            boolean stages = false;
            Path csv = Path.of("benchmarks/target/efficiency/runs.csv");
            Path doc = Path.of("docs/benchmarks.md");
            Path profile = null;
            String command = "benchmarks/efficiency.sh";
            Path fromCsv = null;
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--stages" -> stages = true;
                    case "--no-doc" -> doc = null;
                    case "--pack", "--reps", "--vae-reps", "--threads", "--csv", "--doc", "--profile",
                            "--command", "--from-csv" -> {
                        if (i + 1 >= args.length) {
                            throw new IllegalArgumentException(a + " needs a value");
                        }
                        String v = args[++i];
                        switch (a) {
                            case "--pack" -> pack = Path.of(v);
                            case "--reps" -> reps = nonNegative(a, v);
                            case "--vae-reps" -> vaeReps = nonNegative(a, v);
                            case "--threads" -> threads = Arrays.stream(v.split(","))
                                    .mapToInt(s -> positive("--threads", s)).toArray();
                            case "--csv" -> csv = Path.of(v);
                            case "--doc" -> doc = Path.of(v);
                            case "--profile" -> profile = Path.of(v);
                            case "--from-csv" -> fromCsv = Path.of(v);
                            default -> command = v;
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + a
                            + " (use --pack DIR, --reps N, --vae-reps N, --threads 1,2, --stages,"
                            + " --csv FILE, --doc FILE, --no-doc, --profile FILE, --from-csv FILE)");
                }
            }
            if (fromCsv != null) {
                if (!Files.isRegularFile(fromCsv)) {
                    throw new IllegalArgumentException("--from-csv: no file " + fromCsv);
                }
                return new Options(pack, reps, vaeReps, threads, stages, fromCsv, doc, null, command,
                        fromCsv);
            }
            if (!Files.isRegularFile(pack.resolve("manifest.json"))) {
                throw new IllegalArgumentException("no pack at " + pack + ": write it with "
                        + "PYTHONPATH=src/main/python python3 benchmarks/realwidth_pack.py --out " + pack);
            }
            return new Options(pack, reps, vaeReps, threads, stages, csv, doc, profile, command, null);
        }

        private static int nonNegative(String name, String v) {
            int n = Integer.parseInt(v);
            if (n < 0) {
                throw new IllegalArgumentException(name + " must be >= 0 but was " + v);
            }
            return n;
        }

        private static int positive(String name, String v) {
            int n = Integer.parseInt(v.strip());
            if (n < 1) {
                throw new IllegalArgumentException(name + " must be >= 1 but was " + v);
            }
            return n;
        }
    }

    /**
     * FLOPs (2 per multiply-add) of each item.
     *
     * @param peak the peak matmul
     * @param pair the STDiT pair with CFG batch 2
     * @param t5Block one T5-XXL block on 300 tokens
     * @param vaeChunk the VAE decode of one 17-frame chunk
     * @param spatial the spatial block's sub-stages (in {@link Efficiency#STAGES} order), CFG 2
     * @param temporal the temporal block's
     */
    record Flops(double peak, double pair, double t5Block, double vaeChunk, double[] spatial,
            double[] temporal) {}

    /**
     * One measurement.
     *
     * @param rep repetition
     * @param threads libtorch intra-op threads
     * @param item {@code peak}, {@code stdit-pair}, {@code t5-block}, {@code vae-chunk} or
     *     {@code stage:METHOD}
     * @param seconds wall time
     * @param flops FLOPs of one call
     * @param peakGflops the matmul peak measured right before (for {@code peak}: itself)
     * @param load1Before 1-minute load average before
     * @param load1After after
     * @param cpuSeconds process CPU time during the call
     * @param at when it ended
     */
    record Row(int rep, int threads, String item, double seconds, double flops, double peakGflops,
            double load1Before, double load1After, double cpuSeconds, ZonedDateTime at) {

        double gflops() {
            return flops / seconds / 1e9;
        }

        double fractionOfPeak() {
            return gflops() / peakGflops;
        }
    }

    private final List<Row> rows;
    private final Options options;
    private final Flops flops;

    EfficiencyReport(List<Row> rows, Options options, Flops flops) {
        this.rows = List.copyOf(rows);
        this.options = options;
        this.flops = flops;
    }

    void writeCsv(Path csv) throws IOException {
        StringBuilder b = new StringBuilder("rep,threads,item,seconds,flops,gflops,peak_gflops,"
                + "fraction_of_peak,load1_before,load1_after,cpu_seconds,ended\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "%d,%d,%s,%.6f,%.6e,%.3f,%.3f,%.4f,%.2f,%.2f,%.3f,%s%n",
                    r.rep(), r.threads(), r.item(), r.seconds(), r.flops(), r.gflops(),
                    r.peakGflops(), r.fractionOfPeak(), r.load1Before(), r.load1After(),
                    r.cpuSeconds(), r.at().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)));
        }
        if (csv.getParent() != null) {
            Files.createDirectories(csv.getParent());
        }
        Files.writeString(csv, b.toString(), StandardCharsets.UTF_8);
    }

    String markdown(ZonedDateTime now) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%s %s by `%s` on %s (%d cores visible), libtorch %s "
                + "through DJL, float32; interleaved repetitions, medians (n: how many). Raw rows: "
                + "`%s`.%n%n", options.fromCsv() == null ? "Measured" : "Measured until",
                Ablation.date(now), options.command(), cpuModel(),
                Runtime.getRuntime().availableProcessors(), engineVersion(), options.csv()));
        b.append("| Item | GFLOP (FlopModel) | Threads | Time | At matmul peak | GFLOP/s | Matmul peak "
                + "GFLOP/s | % of peak | GFLOP per CPU-s (peak) | % of peak per CPU-s | CPU / wall "
                + "| Load (1 min) | n |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String item : List.of("stdit-pair", "t5-block", "vae-chunk")) {
            for (int t : threads()) {
                List<Row> rs = select(item, t);
                if (rs.isEmpty()) {
                    continue;
                }
                double peak = median(rs.stream().mapToDouble(Row::peakGflops).toArray());
                double[][] cpu = perCpuSecond(item, t);
                b.append(String.format(Locale.ROOT,
                        "| %s | %,.1f | %d | %s | %s | %.1f | %.1f | %.0f %% | %s | %.2f | %.1f | %d |%n",
                        label(item), rs.get(0).flops() / 1e9, t,
                        seconds(median(rs.stream().mapToDouble(Row::seconds).toArray())),
                        seconds(rs.get(0).flops() / (peak * 1e9)),
                        median(rs.stream().mapToDouble(Row::gflops).toArray()), peak,
                        100 * median(rs.stream().mapToDouble(Row::fractionOfPeak).toArray()),
                        cpu[0].length == 0 ? "- | -" : String.format(Locale.ROOT, "%.1f (%.1f) | %.0f %%",
                                median(cpu[0]), median(cpu[1]), 100 * median(cpu[2])),
                        median(rs.stream().mapToDouble(r -> r.cpuSeconds() / r.seconds()).toArray()),
                        median(rs.stream().mapToDouble(Row::load1Before).toArray()), rs.size()));
            }
        }
        b.append(speedups());
        if (rows.stream().anyMatch(r -> r.item().startsWith("stage:"))) {
            b.append(stages());
        }
        return b.toString();
    }

    private String speedups() {
        int[] ts = threads();
        if (ts.length < 2) {
            return "";
        }
        List<String> parts = new ArrayList<>();
        for (String item : List.of("peak", "stdit-pair", "t5-block", "vae-chunk")) {
            List<Row> one = select(item, ts[0]);
            List<Row> two = select(item, ts[ts.length - 1]);
            if (!one.isEmpty() && !two.isEmpty()) {
                parts.add(String.format(Locale.ROOT, "%s %.2f×", label(item),
                        median(one.stream().mapToDouble(Row::seconds).toArray())
                                / median(two.stream().mapToDouble(Row::seconds).toArray())));
            }
        }
        return String.format(Locale.ROOT, "%n%d threads over %d (median times): %s.%n", ts[ts.length - 1],
                ts[0], String.join(", ", parts));
    }

    private String stages() {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%nThe pair's sub-stage methods,"
                + " each called alone on the same inputs (the pair's `forward` runs the same code):%n%n"));
        b.append("| Sub-stage | GFLOP | Threads | Time | Share of the sum | GFLOP/s | % of peak "
                + "| % of peak per CPU-s |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int t : threads()) {
            double total = 0;
            List<String[]> lines = new ArrayList<>();
            for (String half : new String[] {"spatial", "temporal"}) {
                for (String stage : Efficiency.STAGES) {
                    List<Row> rs = select("stage:" + half + "_" + stage, t);
                    if (rs.isEmpty()) {
                        continue;
                    }
                    double s = median(rs.stream().mapToDouble(Row::seconds).toArray());
                    total += s;
                    double f = rs.get(0).flops();
                    double[] cpu = perCpuSecond("stage:" + half + "_" + stage, t)[2];
                    lines.add(new String[] {half + "_" + stage, String.format(Locale.ROOT, "%,.1f", f / 1e9),
                        Double.toString(s), f > 0 ? String.format(Locale.ROOT, "%.1f", f / s / 1e9) : "-",
                        f > 0 ? String.format(Locale.ROOT, "%.0f %%", 100 * median(rs.stream()
                                .mapToDouble(Row::fractionOfPeak).toArray())) : "-",
                        f > 0 && cpu.length > 0 ? String.format(Locale.ROOT, "%.0f %%", 100 * median(cpu)) : "-"});
                }
            }
            for (String[] l : lines) {
                double s = Double.parseDouble(l[2]);
                b.append(String.format(Locale.ROOT, "| `%s` | %s | %d | %s | %.1f %% | %s | %s | %s |%n", l[0],
                        l[1], t, seconds(s), 100 * s / total, l[3], l[4], l[5]));
            }
            b.append(String.format(Locale.ROOT, "| sum | %,.1f | %d | %s | | %.1f | | |%n", flops.pair() / 1e9,
                    t, seconds(total), flops.pair() / total / 1e9));
        }
        return b.toString();
    }

    /**
     * FLOPs per CPU-second of each measurement of an item, of the peak measured before it and
     * their ratio: what the work achieved on the CPU time it got, which a busy machine changes
     * far less than wall time (with more than one thread, OpenMP's spin-waiting counts as CPU
     * time).
     */
    double[][] perCpuSecond(String item, int threads) {
        List<double[]> v = new ArrayList<>();
        Row peak = null;
        for (Row r : rows) {
            if (r.item().equals("peak")) {
                peak = r;
            } else if (r.item().equals(item) && r.threads() == threads && peak != null
                    && peak.threads() == threads && r.cpuSeconds() > 0 && peak.cpuSeconds() > 0) {
                double a = r.flops() / r.cpuSeconds() / 1e9;
                double p = peak.flops() / peak.cpuSeconds() / 1e9;
                v.add(new double[] {a, p, a / p});
            }
        }
        double[][] out = new double[3][v.size()];
        for (int i = 0; i < v.size(); i++) {
            for (int k = 0; k < 3; k++) {
                out[k][i] = v.get(i)[k];
            }
        }
        return out;
    }

    /**
     * Reads rows back from a CSV that {@link #writeCsv} wrote.
     *
     * @param csv the file
     * @return the rows in file order
     * @throws IOException if it cannot be read
     */
    static List<Row> readCsv(Path csv) throws IOException {
        List<Row> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(",");
            if (f.length != 12) {
                throw new IllegalArgumentException("not a runs.csv line of 12 fields: " + line);
            }
            out.add(new Row(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2],
                    Double.parseDouble(f[3]), Double.parseDouble(f[4]), Double.parseDouble(f[6]),
                    Double.parseDouble(f[8]), Double.parseDouble(f[9]), Double.parseDouble(f[10]),
                    ZonedDateTime.parse(f[11])));
        }
        return out;
    }

    private List<Row> select(String item, int threads) {
        return rows.stream().filter(r -> r.item().equals(item) && r.threads() == threads).toList();
    }

    private int[] threads() {
        Set<Integer> ts = new LinkedHashSet<>();
        rows.stream().mapToInt(Row::threads).sorted().forEach(ts::add);
        return ts.stream().mapToInt(Integer::intValue).toArray();
    }

    private static String label(String item) {
        return switch (item) {
            case "peak" -> "matmul 2048³";
            case "stdit-pair" -> "STDiT3-XL/2 pair, 2×5,120 tokens";
            case "t5-block" -> "T5-XXL block, 300 tokens";
            case "vae-chunk" -> "VAE decode, 17 frames 256×256";
            default -> item;
        };
    }

    static String seconds(double s) {
        return s >= 10 ? String.format(Locale.ROOT, "%.1f s", s)
                : s >= 1 ? String.format(Locale.ROOT, "%.2f s", s)
                : String.format(Locale.ROOT, "%.0f ms", s * 1e3);
    }

    static double median(double[] v) {
        if (v.length == 0) {
            throw new IllegalArgumentException("no values");
        }
        double[] s = v.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    /** Replaces the efficiency section of the document (or appends one). */
    static void writeSection(Path doc, String section) throws IOException {
        String text = Files.isRegularFile(doc) ? Files.readString(doc, StandardCharsets.UTF_8) : "";
        String block = BEGIN + "\n" + section.strip() + "\n" + END;
        int b = text.indexOf(BEGIN);
        int e = text.indexOf(END);
        String out = b >= 0 && e > b ? text.substring(0, b) + block + text.substring(e + END.length())
                : text + (text.isEmpty() || text.endsWith("\n") ? "" : "\n") + "\n" + block + "\n";
        Files.writeString(doc, out, StandardCharsets.UTF_8);
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith("model name")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse("unknown CPU");
        } catch (IOException e) {
            return "unknown CPU";
        }
    }

    private static String engineVersion() {
        try {
            return Engine.getEngine("PyTorch").getVersion();
        } catch (RuntimeException e) {
            return "unknown";
        }
    }
}

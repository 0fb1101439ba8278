package io.github.sora4j.benchmarks;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.ProgressEvent;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.device.DeviceProfiles;
import io.github.sora4j.device.MemoryPlan;
import io.github.sora4j.internal.NativeHeap;
import io.github.sora4j.load.LoaderListener;
import io.github.sora4j.load.LoaderSettings;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One generation on a full-size pack under the phone profile (benchmarks/real-size.sh): the
 * profile's loader (CI-DL) and budget, a short request, and a JSON report with the memory plan's
 * prediction, the process's measured peak ({@code VmHWM}) and per block: the mean time a run
 * waited for an on-demand load, the mean compute time (the block's wall time minus that wait), and
 * the mean time of each read of its file (prefetches included).
 *
 * <pre>
 * java ... RealSizeRun PACK FRAMES SIZE STEPS OUT.json [TOTAL_BUDGET_BYTES]
 * </pre>
 *
 * <p>With a total budget, the phone profile runs with that total (its 0.3 GB reservation kept):
 * the float32 pack's T5 blocks (772 MB) cannot be read within the phone's 3.3 GB (a read holds
 * the weights plus three copies of the file, docs/memory.md section 9), the T5-int8 pack the
 * profile names can.
 */
public final class RealSizeRun {
    private static final String PROMPT = "a red circle moving left";

    private RealSizeRun() {}

    /**
     * Runs it.
     *
     * @param args pack directory, frames, size (square), steps, output JSON file, optionally
     *     the total budget in bytes
     * @throws IOException if the report cannot be written
     */
    public static void main(String[] args) throws IOException {
        Path packDir = Path.of(args[0]);
        int frames = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        int steps = Integer.parseInt(args[3]);
        Path out = Path.of(args[4]);
        DeviceProfile phone = DeviceProfiles.PHONE_ARM64_8GB;
        DeviceProfile profile = args.length > 5
                ? phone.withName(phone.name() + "-budget-" + args[5]).withBudget(new MemoryBudget(
                        Long.parseLong(args[5]), phone.budget().reservedBytes()))
                : phone;
        ModelPack pack = ModelPack.open(packDir, false);
        GenerationRequest request = GenerationRequest.builder(PROMPT).frames(frames)
                .size(size, size).steps(steps).seed(42).build();
        MemoryPlan plan = MemoryPlan.of(pack.manifest(), profile, request);
        System.out.println(plan);

        RunRecorder recorder = new RunRecorder();
        Map<String, long[]> reads = new ConcurrentHashMap<>(); // name -> reads, nanos (prefetch too)
        LoaderListener listener = new LoaderListener() {
            @Override
            public void loadStarted(BlockInfo block, long loadedBytes, boolean prefetch) {
                recorder.loadStarted(block, loadedBytes, prefetch);
            }

            @Override
            public void loadFinished(BlockInfo block, long nanos) {
                recorder.loadFinished(block, nanos);
                long[] r = reads.computeIfAbsent(block.name(), k -> new long[2]);
                synchronized (r) {
                    r[0]++;
                    r[1] += nanos;
                }
            }
        };
        LoaderSettings settings = LoaderSettings.of(profile.budget()).withListener(listener);
        // VmRSS sampled every 20 ms, the maximum kept per stage (what the plan's per-set peaks predict)
        Map<String, Long> stagePeaks = new ConcurrentHashMap<>();
        String[] stage = {"build"};
        ProgressListener progress = event -> {
            if (event instanceof ProgressEvent.StageStarted st) {
                stage[0] = st.stage().name();
            }
            return recorder.onProgress(event);
        };
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                long rss = ProcessMemory.statusBytes("VmRSS");
                stagePeaks.merge(stage[0], rss, Math::max);
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "rss-sampler");
        sampler.setDaemon(true);
        long start = System.nanoTime();
        GenerationResult result;
        long baseline;
        try (VideoPipeline pipeline = VideoPipeline.builder().pack(pack).deviceProfile(profile)
                .blockLoader(p -> profile.techniques().loader().newLoader(p, settings)).build()) {
            baseline = ProcessMemory.statusBytes("VmRSS");
            sampler.start();
            result = pipeline.generate(request, progress);
        }
        sampler.interrupt();
        double wall = (System.nanoTime() - start) / 1e9;
        long hwm = ProcessMemory.peakBytes();

        Map<String, double[]> perBlock = new LinkedHashMap<>(); // name -> runs, load s, compute s
        for (RunRecorder.BlockRun b : recorder.blocks()) {
            double[] a = perBlock.computeIfAbsent(b.block(), k -> new double[3]);
            a[0]++;
            a[1] += b.loadNanos() / 1e9;
            a[2] += b.computeNanos() / 1e9;
        }
        StringBuilder j = new StringBuilder("{\n");
        j.append(String.format(Locale.ROOT, "  \"pack\": \"%s\",%n", pack.manifest().name()));
        j.append(String.format(Locale.ROOT, "  \"profile\": \"%s\",%n", profile.name()));
        j.append(String.format(Locale.ROOT, "  \"loader\": \"%s\",%n", plan.loader().label()));
        j.append(String.format(Locale.ROOT, "  \"request\": {\"frames\": %d, \"width\": %d, "
                + "\"height\": %d, \"steps\": %d},%n", frames, size, size, steps));
        j.append(String.format(Locale.ROOT, "  \"budget_total_bytes\": %d,%n",
                profile.budget().totalBytes()));
        j.append(String.format(Locale.ROOT, "  \"budget_reserved_bytes\": %d,%n",
                profile.budget().reservedBytes()));
        j.append(String.format(Locale.ROOT, "  \"plan_peak_bytes\": %d,%n", plan.peakBytes()));
        j.append(String.format(Locale.ROOT, "  \"plan_peak_weight_bytes\": %d,%n",
                plan.peakWeightBytes()));
        j.append(String.format(Locale.ROOT, "  \"plan_peak_activation_bytes\": %d,%n",
                plan.peakActivationBytes()));
        j.append("  \"plan_sets\": {");
        List<MemoryPlan.Phase> phases = plan.phases();
        for (int i = 0; i < phases.size(); i++) {
            MemoryPlan.Phase p = phases.get(i);
            j.append(String.format(Locale.ROOT, "%s\"%s\": {\"resident\": %d, \"weights\": %d, "
                    + "\"reading\": %d, \"activations\": %d, \"other_sets\": %d, \"peak\": %d}",
                    i == 0 ? "" : ", ", p.set(), p.residency().residentCount(),
                    p.peakWeightBytes(), p.residency().readingBytes(),
                    p.residency().activationBytes(), p.otherSetsBytes(), p.peakBytes()));
        }
        j.append("},\n");
        j.append(String.format(Locale.ROOT, "  \"plan_fits\": %s,%n", plan.fits()));
        j.append(String.format(Locale.ROOT, "  \"run_peak_rss_bytes\": %d,%n", hwm));
        j.append(String.format(Locale.ROOT, "  \"rss_after_build_bytes\": %d,%n", baseline));
        j.append("  \"peak_rss_by_stage\": {");
        int q = 0;
        for (Map.Entry<String, Long> e : stagePeaks.entrySet()) {
            j.append(String.format(Locale.ROOT, "%s\"%s\": %d", q++ == 0 ? "" : ", ", e.getKey(),
                    e.getValue()));
        }
        j.append("},\n");
        j.append(String.format(Locale.ROOT, "  \"malloc_trims\": %d,%n", NativeHeap.trims()));
        j.append(String.format(Locale.ROOT, "  \"run_peak_loaded_bytes\": %d,%n",
                result.report().peakLoadedBytes()));
        j.append(String.format(Locale.ROOT, "  \"run_seconds\": %.3f,%n", wall));
        j.append(String.format(Locale.ROOT, "  \"text_encode_seconds\": %.3f,%n",
                result.report().textEncodeNanos() / 1e9));
        j.append(String.format(Locale.ROOT, "  \"denoise_seconds\": %.3f,%n",
                result.report().denoiseNanos() / 1e9));
        j.append(String.format(Locale.ROOT, "  \"decode_seconds\": %.3f,%n",
                result.report().decodeNanos() / 1e9));
        j.append(String.format(Locale.ROOT, "  \"blocks_loaded\": %d,%n",
                result.report().blocksLoaded()));
        j.append("  \"per_block\": {\n");
        int k = 0;
        for (Map.Entry<String, double[]> e : perBlock.entrySet()) {
            double[] a = e.getValue();
            long[] r = reads.getOrDefault(e.getKey(), new long[2]);
            j.append(String.format(Locale.ROOT, "    \"%s\": {\"runs\": %d, \"mean_wait_seconds\": "
                    + "%.4f, \"mean_compute_seconds\": %.4f, \"reads\": %d, \"mean_read_seconds\": "
                    + "%.4f}%s%n", e.getKey(), (int) a[0], a[1] / a[0], a[2] / a[0], r[0],
                    r[0] == 0 ? 0.0 : r[1] / 1e9 / r[0], ++k < perBlock.size() ? "," : ""));
        }
        j.append("  }\n}\n");
        Files.writeString(out, j.toString(), StandardCharsets.UTF_8);
        System.out.print(j);
    }
}

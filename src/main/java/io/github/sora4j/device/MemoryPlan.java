package io.github.sora4j.device;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.GenerationRequest;
import io.github.sora4j.load.ActivationPeaks;
import io.github.sora4j.load.BlockReader;
import io.github.sora4j.load.BlockReaders;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.load.MemoryBudget;
import io.github.sora4j.load.SetResidency;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.PackManifest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A dry run of a generation's memory: for a pack's manifest, a budget and loader (or a {@link
 * DeviceProfile}) and a request, which blocks of each set stay resident, the predicted peaks of
 * loaded weights and of activations, and whether it fits. Nothing is loaded; it makes the same
 * decisions as the loaders ({@link SetResidency#plan}, and the same eviction of other sets'
 * resident blocks), on the first generation after the pipeline is built.
 *
 * <pre>{@code
 * MemoryPlan plan = MemoryPlan.of(pack.manifest(), DeviceProfiles.PHONE_ARM64_8GB, request);
 * System.out.println(plan);          // a table, see docs/memory.md
 * if (!plan.fits()) { … }
 * }</pre>
 *
 * @param pack the pack's name
 * @param profile the profile's name ({@code custom} for a bare budget)
 * @param budget the memory budget
 * @param loader the loading strategy planned for
 * @param frames requested frames
 * @param width requested width
 * @param height requested height
 * @param captionTokens caption tokens assumed for cross-attention
 * @param phases one per block set, in the order the sets run
 */
public record MemoryPlan(String pack, String profile, MemoryBudget budget, LoaderKind loader,
        int frames, int width, int height, int captionTokens, List<Phase> phases) {
    /** The reader the loaders use by default; the plan counts its reading cost. */
    private static final BlockReader READER = BlockReaders.torchScript();


    /**
     * One block set's part of the plan.
     *
     * @param residency which blocks stay resident, the set's weight peak and activations
     * @param otherSetsBytes parameter bytes of other sets' blocks still loaded while it runs
     */
    public record Phase(SetResidency residency, long otherSetsBytes) {

        /**
         * The set's name.
         *
         * @return e.g. {@code stdit}
         */
        public String set() {
            return residency.set();
        }

        /**
         * Most parameter bytes loaded at once while the set runs, other sets' included.
         *
         * @return bytes
         */
        public long peakWeightBytes() {
            return otherSetsBytes + residency.peakWeightBytes();
        }

        /**
         * Peak weights, plus what reading a block holds beyond them, plus the set's activations.
         *
         * @return bytes
         */
        public long peakBytes() {
            return peakWeightBytes() + residency.readingBytes() + residency.activationBytes();
        }

        /**
         * Whether the set runs within the budget.
         *
         * @return true if its peak is at most the available bytes
         */
        public boolean fits() {
            return residency.fits() && peakBytes() <= residency.availableBytes();
        }
    }

    /**
     * Creates a plan from a copy of the phases; {@link #of} computes one.
     *
     * @param pack the pack's name
     * @param profile the device profile's name, {@code custom} for a bare budget
     * @param budget the memory budget planned against; not null
     * @param loader the loading strategy planned for; not null
     * @param frames requested video frames
     * @param width requested width in pixels
     * @param height requested height in pixels
     * @param captionTokens caption tokens assumed for cross-attention
     * @param phases one per block set, in the order the sets run; not null
     * @throws InvalidConfigurationException if {@code budget}, {@code loader} or {@code phases} is null
     */
    public MemoryPlan {
        InvalidConfigurationException.requireNonNull(budget, "budget");
        InvalidConfigurationException.requireNonNull(loader, "loader");
        phases = List.copyOf(phases);
    }

    /**
     * Plans a request on a device profile, with the profile's budget and loader.
     *
     * @param manifest the pack's manifest
     * @param profile the device profile
     * @param request the request (frames, size)
     * @return the plan
     */
    public static MemoryPlan of(PackManifest manifest, DeviceProfile profile,
            GenerationRequest request) {
        return plan(manifest, profile.name(), profile.budget(), profile.techniques().loader(),
                request, activationPeaks(manifest, request));
    }

    /**
     * Plans a request with a budget and loader.
     *
     * @param manifest the pack's manifest
     * @param budget the budget
     * @param loader the loading strategy
     * @param request the request (frames, size)
     * @return the plan
     */
    public static MemoryPlan of(PackManifest manifest, MemoryBudget budget, LoaderKind loader,
            GenerationRequest request) {
        return plan(manifest, "custom", budget, loader, request,
                activationPeaks(manifest, request));
    }

    /**
     * Plans a request with a budget, a loader and given (e.g. measured) activation peaks, as a
     * loader made with {@link io.github.sora4j.load.LoaderSettings#withActivations} decides.
     *
     * @param manifest the pack's manifest
     * @param budget the budget
     * @param loader the loading strategy
     * @param request the request (frames, size)
     * @param activations peak activation bytes per set
     * @return the plan
     */
    public static MemoryPlan of(PackManifest manifest, MemoryBudget budget, LoaderKind loader,
            GenerationRequest request, ActivationPeaks activations) {
        return plan(manifest, "custom", budget, loader, request, activations);
    }

    /**
     * Estimated activation peaks of a request, assuming the longest caption the model takes
     * (the pipeline passes the real token count through the other overload).
     *
     * @param manifest the pack's manifest
     * @param request the request
     * @return peak bytes per set
     */
    public static ActivationPeaks activationPeaks(PackManifest manifest,
            GenerationRequest request) {
        GenerationRequest r = request.withPackDefaults(manifest);
        return activationPeaks(manifest, r.frames(), r.height(), r.width(),
                manifest.text().modelMaxLength());
    }

    /**
     * Estimated activation peaks of each block set (see docs/memory.md for the model).
     *
     * @param manifest the pack's manifest
     * @param frames pixel frames
     * @param height pixel height
     * @param width pixel width
     * @param captionTokens valid caption tokens L (cross-attention keys)
     * @return peak bytes per set
     */
    public static ActivationPeaks activationPeaks(PackManifest manifest, int frames, int height,
            int width, int captionTokens) {
        return ActivationModel.estimate(manifest, frames, height, width, captionTokens);
    }

    private static MemoryPlan plan(PackManifest m, String profile, MemoryBudget budget,
            LoaderKind kind, GenerationRequest r, ActivationPeaks peaks) {
        int tokens = m.text().modelMaxLength();
        long available = budget.availableBytes();
        List<String> sets = new ArrayList<>();
        for (BlockInfo b : m.blocks()) {
            if (!sets.contains(b.set())) {
                sets.add(b.set());
            }
        }
        // Resident blocks still loaded, by set, in the order the loader evicts them last-first.
        Map<String, List<BlockInfo>> kept = new LinkedHashMap<>();
        List<Phase> phases = new ArrayList<>();
        for (int i = 0; i < sets.size(); i++) {
            String set = sets.get(i);
            List<BlockInfo> blocks = m.blocks(set);
            long activation = peaks.bytes(set);
            SetResidency residency = kind == LoaderKind.RESIDENT
                    ? new SetResidency(set, blocks, blocks.size(), false, activation, available,
                            SetResidency.readingBytes(blocks, blocks.size(), false,
                                    READER::readOverheadBytes))
                    : SetResidency.plan(set, blocks, activation, available, kind.dynamic(),
                            kind.concurrent(), READER::readOverheadBytes);
            kept.remove(set);
            if (kind != LoaderKind.RESIDENT) {
                evict(kept, sets, i, residency.peakWeightBytes(),
                        available - activation - residency.readingBytes());
            }
            long others = kept.values().stream().flatMap(List::stream)
                    .mapToLong(BlockInfo::parameterBytes).sum();
            phases.add(new Phase(residency, others));
            kept.put(set, new ArrayList<>(residency.residentBlocks()));
        }
        GenerationRequest resolved = r.withPackDefaults(m);
        return new MemoryPlan(m.name(), profile, budget, kind, resolved.frames(), resolved.width(),
                resolved.height(), tokens, phases);
    }

    /** Drops other sets' resident blocks as the loaders do: furthest next use, last block first. */
    private static void evict(Map<String, List<BlockInfo>> kept, List<String> sets, int current,
            long need, long limit) {
        long others = kept.values().stream().flatMap(List::stream)
                .mapToLong(BlockInfo::parameterBytes).sum();
        List<String> order = new ArrayList<>(kept.keySet());
        order.sort(Comparator.comparingInt(
                (String s) -> Math.floorMod(sets.indexOf(s) - current, sets.size())).reversed());
        for (String s : order) {
            List<BlockInfo> blocks = kept.get(s);
            while (!blocks.isEmpty() && others + need > limit) {
                others -= blocks.remove(blocks.size() - 1).parameterBytes();
            }
        }
    }

    /**
     * The phase of a set.
     *
     * @param set a set name
     * @return its phase
     * @throws InvalidConfigurationException if the pack has no such set
     */
    public Phase phase(String set) {
        return phases.stream().filter(p -> p.set().equals(set)).findFirst()
                .orElseThrow(() -> new InvalidConfigurationException("no block set '" + set
                        + "' in pack " + pack));
    }

    /**
     * The most parameter bytes loaded at once during the generation.
     *
     * @return bytes
     */
    public long peakWeightBytes() {
        return phases.stream().mapToLong(Phase::peakWeightBytes).max().orElse(0);
    }

    /**
     * The largest activation peak of any set.
     *
     * @return bytes
     */
    public long peakActivationBytes() {
        return phases.stream().mapToLong(p -> p.residency().activationBytes()).max().orElse(0);
    }

    /**
     * The largest weights-plus-activations of any set.
     *
     * @return bytes
     */
    public long peakBytes() {
        return phases.stream().mapToLong(Phase::peakBytes).max().orElse(0);
    }

    /**
     * Whether every set runs within the budget.
     *
     * @return true if it fits
     */
    public boolean fits() {
        return phases.stream().allMatch(Phase::fits);
    }

    /** A table: one row per set, then the peak and the resident blocks. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "Memory plan: pack %s, profile %s, loader %s%n", pack,
                profile, loader.label()));
        s.append(String.format(Locale.ROOT, "request %d frames %dx%d, %d caption tokens%n",
                frames, width, height, captionTokens));
        s.append(budget.isUnlimited() ? "budget unlimited\n"
                : String.format(Locale.ROOT, "budget %s total, %s reserved, %s available%n",
                        MemoryBudget.format(budget.totalBytes()),
                        MemoryBudget.format(budget.reservedBytes()),
                        MemoryBudget.format(budget.availableBytes())));
        s.append(String.format(Locale.ROOT,
                "%n%-6s %6s %9s %10s %9s %8s %10s %9s %11s %10s %10s %4s%n",
                "set", "blocks", "resident", "resident", "streamed", "prefetch", "weights",
                "reading", "activations", "other sets", "peak", "fits"));
        s.append(String.format(Locale.ROOT,
                "%-6s %6s %9s %10s %9s %8s %10s %9s %11s %10s %10s %4s%n",
                "", "", "", "bytes", "per run", "", "peak", "", "peak", "loaded", "", ""));
        for (Phase p : phases) {
            SetResidency r = p.residency();
            s.append(String.format(Locale.ROOT,
                    "%-6s %6d %9d %10s %9s %8s %10s %9s %11s %10s %10s %4s%n", r.set(),
                    r.blocks().size(), r.residentCount(), MemoryBudget.format(r.residentBytes()),
                    MemoryBudget.format(loader == LoaderKind.RESIDENT ? 0
                            : r.streamedBytesPerRun()),
                    r.prefetch() ? "yes" : "no", MemoryBudget.format(r.peakWeightBytes()),
                    MemoryBudget.format(r.readingBytes()), MemoryBudget.format(r.activationBytes()),
                    MemoryBudget.format(p.otherSetsBytes()), MemoryBudget.format(p.peakBytes()),
                    p.fits() ? "yes" : "NO"));
        }
        s.append(String.format(Locale.ROOT, "%npeak %s (weights %s, reading up to %s, activations"
                + " up to %s) of %s available: %s%n", MemoryBudget.format(peakBytes()),
                MemoryBudget.format(peakWeightBytes()), MemoryBudget.format(phases.stream()
                        .mapToLong(p -> p.residency().readingBytes()).max().orElse(0)),
                MemoryBudget.format(peakActivationBytes()),
                MemoryBudget.format(budget.availableBytes()),
                fits() ? "fits" : "does NOT fit"));
        for (Phase p : phases) {
            s.append("resident ").append(p.set()).append(": ")
                    .append(describe(p.residency())).append('\n');
        }
        return s.toString();
    }

    private static String describe(SetResidency r) {
        List<BlockInfo> b = r.residentBlocks();
        if (b.isEmpty()) {
            return "none";
        }
        if (b.size() == r.blocks().size()) {
            return "all " + b.size();
        }
        if (b.size() <= 2) {
            return b.stream().map(BlockInfo::name).toList().toString();
        }
        return "[" + b.get(0).name() + ", " + b.get(1).name() + " … " + b.get(b.size() - 1).name()
                + "]";
    }
}

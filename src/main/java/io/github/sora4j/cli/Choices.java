package io.github.sora4j.cli;

import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.Preset;
import io.github.sora4j.device.DeviceProfile;
import io.github.sora4j.device.DeviceProfiles;
import io.github.sora4j.load.LoaderKind;
import io.github.sora4j.merge.TokenMerger;
import io.github.sora4j.merge.TokenMergers;
import io.github.sora4j.schedule.StepScheduler;
import io.github.sora4j.schedule.StepSchedulers;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The command line's option values, parsed once at the edge (each converter's message becomes
 * picocli's {@code Invalid value for option '--x': ...}).
 */
final class Choices {
    private Choices() {}

    /**
     * An LPL setting: {@code off}, {@code fixed}, {@code fixed:N}, {@code dynamic} (sora4j's rule)
     * or {@code dynamic-upstream} (the paper's code's rule).
     *
     * @param mode off, fixed, dynamic or dynamic-upstream
     * @param leapStep the 0-based leap step of {@code fixed}, else -1
     */
    record Lpl(String mode, int leapStep) {
        static final Lpl OFF = new Lpl("off", -1);

        StepScheduler scheduler() {
            return switch (mode) {
                case "fixed" -> StepSchedulers.lplFixed(leapStep);
                case "dynamic" -> StepSchedulers.lplDynamic();
                case "dynamic-upstream" -> StepSchedulers.lplDynamicUpstream();
                default -> StepSchedulers.rectifiedFlow();
            };
        }

        /** Model calls at most, for K steps. */
        int maxCalls(int steps) {
            return mode.equals("fixed") ? Math.min(steps, leapStep + 1) : steps;
        }

        String describe() {
            return switch (mode) {
                case "fixed" -> "LPL fixed (leap at step " + (leapStep + 1) + ")";
                case "dynamic" -> "LPL dynamic (sora4j rule: tolerance 1e-4, whole-velocity cosine,"
                        + " measured from step K/2)";
                case "dynamic-upstream" -> "LPL dynamic-upstream (the paper's code: tolerance 1e-3,"
                        + " cosine of v[0,0,0], measured from step 15)";
                default -> "LPL off";
            };
        }

        /** Whether the run may stop before its planned calls (a dynamic rule). */
        boolean mayEndEarly() {
            return mode.startsWith("dynamic");
        }
    }

    /** Parses {@code --lpl}. */
    static final class LplConverter implements ITypeConverter<Lpl> {
        @Override
        public Lpl convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            if (v.equals("off") || v.equals("none")) {
                return Lpl.OFF;
            }
            if (v.equals("dynamic") || v.equals("dynamic-upstream")) {
                return new Lpl(v, -1);
            }
            if (v.equals("fixed")) {
                return new Lpl("fixed", 15);
            }
            if (v.startsWith("fixed:")) {
                int n = parseInt(v.substring(6), "fixed:N needs a 0-based step N >= 0", value);
                if (n < 0) {
                    throw new TypeConversionException("fixed:N needs a 0-based step N >= 0 but"
                            + " was " + n);
                }
                return new Lpl("fixed", n);
            }
            throw new TypeConversionException("'" + value + "' is not one of off, fixed, fixed:N"
                    + " (0-based leap step, fixed = fixed:15), dynamic, dynamic-upstream");
        }
    }

    /**
     * A TDTM setting: merge frame pairs in the first {@code steps} steps (0: off), with sora4j's
     * odd-T rule or the paper's code's.
     *
     * @param steps merged steps, {@link Integer#MAX_VALUE} for all
     * @param upstreamRule whether to use {@link TokenMergers#tdtmUpstream}
     */
    record Tdtm(int steps, boolean upstreamRule) {
        static final Tdtm OFF = new Tdtm(0);

        Tdtm(int steps) {
            this(steps, false);
        }

        Tdtm withUpstreamRule(boolean upstream) {
            return new Tdtm(steps, upstream);
        }

        TokenMerger merger() {
            return steps == 0 ? TokenMergers.none()
                    : upstreamRule ? TokenMergers.tdtmUpstream(steps) : TokenMergers.tdtm(steps);
        }

        String describe() {
            String rule = upstreamRule ? " (upstream odd-T rule)" : "";
            return steps == 0 ? "TDTM off"
                    : steps == Integer.MAX_VALUE ? "TDTM all steps" + rule
                    : "TDTM first " + steps + " steps" + rule;
        }
    }

    /** Parses {@code --tdtm-rule}: {@code sora4j} or {@code upstream}, any case. */
    static final class TdtmRuleConverter implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            if (v.equals("sora4j") || v.equals("upstream")) {
                return v;
            }
            throw new TypeConversionException("'" + value + "' is not one of sora4j (an odd last"
                    + " latent frame is its own group), upstream (the paper's code: it is dropped"
                    + " and gets the last pair's output)");
        }
    }

    /** Parses {@code --preset}: a {@link Preset} name, any case. */
    static final class PresetConverter implements ITypeConverter<Preset> {
        @Override
        public Preset convert(String value) {
            try {
                return Preset.of(value);
            } catch (InvalidConfigurationException e) {
                throw new TypeConversionException("'" + value + "' is not a preset (presets: "
                        + Preset.names() + ")");
            }
        }
    }

    /** Parses {@code --tdtm-steps}. */
    static final class TdtmConverter implements ITypeConverter<Tdtm> {
        @Override
        public Tdtm convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT);
            if (v.equals("all")) {
                return new Tdtm(Integer.MAX_VALUE);
            }
            if (v.equals("off") || v.equals("none")) {
                return Tdtm.OFF;
            }
            int n = parseInt(v, "expected a step count N >= 0, 'all' or 'off'", value);
            if (n < 0) {
                throw new TypeConversionException("expected a step count N >= 0, 'all' or 'off'"
                        + " but was " + n);
            }
            return new Tdtm(n);
        }
    }

    /** Parses {@code --loader}: a {@link LoaderKind} label, any case. */
    static final class LoaderConverter implements ITypeConverter<LoaderKind> {
        @Override
        public LoaderKind convert(String value) {
            String v = value.trim();
            for (LoaderKind k : LoaderKind.values()) {
                if (k.label().equalsIgnoreCase(v) || k.name().equalsIgnoreCase(v)) {
                    return k;
                }
            }
            throw new TypeConversionException("'" + value + "' is not a block loader; use "
                    + "resident, sequential, ci-dl (or the ablations ci, dl)");
        }
    }

    /** The loader names for help texts and completion. */
    static final class LoaderNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            List<String> names = new ArrayList<>();
            for (LoaderKind k : LoaderKind.values()) {
                names.add(k.label().toLowerCase(Locale.ROOT));
            }
            return names.iterator();
        }
    }

    /** Parses {@code --profile}: a built-in device profile by name. */
    static final class ProfileConverter implements ITypeConverter<DeviceProfile> {
        @Override
        public DeviceProfile convert(String value) {
            try {
                return DeviceProfiles.byName(value.trim());
            } catch (io.github.sora4j.InvalidConfigurationException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** The profile names for help texts and completion. */
    static final class ProfileNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return DeviceProfiles.all().stream().map(DeviceProfile::name).iterator();
        }
    }

    private static final Pattern BYTES = Pattern.compile(
            "(\\d+(?:\\.\\d+)?)\\s*(b|k|kb|m|mb|g|gb|t|tb|kib|mib|gib|tib)?",
            Pattern.CASE_INSENSITIVE);

    /** Parses {@code --budget}: {@code 3.3GB}, {@code 800MB}, {@code 2GiB}, plain bytes. */
    static final class BytesConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return parseBytes(value);
        }
    }

    static long parseBytes(String value) {
        Matcher m = BYTES.matcher(value.trim());
        if (!m.matches()) {
            throw new TypeConversionException("'" + value + "' is not a size; write e.g. 3.3GB,"
                    + " 800MB or 2GiB (GB = 10^9 bytes, GiB = 2^30)");
        }
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        long scale = switch (unit) {
            case "k", "kb" -> 1_000L;
            case "m", "mb" -> 1_000_000L;
            case "g", "gb" -> 1_000_000_000L;
            case "t", "tb" -> 1_000_000_000_000L;
            case "kib" -> 1L << 10;
            case "mib" -> 1L << 20;
            case "gib" -> 1L << 30;
            case "tib" -> 1L << 40;
            default -> 1L;
        };
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(scale));
        if (bytes.signum() <= 0 || bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) >= 0) {
            throw new TypeConversionException("size must be > 0 bytes but was '" + value + "'");
        }
        return bytes.longValue();
    }

    /**
     * A pixel size.
     *
     * @param width width
     * @param height height
     */
    record Size(int width, int height) {
        @Override
        public String toString() {
            return width + "x" + height;
        }
    }

    /** Parses {@code --size}: {@code WIDTHxHEIGHT} or one number for a square. */
    static final class SizeConverter implements ITypeConverter<Size> {
        @Override
        public Size convert(String value) {
            String[] parts = value.trim().toLowerCase(Locale.ROOT).split("[x×*]", -1);
            if (parts.length == 1) {
                int s = parseInt(parts[0], "expected WIDTHxHEIGHT, e.g. 256x256", value);
                return new Size(s, s);
            }
            if (parts.length != 2) {
                throw new TypeConversionException("'" + value + "' is not WIDTHxHEIGHT, e.g."
                        + " 256x256");
            }
            return new Size(parseInt(parts[0], "expected WIDTHxHEIGHT, e.g. 256x256", value),
                    parseInt(parts[1], "expected WIDTHxHEIGHT, e.g. 256x256", value));
        }
    }

    private static int parseInt(String s, String hint, String value) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + value + "': " + hint);
        }
    }
}

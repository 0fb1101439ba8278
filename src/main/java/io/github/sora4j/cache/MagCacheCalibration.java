package io.github.sora4j.cache;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonParseException;
import io.github.sora4j.InvalidConfigurationException;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * A pack's step-cache calibration: per step i ≥ 1 of a full run, the mean ratio {@code
 * mean|r_i| / mean|r_{i−1}|} of consecutive block-stack residuals, as {@code python3 -m
 * sora4j_export.stepcache calibrate --pack DIR} writes it into the pack's {@value #FILE} (listed
 * in the manifest's {@code files}, so it is read through the pack's path confinement and SHA-256
 * checks).
 *
 * @param ratios ratio per calibrated step (index 0 is 1)
 */
public record MagCacheCalibration(double[] ratios) {
    /** The side file in the pack. */
    public static final String FILE = "stepcache.json";
    private static final String FORMAT = "sora4j-stepcache";
    private static final String COMMAND = "PYTHONPATH=src/main/python python3 -m "
            + "sora4j_export.stepcache calibrate --pack DIR";

    /**
     * Validates the ratios.
     *
     * @param ratios ratio per calibrated step (index 0 is 1)
     * @throws InvalidConfigurationException if fewer than 2, or one is not finite and positive
     */
    public MagCacheCalibration {
        if (ratios == null || ratios.length < 2) {
            throw new InvalidConfigurationException("a calibration needs at least 2 steps but has "
                    + (ratios == null ? 0 : ratios.length));
        }
        ratios = ratios.clone();
        for (int i = 0; i < ratios.length; i++) {
            if (!(ratios[i] > 0) || Double.isInfinite(ratios[i])) {
                throw new InvalidConfigurationException("calibration ratio " + i + " must be finite and"
                        + " > 0 but was " + ratios[i]);
            }
        }
    }

    /**
     * The ratios.
     *
     * @return a copy, one per calibrated step (index 0 is 1)
     */
    @Override
    public double[] ratios() {
        return ratios.clone();
    }

    /**
     * Reads a pack's calibration.
     *
     * @param pack the pack
     * @return the calibration
     * @throws ModelPackException if the pack lists no {@value #FILE} (naming the command that makes
     *     it), or the file is changed or malformed
     */
    public static MagCacheCalibration of(ModelPack pack) {
        if (pack.manifest().files().stream().noneMatch(f -> f.file().equals(FILE))) {
            throw new ModelPackException("pack " + pack.manifest().name() + " has no step-cache "
                    + "calibration (" + FILE + "); make one with: " + COMMAND);
        }
        String text = new String(pack.readFile(FILE), StandardCharsets.UTF_8);
        try {
            JsonObject o = JsonParser.parseString(text).getAsJsonObject();
            JsonElement format = o.get("format");
            if (format == null || !FORMAT.equals(format.getAsString())) {
                throw new ModelPackException(FILE + " of pack " + pack.manifest().name()
                        + " has format " + format + ", expected \"" + FORMAT + "\"");
            }
            JsonArray a = o.getAsJsonArray("residualMagnitudeRatios");
            if (a == null) {
                throw new ModelPackException(FILE + " of pack " + pack.manifest().name()
                        + " has no residualMagnitudeRatios; recalibrate with: " + COMMAND);
            }
            double[] r = new double[a.size()];
            for (int i = 0; i < r.length; i++) {
                r[i] = a.get(i).getAsDouble();
            }
            return new MagCacheCalibration(r);
        } catch (JsonParseException | IllegalStateException | UnsupportedOperationException
                | ClassCastException | InvalidConfigurationException e) {
            throw new ModelPackException(FILE + " of pack " + pack.manifest().name()
                    + " is malformed (" + e.getMessage() + "); recalibrate with: " + COMMAND, e);
        }
    }

    /**
     * The ratio at step {@code i} of a {@code steps}-step run: the calibrated one when the step
     * counts agree, else the nearest calibrated step at the same fraction of the run.
     *
     * @param i 0-based step
     * @param steps steps of the run
     * @return the ratio
     */
    public double ratio(int i, int steps) {
        if (steps == ratios.length || steps < 2) {
            return ratios[Math.min(i, ratios.length - 1)];
        }
        int j = (int) Math.round((double) i * (ratios.length - 1) / (steps - 1));
        return ratios[Math.max(1, Math.min(j, ratios.length - 1))];
    }

    /**
     * The MagCache step mask: the first {@code warmup} steps (at least step 0) and every step
     * {@code mustCompute} names compute; after them {@code gamma *= ratio_i}, {@code err +=
     * |1 − gamma|}, and a step is skipped while {@code err < threshold} and fewer than {@code
     * maxSkips} steps in a row were skipped; a computed step resets gamma, err and the run.
     *
     * @param steps steps of the run
     * @param threshold accumulated error allowed
     * @param maxSkips longest run of skipped steps
     * @param warmup first steps that always compute
     * @param mustCompute steps that always compute
     * @return per step, true to compute
     */
    public boolean[] mask(int steps, double threshold, int maxSkips, int warmup,
            IntPredicate mustCompute) {
        boolean[] out = new boolean[steps];
        double gamma = 1;
        double err = 0;
        int skips = 0;
        for (int i = 0; i < steps; i++) {
            if (i < Math.max(1, warmup) || mustCompute.test(i)) {
                out[i] = true;
            } else {
                gamma *= ratio(i, steps);
                err += Math.abs(1 - gamma);
                out[i] = !(err < threshold && skips < maxSkips);
            }
            if (out[i]) {
                gamma = 1;
                err = 0;
                skips = 0;
            } else {
                skips++;
            }
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MagCacheCalibration c && Arrays.equals(ratios, c.ratios);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ratios);
    }

    @Override
    public String toString() {
        return "MagCacheCalibration" + Arrays.toString(ratios);
    }
}

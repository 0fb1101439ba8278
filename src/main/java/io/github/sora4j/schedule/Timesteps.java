package io.github.sora4j.schedule;

import io.github.sora4j.InvalidConfigurationException;
import java.util.Arrays;

/**
 * The timesteps a generation samples at, t'<sub>0</sub> &gt; … &gt; t'<sub>K-1</sub> &gt; 0, in
 * training-timestep units (0..numTimesteps). The built-in schedules hold float32 values (as
 * upstream computes them) in doubles; a float32 rounding may put t'<sub>0</sub> up to {@link
 * #OVERSHOOT} above numTimesteps.
 *
 * @param values the timesteps (copied)
 * @param numTimesteps the training timesteps they are measured in (1000)
 */
public record Timesteps(double[] values, int numTimesteps) {

    /** Relative slack above numTimesteps a timestep may have (float32 rounding of t'<sub>0</sub>). */
    public static final double OVERSHOOT = 1e-6;

    /**
     * Validates and copies.
     *
     * @param values the timesteps (copied)
     * @param numTimesteps the training timesteps they are measured in (1000)
     */
    public Timesteps {
        if (values == null || values.length == 0) {
            throw new InvalidConfigurationException("timesteps must not be empty");
        }
        values = values.clone();
        for (int i = 0; i < values.length; i++) {
            if (!(values[i] > 0) || values[i] > numTimesteps * (1 + OVERSHOOT)) {
                throw new InvalidConfigurationException("timestep " + i + " must be in (0, " + numTimesteps
                        + "] but was " + values[i]);
            }
            if (i > 0 && !(values[i] < values[i - 1])) {
                throw new InvalidConfigurationException("timesteps must decrease but t[" + i + "]="
                        + values[i] + " >= t[" + (i - 1) + "]=" + values[i - 1]);
            }
        }
    }

    /**
     * Number of timesteps K.
     *
     * @return K
     */
    public int count() {
        return values.length;
    }

    /**
     * One timestep.
     *
     * @param i index in 0..K-1
     * @return t'<sub>i</sub>
     */
    public double get(int i) {
        return values[i];
    }

    /**
     * The regular Euler step size at index i: t'<sub>i</sub> − t'<sub>i+1</sub> rounded to float32
     * (upstream subtracts float32 tensors), or t'<sub>K-1</sub> at the last index (the last step
     * goes to t = 0).
     *
     * @param i index in 0..K-1
     * @return the step size in timestep units
     */
    public double eulerDelta(int i) {
        return i < values.length - 1 ? (float) (values[i] - values[i + 1]) : values[i];
    }

    /**
     * The values (a copy).
     *
     * @return the timesteps
     */
    @Override
    public double[] values() {
        return values.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Timesteps t && t.numTimesteps == numTimesteps
                && Arrays.equals(t.values, values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(values) + numTimesteps;
    }

    @Override
    public String toString() {
        return "Timesteps" + Arrays.toString(values);
    }
}

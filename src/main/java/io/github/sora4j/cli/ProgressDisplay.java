package io.github.sora4j.cli;

import io.github.sora4j.ProgressEvent;
import io.github.sora4j.Stage;
import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Shows a generation's progress: a bar redrawn in place with {@code \r} on a terminal, or plain
 * lines (one per stage and per step) when the output is a file or a pipe.
 *
 * <p>The bar line shows the stage, the step {@code x/K} and block {@code j/n}, the time per step
 * and an ETA for the denoising stage from the mean of the last few steps (within the first step,
 * extrapolated from its blocks). When a stage ends its line is left on screen with the stage's
 * time.
 */
final class ProgressDisplay {
    /** How progress is shown. */
    enum Mode {
        /** Redraw one line per stage with {@code \r} (terminals). */
        BAR,
        /** One line per stage and per step (logs, pipes). */
        PLAIN,
        /** Nothing. */
        NONE
    }

    private static final int BAR_WIDTH = 20;
    private static final long REDRAW_NANOS = 50_000_000L;
    private static final int RECENT_STEPS = 5;

    private final PrintWriter out;
    private final Mode mode;
    private final int columns;
    private final LongSupplier clock;
    private final int expectedSteps;
    private final boolean mayEndEarly;
    private final Deque<Long> recentStepNanos = new ArrayDeque<>();

    private Stage stage;
    private long stageStart;
    private long stepStart;
    private int stepsDone;
    private int plannedSteps;
    private int blockIndex = -1;
    private int blockCount;
    private long lastDraw = Long.MIN_VALUE;
    private int lastLength;

    /**
     * Creates a display.
     *
     * @param out where to write
     * @param mode how to show progress
     * @param columns terminal width for the bar
     * @param clock nanosecond clock
     * @param expectedSteps model calls expected (K, or n + 1 for a fixed LPL leap at n)
     * @param mayEndEarly whether the run may stop before {@code expectedSteps} (dynamic LPL), so
     *     the ETA is an upper bound
     */
    ProgressDisplay(PrintWriter out, Mode mode, int columns, LongSupplier clock, int expectedSteps,
            boolean mayEndEarly) {
        this.out = out;
        this.mode = mode;
        this.columns = Math.max(40, columns);
        this.clock = clock;
        this.expectedSteps = expectedSteps;
        this.plannedSteps = expectedSteps;
        this.mayEndEarly = mayEndEarly;
    }

    /**
     * Takes one event.
     *
     * @param event what happened
     */
    void accept(ProgressEvent event) {
        if (mode == Mode.NONE) {
            return;
        }
        long now = clock.getAsLong();
        if (event instanceof ProgressEvent.StageStarted s) {
            endStage(now);
            stage = s.stage();
            stageStart = now;
            stepStart = now;
            blockIndex = -1;
            blockCount = 0;
            if (mode == Mode.PLAIN) {
                out.println(label(stage) + " ...");
                out.flush();
            } else {
                draw(now, true, false);
            }
        } else if (event instanceof ProgressEvent.BlockFinished b) {
            blockIndex = b.index();
            blockCount = b.count();
            if (mode == Mode.BAR) {
                draw(now, false, false);
            }
        } else if (event instanceof ProgressEvent.StepFinished s) {
            stepsDone = s.report().index() + 1;
            plannedSteps = Math.min(expectedSteps, s.stepCount());
            recentStepNanos.addLast(s.report().elapsedNanos());
            if (recentStepNanos.size() > RECENT_STEPS) {
                recentStepNanos.removeFirst();
            }
            stepStart = now;
            blockIndex = -1;
            if (mode == Mode.PLAIN) {
                int digits = Integer.toString(plannedSteps).length();
                out.printf(Locale.ROOT, "  step %" + digits + "d/%d  t=%6.1f  %s  %s%n",
                        stepsDone, plannedSteps, s.report().timestep(),
                        seconds(s.report().elapsedNanos()), eta(now));
                out.flush();
            } else {
                draw(now, true, false);
            }
        }
    }

    /** Ends the display: leaves the last stage's line with its time (bar) and a newline. */
    void finish() {
        if (mode == Mode.BAR) {
            endStage(clock.getAsLong());
        }
        out.flush();
    }

    /**
     * Ends the display with the last stage's own time, as the generation report measured it
     * (the decode, without the writing of the video that followed it before this call).
     *
     * @param lastStageNanos the last stage's duration
     */
    void finish(long lastStageNanos) {
        if (mode == Mode.BAR) {
            endStage(stage != null ? stageStart + lastStageNanos : clock.getAsLong());
        }
        out.flush();
    }

    /** Ends the display of a cancelled run: the bar line is ended as it stands. */
    void abandon() {
        if (mode == Mode.BAR && lastLength > 0) {
            out.println();
            lastLength = 0;
        }
        out.flush();
    }

    private void endStage(long now) {
        if (mode == Mode.BAR && stage != null) {
            draw(now, true, true);
            out.println();
            lastLength = 0;
        }
        stage = null;
    }

    private void draw(long now, boolean force, boolean done) {
        if (!force && now - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = now;
        String line = line(now, done);
        if (line.length() > columns - 1) {
            line = line.substring(0, columns - 1);
        }
        StringBuilder s = new StringBuilder(columns + 2).append('\r').append(line);
        for (int i = line.length(); i < lastLength; i++) {
            s.append(' ');
        }
        lastLength = line.length();
        out.print(s);
        out.flush();
    }

    /**
     * The bar line for the current state.
     *
     * @param now the clock
     * @param done whether the stage has ended
     * @return the line, without {@code \r}
     */
    String line(long now, boolean done) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%-11s ", label(stage)));
        double fraction;
        if (done) {
            fraction = 1;
        } else if (stage == Stage.DENOISE) {
            double inStep = blockCount > 0 ? (blockIndex + 1) / (double) blockCount : 0;
            fraction = plannedSteps > 0 ? (stepsDone + inStep) / plannedSteps : 0;
        } else {
            fraction = blockCount > 0 ? (blockIndex + 1) / (double) blockCount : 0;
        }
        s.append(bar(fraction)).append(' ');
        if (stage == Stage.DENOISE) {
            s.append("step ").append(done ? stepsDone : Math.min(stepsDone + 1, plannedSteps))
                    .append('/').append(plannedSteps);
        }
        if (done) {
            s.append(stage == Stage.DENOISE ? "  " : "").append("done in ")
                    .append(seconds(now - stageStart));
            if (stage == Stage.DENOISE && stepsDone > 0) {
                // The stage's time over its steps, as the summary gives it (the recent steps'
                // mean feeds only the ETA).
                s.append(", ").append(seconds((now - stageStart) / (double) stepsDone))
                        .append(" per step");
            }
            return s.toString();
        }
        if (blockCount > 0 && blockIndex >= 0) {
            s.append(stage == Stage.DENOISE ? "  " : "").append("block ")
                    .append(blockIndex + 1).append('/').append(blockCount);
        }
        if (stage == Stage.DENOISE) {
            s.append("  ").append(eta(now));
        } else {
            s.append("  ").append(clockTime(now - stageStart));
        }
        return s.toString();
    }

    /**
     * The denoising ETA: the mean of the last few step times times the steps left, less the time
     * spent in the current step; within the first step, that step's blocks so far extrapolated.
     */
    private String eta(long now) {
        int left = Math.max(0, plannedSteps - stepsDone);
        if (left == 0) {
            return "ETA 0:00";
        }
        long inStep = now - stepStart;
        double perStep;
        if (!recentStepNanos.isEmpty()) {
            perStep = meanStepNanos();
        } else if (blockCount > 0 && blockIndex >= 0) {
            perStep = inStep * (double) blockCount / (blockIndex + 1);
        } else {
            return "ETA --:--";
        }
        long remaining = (long) Math.max(0, perStep * left - inStep);
        return "ETA " + (mayEndEarly ? "<=" : "") + clockTime(remaining);
    }

    private double meanStepNanos() {
        return recentStepNanos.stream().mapToLong(Long::longValue).average().orElse(0);
    }

    private static String bar(double fraction) {
        int filled = (int) Math.round(Math.max(0, Math.min(1, fraction)) * BAR_WIDTH);
        return "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "]";
    }

    static String label(Stage stage) {
        if (stage == null) {
            return "";
        }
        return switch (stage) {
            case ENCODE_TEXT -> "encode text";
            case DENOISE -> "denoise";
            case DECODE -> "decode";
        };
    }

    /**
     * Seconds with two decimals, e.g. {@code 0.95 s}.
     *
     * @param nanos a duration
     * @return the text
     */
    static String seconds(double nanos) {
        return String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
    }

    /**
     * A clock time, {@code m:ss} or {@code h:mm:ss}.
     *
     * @param nanos a duration
     * @return the text
     */
    static String clockTime(long nanos) {
        long s = Math.round(nanos / 1e9);
        return s >= 3600
                ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}

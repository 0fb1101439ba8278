package io.github.sora4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.ProgressEvent;
import io.github.sora4j.Stage;
import io.github.sora4j.StepReport;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ProgressDisplayTest {
    private long now;
    private final StringWriter text = new StringWriter();

    private ProgressDisplay display(ProgressDisplay.Mode mode, int steps, boolean mayEndEarly) {
        return new ProgressDisplay(new PrintWriter(text), mode, 100, () -> now, steps,
                mayEndEarly);
    }

    private static ProgressEvent block(int index, int count) {
        return new ProgressEvent.BlockFinished(Stage.DENOISE, 0, "stdit.block", index, count, 0);
    }

    private static ProgressEvent step(int index, int planned, long nanos) {
        return new ProgressEvent.StepFinished(
                new StepReport(index, 1000 - index, -1, nanos, false, Double.NaN, false), planned);
    }

    @Test
    void etaInTheFirstStepExtrapolatesItsBlocks() {
        ProgressDisplay d = display(ProgressDisplay.Mode.BAR, 10, false);
        d.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        now = 1_000_000_000L; // 1 s for the first of 4 blocks: 4 s per step, 40 s in all
        d.accept(block(0, 4));
        assertThat(d.line(now, false)).contains("step 1/10  block 1/4  ETA 0:39");
    }

    @Test
    void etaAfterStepsIsTheirMeanTimesTheStepsLeftLessTheCurrentStep() {
        ProgressDisplay d = display(ProgressDisplay.Mode.BAR, 10, false);
        d.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        now = 2_000_000_000L;
        d.accept(step(0, 10, 2_000_000_000L));
        now = 6_000_000_000L;
        d.accept(step(1, 10, 4_000_000_000L)); // mean 3 s, 8 steps left: 24 s
        assertThat(d.line(now, false)).contains("[####", "step 3/10", "ETA 0:24");
        now += 1_000_000_000L;
        d.accept(block(1, 4));
        assertThat(d.line(now, false)).contains("step 3/10  block 2/4  ETA 0:23");
    }

    @Test
    void theFinishedLineGivesTheMeanOfEveryStepNotOnlyOfTheRecentOnes() {
        ProgressDisplay d = display(ProgressDisplay.Mode.BAR, 10, false);
        d.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        for (int i = 0; i < 10; i++) { // the first 5 steps take 3 s, the last 5 take 1 s
            long nanos = i < 5 ? 3_000_000_000L : 1_000_000_000L;
            now += nanos;
            d.accept(step(i, 10, nanos));
        }
        assertThat(d.line(now, true)).contains("done in 20.00 s, 2.00 s per step");
    }

    @Test
    void aFixedLeapShortensThePlanAndDynamicLplMarksTheEtaAsABound() {
        ProgressDisplay fixed = display(ProgressDisplay.Mode.BAR, 16, false);
        fixed.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        fixed.accept(step(0, 30, 1_000_000_000L));
        assertThat(fixed.line(now, false)).contains("step 2/16");
        ProgressDisplay dynamic = display(ProgressDisplay.Mode.BAR, 30, true);
        dynamic.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        dynamic.accept(step(0, 30, 1_000_000_000L));
        assertThat(dynamic.line(now, false)).contains("step 2/30", "ETA <=0:29");
    }

    @Test
    void plainModePrintsAStageLineAndAStepLineWithoutCarriageReturns() {
        ProgressDisplay d = display(ProgressDisplay.Mode.PLAIN, 2, false);
        d.accept(new ProgressEvent.StageStarted(Stage.ENCODE_TEXT));
        d.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        d.accept(block(0, 4));
        now = 500_000_000L;
        d.accept(step(0, 2, 500_000_000L));
        d.finish();
        assertThat(text.toString()).isEqualTo(String.format(
                "encode text ...%ndenoise ...%n  step 1/2  t=1000.0  0.50 s  ETA 0:01%n"));
    }

    @Test
    void theBarLeavesOneFinishedLinePerStage() {
        ProgressDisplay d = display(ProgressDisplay.Mode.BAR, 1, false);
        d.accept(new ProgressEvent.StageStarted(Stage.ENCODE_TEXT));
        now = 250_000_000L;
        d.accept(new ProgressEvent.StageStarted(Stage.DENOISE));
        d.accept(step(0, 1, 1));
        d.accept(new ProgressEvent.StageStarted(Stage.DECODE));
        d.finish();
        // What a terminal shows: each line as it stands after its last carriage return.
        String[] lines = java.util.Arrays.stream(text.toString().split("\n"))
                .map(l -> l.substring(l.lastIndexOf('\r') + 1)).toArray(String[]::new);
        assertThat(lines).hasSize(3);
        assertThat(lines[0]).endsWith("encode text [####################] done in 0.25 s");
        assertThat(lines[1]).contains("denoise     [####################] step 1/1  done in");
        assertThat(lines[2]).contains("decode      [####################] done in");
    }

    @Test
    void theLastBarShowsTheStagesOwnTimeNotTheWritingThatFollowedIt() {
        ProgressDisplay d = display(ProgressDisplay.Mode.BAR, 1, false);
        d.accept(new ProgressEvent.StageStarted(Stage.DECODE));
        now = 3_000_000_000L; // the video was written too before finish() is called
        d.finish(670_000_000L);
        String last = text.toString().substring(text.toString().lastIndexOf('\r') + 1);
        assertThat(last.strip()).endsWith("decode      [####################] done in 0.67 s");
    }

    @Test
    void clockTimesAndSeconds() {
        assertThat(ProgressDisplay.clockTime(59_400_000_000L)).isEqualTo("0:59");
        assertThat(ProgressDisplay.clockTime(61_000_000_000L)).isEqualTo("1:01");
        assertThat(ProgressDisplay.clockTime(3_723_000_000_000L)).isEqualTo("1:02:03");
        assertThat(ProgressDisplay.seconds(1_234_000_000L)).isEqualTo("1.23 s");
    }
}

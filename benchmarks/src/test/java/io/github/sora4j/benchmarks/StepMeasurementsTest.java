package io.github.sora4j.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepMeasurementsTest {

    @Test
    void statusLinesParseAsKilobytesAndOthersAreRejected() {
        assertEquals(123456, ProcessMemory.parseKb("VmHWM:\t  123456 kB"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessMemory.parseKb("Threads:\t12"));
        assertTrue(e.getMessage().contains("Threads"), e.getMessage());
    }

    @Test
    void onLinuxThePeakIsReadableAndAtLeastTheResidentSize() {
        long peak = ProcessMemory.peakBytes();
        if (peak >= 0) {
            ProcessMemory.Sample s = ProcessMemory.begin().finish();
            assertTrue(s.peakBytes() >= s.rssBeforeBytes() || !s.reset(), s.toString());
        }
        assertEquals(-1, ProcessMemory.Sample.UNKNOWN.riseBytes());
    }

    @Test
    void theEagerScriptsLastLineGivesTheStepTimes() {
        EagerStep e = new EagerStep("python3", Path.of("pack"), Path.of("log"));
        e.parse("noise\n{\"eager_s\": [0.5, 0.7], \"torchscript_s\": [0.4], "
                + "\"torch\": \"1.13.0a0\", \"threads\": 1, \"weights_match\": true}\n");
        assertEquals(List.of(0.5, 0.7), e.eager());
        assertEquals(List.of(0.4), e.torchScript());
        assertEquals("1.13.0a0", e.torchVersion());
        assertEquals(Boolean.TRUE, e.weightsMatch());
        assertNull(e.problem());
        assertThrows(IllegalArgumentException.class, () -> e.parse("{\"eager_s\": []}"));
    }

    @Test
    void eagerAndPythonOptionsParse() {
        Ablation.Options o = Ablation.parse(new String[] {"--python", "/opt/py", "--no-eager"});
        assertEquals("/opt/py", o.python());
        assertTrue(!o.eager());
        assertTrue(Ablation.parse(new String[0]).eager());
    }
}

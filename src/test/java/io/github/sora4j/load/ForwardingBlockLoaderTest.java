package io.github.sora4j.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.sora4j.pack.BlockInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForwardingBlockLoaderTest {
    /** Records which methods were called; hands out nothing. */
    private static final class Calls implements BlockLoader {
        final List<String> calls = new ArrayList<>();

        @Override
        public void beginGeneration(ActivationPeaks peaks) {
            calls.add("beginGeneration");
        }

        @Override
        public void beginSet(List<BlockInfo> blocks) {
            calls.add("beginSet " + blocks.size());
        }

        @Override
        public LoadedBlock acquire(BlockInfo block) {
            calls.add("acquire");
            return null;
        }

        @Override
        public LoaderStats stats() {
            calls.add("stats");
            return null;
        }

        @Override
        public void close() {
            calls.add("close");
        }
    }

    @Test
    void everyCallReachesTheDelegateUnlessOverridden() {
        Calls inner = new Calls();
        BlockLoader plain = new ForwardingBlockLoader(inner) {};
        plain.beginGeneration(ActivationPeaks.NONE);
        plain.beginSet(List.of());
        plain.acquire(null);
        plain.stats();
        plain.close();
        assertThat(inner.calls).containsExactly("beginGeneration", "beginSet 0", "acquire", "stats",
                "close");

        Calls shared = new Calls();
        BlockLoader unclosed = new ForwardingBlockLoader(shared) {
            @Override
            public void close() {}
        };
        unclosed.close();
        assertThat(shared.calls).isEmpty();
    }
}

package io.github.sora4j.soak;

import io.github.sora4j.GenerationRequest;
import io.github.sora4j.GenerationResult;
import io.github.sora4j.PipelineClosedException;
import io.github.sora4j.ProgressListener;
import io.github.sora4j.VideoPipeline;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.BlockLoaders;
import io.github.sora4j.load.ForwardingBlockLoader;
import io.github.sora4j.pack.ModelPack;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;

/**
 * Races {@link VideoPipeline#close()} against {@code validate}, {@code generate} and {@code
 * generateAsync} on other threads, N times; run in its own JVM by {@link CloseRaceTest} so that a
 * native crash fails the test instead of killing the test runner. Each racing thread calls its
 * method in a loop until the pipeline refuses; the only acceptable ends are a {@link
 * PipelineClosedException} or, for a future, its cancellation. Prints {@code OK <n>} and exits 0,
 * or prints every unexpected outcome and exits 1.
 */
public final class CloseRace {
    private CloseRace() {}

    /**
     * Runs the races.
     *
     * @param args iterations, and a seed
     * @throws Exception if the harness itself fails
     */
    public static void main(String[] args) throws Exception {
        int iterations = Integer.parseInt(args[0]);
        Random random = new Random(args.length > 1 ? Long.parseLong(args[1]) : 1);
        ModelPack pack = ModelPack.embedded("tiny-random");
        BlockLoader shared = BlockLoaders.resident(pack);
        GenerationRequest request = GenerationRequest.builder("a red circle moving left")
                .frames(9).size(32, 32).steps(2).seed(3).build();
        ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        long start = System.nanoTime();
        long slowest = 0;
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            // Most races share one resident loader (fast); every tenth owns and frees its own.
            boolean own = i % 10 == 0;
            VideoPipeline p = VideoPipeline.builder().pack(pack).blockLoader(x -> own
                    ? BlockLoaders.resident(x) : new ForwardingBlockLoader(shared) {
                        @Override
                        public void close() {}
                    }).build();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            threads.add(racer("validate", go, problems, () -> p.validate(request)));
            threads.add(racer("generate", go, problems,
                    () -> p.generate(request, ProgressListener.NONE)));
            threads.add(racer("generateAsync", go, problems, () -> {
                CompletableFuture<GenerationResult> f =
                        p.generateAsync(request, ProgressListener.NONE);
                try {
                    f.get();
                } catch (ExecutionException e) {
                    throw e.getCause();
                }
            }));
            threads.forEach(Thread::start);
            go.countDown();
            int delay = random.nextInt(40);
            if (delay >= 20) {
                Thread.sleep(delay - 20);
            } else {
                for (long spin = 0, n = delay * 20_000L; spin < n; spin++) {
                    Thread.onSpinWait();
                }
            }
            p.close();
            for (Thread t : threads) {
                t.join(60_000);
                if (t.isAlive()) {
                    problems.add("iteration " + i + ": " + t.getName() + " still running 60 s "
                            + "after close()");
                }
            }
            slowest = Math.max(slowest, System.nanoTime() - t0);
        }
        shared.close();
        if (!problems.isEmpty()) {
            problems.forEach(System.out::println);
            System.exit(1);
        }
        System.out.printf("OK %d races in %.1f s, the slowest %.0f ms%n", iterations,
                (System.nanoTime() - start) / 1e9, slowest / 1e6);
        System.exit(0);
    }

    /** A call the racer repeats until the pipeline refuses. */
    private interface Call {
        void run() throws Throwable;
    }

    private static Thread racer(String name, CountDownLatch go,
            ConcurrentLinkedQueue<String> problems, Call call) {
        Thread t = new Thread(() -> {
            try {
                go.await();
                for (int n = 0; n < 10_000; n++) {
                    call.run();
                }
                problems.add(name + ": never refused after close()");
            } catch (PipelineClosedException | CancellationException expected) {
                // the pipeline was closed under this thread: the documented end
            } catch (Throwable t2) {
                java.io.StringWriter w = new java.io.StringWriter();
                t2.printStackTrace(new java.io.PrintWriter(w));
                problems.add(name + ": unexpected " + w);
            }
        }, "race-" + name);
        t.setDaemon(true);
        return t;
    }
}

package io.github.sora4j.examples.kotlin

import io.github.sora4j.GenerationRequest
import io.github.sora4j.GenerationResult
import io.github.sora4j.ProgressEvent
import io.github.sora4j.VideoPipeline
import io.github.sora4j.pack.ModelPack
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking

/**
 * Cancelling a coroutine stops the generation it is waiting for: a generation starts in a child
 * coroutine (say, a screen's scope), the user leaves after the first step, the scope cancels the
 * coroutine, and the pipeline stops at the next block boundary instead of running the other
 * steps. The same pipeline then serves the next request.
 *
 * ```
 * mvn -q test-compile exec:java -Dexec.mainClass=io.github.sora4j.examples.kotlin.CoroutineCancellation
 * ```
 *
 * See docs/examples/kotlin.md.
 */
object CoroutineCancellation {
    /**
     * What happened.
     *
     * @property stepsRun steps of the cancelled generation that finished before it stopped
     *     (usually 1: the step in flight stops at its next block)
     * @property plannedSteps steps it would have run
     * @property next the generation that ran after it on the same pipeline
     */
    data class Outcome(val stepsRun: Int, val plannedSteps: Int, val next: GenerationResult)

    @JvmStatic
    fun main(args: Array<String>) {
        val request = GenerationRequest.builder("a red circle moving left")
            .steps(30).build() // the pack's frames and size
        val outcome = run(ModelPack.embeddedDefault(), request)
        println("cancelled after ${outcome.stepsRun} of ${outcome.plannedSteps} steps; " +
            "the next generation ran ${outcome.next.report().modelCalls()} steps")
    }

    /** Starts [request], cancels its coroutine after the first step, then generates again. */
    @JvmStatic
    fun run(pack: ModelPack, request: GenerationRequest): Outcome = runBlocking {
        VideoPipeline.builder().pack(pack).build().use { pipeline ->
            val stepsRun = AtomicInteger()
            val firstStep = CompletableDeferred<Unit>()
            // 1. Start a generation in a child coroutine.
            val job = launch(Dispatchers.Default) {
                pipeline.generateSuspending(request) { event ->
                    if (event is ProgressEvent.StepFinished) {
                        stepsRun.incrementAndGet()
                        firstStep.complete(Unit)
                    }
                    true
                }
            }
            // 2. After the first step, cancel the coroutine: the pipeline stops at its next block.
            firstStep.await()
            job.cancelAndJoin()
            // 3. The pipeline runs one generation at a time, so this one starts once the
            //    cancelled one has stopped and freed its memory.
            val next = pipeline.generateSuspending(request.toBuilder().steps(2).build())
            Outcome(stepsRun.get(), request.steps(), next)
        }
    }
}

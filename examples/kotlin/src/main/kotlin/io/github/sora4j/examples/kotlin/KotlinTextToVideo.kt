package io.github.sora4j.examples.kotlin

import io.github.sora4j.GenerationRequest
import io.github.sora4j.GenerationResult
import io.github.sora4j.ProgressEvent
import io.github.sora4j.VideoPipeline
import io.github.sora4j.pack.ModelPack
import io.github.sora4j.video.VideoWriter
import java.nio.file.Path
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext

/**
 * Generates a video from Kotlin: a builder, a progress listener written as a lambda with an
 * exhaustive `when` over the sealed [ProgressEvent], a suspend call, and writing the video on
 * the IO dispatcher.
 *
 * ```
 * mvn -q test-compile exec:java -Dexec.mainClass=io.github.sora4j.examples.kotlin.KotlinTextToVideo \
 *     -Dexec.args="'a red circle moving left' out.mp4"
 * ```
 *
 * See docs/examples/kotlin.md.
 */
object KotlinTextToVideo {
    @JvmStatic
    fun main(args: Array<String>) {
        val prompt = args.getOrElse(0) { "a red circle moving left" }
        val output = Path.of(args.getOrElse(1) { "kotlin-text-to-video.mp4" })
        // frames, size and fps unset: the pack's native request (the demo pack's 51 frames at 64x64)
        val request = GenerationRequest.builder(prompt).steps(30).build()
        val result = run(ModelPack.embeddedDefault(), request, output) { println(it) }
        println("wrote $output in ${"%.2f".format(result.report().totalNanos() / 1e9)} s")
    }

    /** Generates [request] with [pack], reports progress to [log] and writes the video to [output]. */
    @JvmStatic
    fun run(
        pack: ModelPack,
        request: GenerationRequest,
        output: Path,
        log: (String) -> Unit,
    ): GenerationResult = runBlocking {
        VideoPipeline.builder().pack(pack).build().use { pipeline ->
            val result = pipeline.generateSuspending(request) { event ->
                when (event) {
                    is ProgressEvent.StageStarted -> log("${event.stage()} started")
                    is ProgressEvent.StepFinished ->
                        log("step ${event.report().index() + 1}/${event.stepCount()}")
                    is ProgressEvent.BlockFinished -> Unit
                }
                true // false would cancel at the next block
            }
            withContext(Dispatchers.IO) {
                VideoWriter.write(result.frames(), output, pipeline.resolve(request).fps())
            }
            result
        }
    }
}

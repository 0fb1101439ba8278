package io.github.sora4j.examples.kotlin

import io.github.sora4j.GenerationRequest
import io.github.sora4j.GenerationResult
import io.github.sora4j.ProgressListener
import io.github.sora4j.VideoPipeline
import kotlinx.coroutines.future.await

/**
 * Generates a video without blocking the calling coroutine: the work runs on the pipeline's own
 * thread, and this call suspends until it is done.
 *
 * Cancelling the calling coroutine cancels the generation: `await()` cancels the
 * [java.util.concurrent.CompletableFuture] that [VideoPipeline.generateAsync] returned, and the
 * pipeline stops at the next block boundary, frees that run's memory and returns; the pipeline
 * stays usable. The [listener] runs on the pipeline's thread.
 */
suspend fun VideoPipeline.generateSuspending(
    request: GenerationRequest,
    listener: ProgressListener = ProgressListener.NONE,
): GenerationResult = generateAsync(request, listener).await()

/**
 * sora4j: text-to-video generation with Open-Sora v1.2 on memory-limited devices. Start with
 * {@link io.github.sora4j.VideoPipeline}.
 */
package io.github.sora4j;

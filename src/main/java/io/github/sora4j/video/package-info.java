/**
 * Video output: {@link io.github.sora4j.video.VideoFrames} (8-bit RGB frames, converted from the
 * VAE decoder's {@code [-1, 1]} floats exactly as Open-Sora's {@code save_sample}) and {@link
 * io.github.sora4j.video.VideoWriter}, which writes MP4 (H.264 via JCodec), animated GIF or PNG
 * frames, always atomically.
 */
package io.github.sora4j.video;

/**
 * Random numbers that reproduce PyTorch's exactly.
 *
 * <p>{@link io.github.sora4j.random.TorchGenerator} is a per-instance copy of torch's CPU generator (MT19937 seeded as
 * by {@code torch.manual_seed}) whose {@code randn} returns the same float32 bits as
 * {@code torch.manual_seed(seed); torch.randn(shape)} on the CPU, so initial noise latents can be made in Java without
 * a native engine and still equal those of the Python reference pipeline. The reference vectors it is tested against
 * are written by {@code src/test/python/gen_rng_vectors.py}.
 */
package io.github.sora4j.random;

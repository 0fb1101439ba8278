/**
 * Cost models of a generation, without running it: {@link io.github.sora4j.plan.FlopModel} counts
 * the FLOPs of each stage and the parameters of each block for an {@link
 * io.github.sora4j.plan.Architecture} and a request (what LPL and TDTM save), and {@link
 * io.github.sora4j.plan.LoadOverlap} predicts the wall time of streamed blocks with and without
 * concurrent loading (what CI-DL saves). docs/benchmarks.md checks both against the paper and
 * against measurements.
 */
package io.github.sora4j.plan;

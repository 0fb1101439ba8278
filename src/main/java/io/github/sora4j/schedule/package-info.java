/**
 * Step scheduling: the rectified-flow timestep schedule and the {@link
 * io.github.sora4j.schedule.StepScheduler} strategy (full Euler; LPL plugs in here).
 */
package io.github.sora4j.schedule;

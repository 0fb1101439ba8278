/**
 * Device profiles and memory plans: {@link io.github.sora4j.device.DeviceProfile} names a class of
 * device (memory budget, threads, weight precision, default techniques), {@link
 * io.github.sora4j.device.DeviceProfiles} holds the built-in ones, and {@link
 * io.github.sora4j.device.MemoryPlan} predicts, without loading anything, what a pack needs on a
 * profile for a request (see docs/memory.md).
 */
package io.github.sora4j.device;

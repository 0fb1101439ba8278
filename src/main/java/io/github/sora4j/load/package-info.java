/**
 * Block loading: the {@link io.github.sora4j.load.BlockLoader} strategy that decides when model
 * blocks are read from disk and how long they stay in memory (resident; CI-DL plugs in here).
 */
package io.github.sora4j.load;

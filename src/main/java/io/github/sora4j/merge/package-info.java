/**
 * Token merging along time: the {@link io.github.sora4j.merge.TokenMerger} strategy (no merging;
 * TDTM plugs in here).
 */
package io.github.sora4j.merge;

/**
 * Model packs: a directory of TorchScript blocks plus {@code manifest.json}, the unit sora4j loads
 * (see docs/model-pack.md).
 */
package io.github.sora4j.pack;

/** Implementation details of the pipeline; not a public API, may change without notice. */
package io.github.sora4j.internal;

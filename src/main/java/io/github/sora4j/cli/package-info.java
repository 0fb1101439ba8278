/** The {@code sora4j} command line (needs picocli on the class path). */
package io.github.sora4j.cli;

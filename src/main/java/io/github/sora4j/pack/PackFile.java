package io.github.sora4j.pack;

/**
 * A non-block file of a model pack (tokenizer, null embedding), with its integrity data.
 *
 * @param file path relative to the pack directory
 * @param bytes size in bytes
 * @param sha256 lower-case hex SHA-256
 */
public record PackFile(String file, long bytes, String sha256) {}

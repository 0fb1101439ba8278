package io.github.sora4j.pack;

/**
 * One block of a model pack, as listed in {@code manifest.json}: the unit a {@link
 * io.github.sora4j.load.BlockLoader} loads and frees.
 *
 * @param name unique dotted name, e.g. {@code stdit.block.03}
 * @param set the block set it belongs to ({@code t5}, {@code stdit} or {@code vae})
 * @param role what the block computes, e.g. {@code stdit-block} (see docs/model-pack.md)
 * @param order position among the blocks of the same role, from 0
 * @param file path of the TorchScript file, relative to the pack directory
 * @param bytes size of the file in bytes
 * @param parameterBytes bytes of parameters and buffers once loaded (what it costs resident)
 * @param dtype stored weight dtype, e.g. {@code float32}
 * @param sha256 lower-case hex SHA-256 of the file
 */
public record BlockInfo(
        String name,
        String set,
        String role,
        int order,
        String file,
        long bytes,
        long parameterBytes,
        String dtype,
        String sha256) {

    /**
     * Validates the fields that later code relies on.
     *
     * @param name unique dotted name, e.g. {@code stdit.block.03}
     * @param set the block set it belongs to ({@code t5}, {@code stdit} or {@code vae})
     * @param role what the block computes, e.g. {@code stdit-block} (see docs/model-pack.md)
     * @param order position among the blocks of the same role, from 0
     * @param file path of the TorchScript file, relative to the pack directory
     * @param bytes size of the file in bytes
     * @param parameterBytes bytes of parameters and buffers once loaded (what it costs resident)
     * @param dtype stored weight dtype, e.g. {@code float32}
     * @param sha256 lower-case hex SHA-256 of the file
     */
    public BlockInfo {
        if (name == null || name.isBlank()) {
            throw new ModelPackException("manifest block without a name: file=" + file);
        }
        PackPaths.checkForm("block " + name + " file", file);
        if (bytes <= 0 || parameterBytes < 0) {
            throw new ModelPackException("manifest block " + name + " has bytes " + bytes
                    + " and parameterBytes " + parameterBytes + "; allowed: bytes 1 or more,"
                    + " parameterBytes 0 or more");
        }
        if (role == null || !PackManifest.ROLES.contains(role)) {
            throw new ModelPackException("manifest block " + name + " has an unknown role: " + role
                    + "; allowed: " + PackManifest.ROLES);
        }
        if (sha256 == null || !sha256.matches("[0-9a-f]{64}")) {
            throw new ModelPackException("manifest block " + name + " has a bad sha256: " + sha256
                    + "; allowed: 64 lower-case hex digits");
        }
    }
}

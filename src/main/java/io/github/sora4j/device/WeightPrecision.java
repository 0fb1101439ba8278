package io.github.sora4j.device;

/**
 * The weight precision a device profile prefers for its model pack: which exporter options make
 * the pack (see docs/model-pack.md). The pipeline runs whatever pack it is given; the preference
 * tells which pack to export and install for the device.
 */
public enum WeightPrecision {
    /** Every block float32 (24.74 GB for Open-Sora v1.2). */
    FLOAT32("float32", ""),
    /** float32 with int8 T5 blocks, as On-device Sora runs (10.85 GB). */
    FLOAT32_T5_INT8("float32 + T5 int8", "--t5-int8"),
    /** Every block float16 (12.37 GB; needs float16 kernels, see docs/model-pack.md). */
    FLOAT16("float16", "--dtype float16"),
    /** float16 with int8 T5 blocks (7.74 GB). */
    FLOAT16_T5_INT8("float16 + T5 int8", "--dtype float16 --t5-int8");

    private final String label;
    private final String exportOptions;

    WeightPrecision(String label, String exportOptions) {
        this.label = label;
        this.exportOptions = exportOptions;
    }

    /**
     * A readable name, e.g. {@code float32 + T5 int8}.
     *
     * @return the label
     */
    public String label() {
        return label;
    }

    /**
     * The {@code sora4j_export export} options that make such a pack (empty for float32).
     *
     * @return the options
     */
    public String exportOptions() {
        return exportOptions;
    }
}

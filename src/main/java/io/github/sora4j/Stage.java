package io.github.sora4j;

/** The stages of a generation, in order. */
public enum Stage {
    /** Tokenise the prompt and run the T5 encoder blocks. */
    ENCODE_TEXT,
    /** Run the STDiT3 denoiser for each sampling step. */
    DENOISE,
    /** Run the VAE decoder blocks to pixels. */
    DECODE
}

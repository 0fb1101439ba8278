package io.github.sora4j;

/**
 * A NaN or infinity appeared in a generation's numbers (the text embedding, a latent after a step,
 * the decoded frames): the model or the pack is broken, or a request value drove it out of range.
 * The generation stops there and writes nothing; the message names the stage and the step.
 */
public final class NonFiniteValueException extends Sora4jException {
    private static final long serialVersionUID = 1L;

    /** The stage whose output was not finite. */
    private final Stage stage;
    /** The denoising step, or -1. */
    private final int step;

    /**
     * Creates an exception.
     *
     * @param stage the stage whose output was not finite
     * @param step the denoising step (0-based), or -1 outside the denoising loop
     * @param message what was found where
     */
    public NonFiniteValueException(Stage stage, int step, String message) {
        super(message);
        this.stage = stage;
        this.step = step;
    }

    /**
     * The stage whose output was not finite.
     *
     * @return the stage
     */
    public Stage stage() {
        return stage;
    }

    /**
     * The denoising step whose latent was not finite.
     *
     * @return the 0-based step, or -1 for the text embedding and the decoded frames
     */
    public int step() {
        return step;
    }
}

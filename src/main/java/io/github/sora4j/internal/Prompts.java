package io.github.sora4j.internal;

import java.util.Locale;

/** Prompt preparation shared by the pipeline and the exporter's reference (tokenizer.py). */
public final class Prompts {
    private Prompts() {}

    /**
     * The subset of upstream's {@code clean_caption} sora4j applies: trim, collapse whitespace runs
     * to one space, lower-case (locale-independent).
     *
     * @param prompt raw prompt
     * @return cleaned prompt
     */
    public static String clean(String prompt) {
        return prompt.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
    }

    /**
     * Appends Open-Sora's aesthetic-score suffix.
     *
     * @param prompt cleaned prompt
     * @param score the score, or NaN for no suffix
     * @return {@code prompt + " aesthetic score: 6.5."} (one decimal)
     */
    public static String withAestheticScore(String prompt, double score) {
        if (Double.isNaN(score)) {
            return prompt;
        }
        return prompt + " aesthetic score: "
                + new java.math.BigDecimal(score).setScale(1, java.math.RoundingMode.HALF_EVEN)
                        .toPlainString() + ".";
    }
}

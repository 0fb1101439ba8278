package io.github.sora4j.internal;

import java.util.Locale;

/**
 * Prompt preparation. The pipeline uses {@link #prepare}: upstream's order and cleaning (append
 * the aesthetic score, then Open-Sora's {@code clean_caption} twice, {@link CaptionCleaner}).
 * {@link #clean} is the subset the exporter's Python reference (tokenizer.py) applies; both give
 * the same text for plain prompts (words, spaces, case).
 */
public final class Prompts {
    private Prompts() {}

    /**
     * The text the T5 encoder sees, as the paper's code prepares it ({@code inference.py}:
     * {@code append_score_to_prompts}, then {@code text_preprocessing}).
     *
     * @param prompt raw prompt
     * @param aestheticScore the score, or NaN for no suffix
     * @return the prepared text
     */
    public static String prepare(String prompt, double aestheticScore) {
        return CaptionCleaner.textPreprocessing(withAestheticScore(prompt, aestheticScore));
    }

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
     * Appends Open-Sora's aesthetic-score suffix, unless the prompt already has one (upstream's
     * {@code append_score_to_prompts}).
     *
     * @param prompt the prompt
     * @param score the score, or NaN for no suffix
     * @return {@code prompt + " aesthetic score: 6.5."} (one decimal)
     */
    public static String withAestheticScore(String prompt, double score) {
        if (Double.isNaN(score) || prompt.contains("aesthetic score:")) {
            return prompt;
        }
        return prompt + " aesthetic score: "
                + new java.math.BigDecimal(score).setScale(1, java.math.RoundingMode.HALF_EVEN)
                        .toPlainString() + ".";
    }
}

package io.github.sora4j.internal;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.sora4j.InvalidRequestException;
import io.github.sora4j.load.BlockLoader;
import io.github.sora4j.load.LoadedBlock;
import io.github.sora4j.pack.BlockInfo;
import io.github.sora4j.pack.ModelPack;
import io.github.sora4j.pack.ModelPackException;
import io.github.sora4j.pack.PackManifest;
import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Tokenises prompts and runs the T5 encoder blocks. Owns the native tokenizer. */
public final class TextEncoder implements AutoCloseable {
    private static final int EXCERPT_TOKENS = 12;
    private static final int EXCERPT_CHARS = 80;

    /** The unknown token of T5's tokenizers (Open-Sora's and the project's word-level one). */
    public static final String UNKNOWN_TOKEN = "<unk>";
    /** How the tokenizers split words: the Hugging Face {@code Whitespace} pre-tokenizer's rule. */
    private static final Pattern WORD = Pattern.compile("\\w+|[^\\w\\s]+",
            Pattern.UNICODE_CHARACTER_CLASS);
    private final HuggingFaceTokenizer tokenizer;
    private final Set<String> vocabulary;
    private final PackManifest.Text config;
    private final List<BlockInfo> blocks;

    /**
     * A tokenised prompt.
     *
     * @param text the text that was tokenised (cleaned, with suffix)
     * @param ids token ids padded to the model max length
     * @param mask 1 for tokens (including {@code </s>}), 0 for padding
     * @param length valid tokens L
     */
    public record Tokens(String text, long[] ids, long[] mask, int length) {}

    /**
     * Opens the pack's tokenizer.
     *
     * @param pack the pack
     */
    public TextEncoder(ModelPack pack) {
        this.config = pack.manifest().text();
        this.blocks = pack.manifest().blocks("t5");
        this.vocabulary = config.vocabulary() == null ? null : Set.copyOf(config.vocabulary());
        try {
            this.tokenizer = HuggingFaceTokenizer.newInstance(pack.resolve(config.tokenizer()),
                    Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw new ModelPackException("cannot load tokenizer " + pack.resolve(config.tokenizer())
                    + ": " + e.getMessage(), e);
        }
    }

    /**
     * Tokenises a prepared prompt (no work on the model).
     *
     * @param text the prompt after {@link Prompts#clean} and the aesthetic suffix
     * @return ids and mask padded to the model max length
     * @throws InvalidRequestException if the prompt is longer than the model takes, with the
     *     lengths and the start of what would be cut
     */
    public Tokens tokenize(String text) {
        Encoding enc = tokenizer.encode(text);
        long[] raw = enc.getIds();
        int max = config.modelMaxLength();
        if (raw.length > max) {
            throw new InvalidRequestException(tooLong(text, raw, max));
        }
        long[] ids = new long[max];
        long[] mask = new long[max];
        Arrays.fill(ids, config.padTokenId());
        System.arraycopy(raw, 0, ids, 0, raw.length);
        Arrays.fill(mask, 0, raw.length, 1);
        return new Tokens(text, ids, mask, raw.length);
    }

    /**
     * A short message for an over-long prompt: the lengths, the limit and an excerpt of the part
     * that would be lost (never the whole text: a prompt can be megabytes).
     */
    private String tooLong(String text, long[] raw, int max) {
        String lost = tokenizer.decode(Arrays.copyOfRange(raw, max - 1,
                Math.min(raw.length - 1, max - 1 + EXCERPT_TOKENS)));
        if (lost.length() > EXCERPT_CHARS) {
            lost = lost.substring(0, EXCERPT_CHARS);
        }
        return "prompt is " + raw.length + " tokens (with </s>; " + text.length()
                + " characters), the model takes " + max + "; it would lose the last "
                + (raw.length - max) + " tokens, starting '" + lost.strip()
                + (raw.length - 1 > max - 1 + EXCERPT_TOKENS ? " …'" : "'")
                + ": shorten the prompt";
    }

    /**
     * The words of a prompt the model does not know: those the tokenizer maps to {@value
     * #UNKNOWN_TOKEN}, and, when the pack declares the vocabulary it was trained on, those outside
     * it. Words are split as the tokenizer splits them (runs of letters and digits, runs of
     * punctuation).
     *
     * @param cleaned the prompt after {@link Prompts#clean}, without the aesthetic suffix
     * @return the unknown words, each once, in prompt order (empty if none)
     */
    public List<String> unknownWords(String cleaned) {
        Set<String> unknown = new LinkedHashSet<>();
        Encoding enc = tokenizer.encode(cleaned);
        String[] tokens = enc.getTokens();
        var spans = enc.getCharTokenSpans();
        for (int i = 0; i < tokens.length; i++) {
            if (UNKNOWN_TOKEN.equals(tokens[i]) && spans != null && i < spans.length
                    && spans[i] != null && spans[i].getEnd() > spans[i].getStart()
                    && spans[i].getEnd() <= cleaned.length()) {
                unknown.add(cleaned.substring(spans[i].getStart(), spans[i].getEnd()));
            }
        }
        if (vocabulary != null) {
            Matcher m = WORD.matcher(cleaned);
            while (m.find()) {
                if (!vocabulary.contains(m.group())) {
                    unknown.add(m.group());
                }
            }
        }
        if (unknown.isEmpty()) {
            return List.of();
        }
        // In prompt order, whichever rule found a word.
        Matcher m = WORD.matcher(cleaned);
        Set<String> ordered = new LinkedHashSet<>();
        while (m.find()) {
            if (unknown.contains(m.group())) {
                ordered.add(m.group());
            }
        }
        ordered.addAll(unknown);
        return List.copyOf(ordered);
    }

    /**
     * Runs T5 on tokens.
     *
     * @param tokens the tokenised prompt
     * @param loader loads the T5 blocks
     * @param out manager of the result
     * @param afterBlock called after each block with its index (for progress and cancellation)
     * @return the embedding rows of the valid tokens, [1, L, D]
     */
    public NDArray encode(Tokens tokens, BlockLoader loader, NDManager out,
            BlockCallback afterBlock) {
        loader.beginSet(blocks);
        try (NDManager work = out.newSubManager()) {
            int max = config.modelMaxLength();
            NDArray ids = work.create(tokens.ids(), new Shape(1, max));
            NDArray mask = work.create(tokens.mask(), new Shape(1, max));
            NDList state = new NDList(ids);
            for (int i = 0; i < blocks.size(); i++) {
                BlockInfo info = blocks.get(i);
                long start = System.nanoTime();
                try (LoadedBlock block = loader.acquire(info)) {
                    state = switch (info.role()) {
                        case "t5-embed", "t5-final-norm" -> block.forward(work, state.head());
                        case "t5-block" -> block.forward(work, state.get(0),
                                state.size() > 1 ? state.get(1) : mask);
                        default -> throw new ModelPackException(
                                "unexpected role " + info.role() + " in the t5 set: " + info.name());
                    };
                }
                afterBlock.done(i, blocks.size(), info, System.nanoTime() - start);
            }
            NDArray rows = state.head().get(new NDIndex(":, 0:{}", tokens.length()));
            NDArray result = rows.duplicate();
            result.attach(out);
            return result;
        }
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}

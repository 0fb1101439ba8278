package io.github.sora4j;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exporter's {@code spiece.model} conversion (sora4j_export/tokenizer.py, no transformers)
 * gives a tokenizer.json that DJL's tokenizer reads exactly like the real T5 tokenizer.json: a
 * SentencePiece model is built from the reference's pieces, scores and normaliser (the reference,
 * in ../shared/t5, is not committed), the exporter converts that model alone, and both files must
 * give the same ids for every prompt of {@code tokenizer/t5-prompts.txt}. Needs the shared
 * directory and Python 3 ({@code sora4j.python}, default /usr/bin/python3); skipped without them.
 */
class T5TokenizerConversionTest {

    private static final String CONVERT = String.join("\n",
            "import json, sys",
            "from pathlib import Path",
            "from sora4j_export.spm import encode_model, model_from_tokenizer_json",
            "from sora4j_export.tokenizer import write_t5_tokenizer_json",
            "ref = json.loads(Path(sys.argv[1]).read_text(encoding='utf-8'))",
            "out = Path(sys.argv[2])",
            "(out / 'spiece.model').write_bytes(encode_model(model_from_tokenizer_json(ref)))",
            "del ref",
            "write_t5_tokenizer_json(out / 'spiece.model', out / 'tokenizer.json')");

    @Test
    void aTokenizerJsonConvertedFromSpieceModelGivesTheReferenceIdsForEveryPrompt(
            @TempDir Path dir) throws Exception {
        String shared = System.getProperty("sora4j.sharedDir");
        Assumptions.assumeTrue(shared != null, "sora4j.sharedDir is not set");
        Path reference = Path.of(shared, "t5", "tokenizer.json");
        Assumptions.assumeTrue(Files.isRegularFile(reference), "no real T5 tokenizer at " + reference);
        Path python = Path.of(System.getProperty("sora4j.python", "/usr/bin/python3"));
        Assumptions.assumeTrue(Files.isExecutable(python), "no Python at " + python);

        ProcessBuilder pb = new ProcessBuilder(python.toString(), "-c", CONVERT,
                reference.toString(), dir.toString()).redirectErrorStream(true);
        pb.environment().put("PYTHONPATH", Path.of("src", "main", "python").toAbsolutePath()
                .toString());
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("conversion finished").isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        Path converted = dir.resolve("tokenizer.json");
        assertThat(Files.size(dir.resolve("spiece.model"))).isGreaterThan(500_000L);

        List<String> prompts = prompts();
        assertThat(prompts).hasSizeGreaterThanOrEqualTo(50);
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false",
                "padding", "false");
        try (HuggingFaceTokenizer ref = HuggingFaceTokenizer.newInstance(reference, options);
                HuggingFaceTokenizer ours = HuggingFaceTokenizer.newInstance(converted, options)) {
            int nonAscii = 0;
            for (String prompt : prompts) {
                Encoding want = ref.encode(prompt);
                Encoding got = ours.encode(prompt);
                assertThat(got.getIds()).as(prompt).containsExactly(want.getIds());
                assertThat(got.getTokens()).as(prompt).containsExactly(want.getTokens());
                assertThat(want.getIds()[want.getIds().length - 1]).as("ends with </s>")
                        .isEqualTo(1L);
                if (!StandardCharsets.US_ASCII.newEncoder().canEncode(prompt)) {
                    nonAscii++;
                }
            }
            assertThat(nonAscii).as("prompts that exercise the normaliser").isGreaterThan(10);
        }
    }

    private static List<String> prompts() throws IOException {
        try (InputStream in = T5TokenizerConversionTest.class.getResourceAsStream(
                "/tokenizer/t5-prompts.txt")) {
            assertThat(in).as("tokenizer/t5-prompts.txt on the test classpath").isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
    }
}

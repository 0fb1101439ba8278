"""tokenizer.py: the project vocabulary, its tokenizers JSON, the pure-Python encoder and prompt preparation."""

import json
import tempfile
import unittest
from pathlib import Path

from sora4j_export.tokenizer import (EOS_ID, PAD_ID, UNK_ID, WordLevelTokenizer, build_vocab, clean_prompt,
                                     max_token_id, tokenizer_json, with_aesthetic_score, write_tokenizer_json)

T5_TOKENIZER = Path("/work/shared/t5/tokenizer.json")  # read-only reference, only used when present


class VocabTest(unittest.TestCase):
    def test_fixed_and_deterministic(self):
        v = build_vocab()
        self.assertEqual(v, build_vocab())
        self.assertEqual(list(v)[:3], ["<pad>", "</s>", "<unk>"])
        self.assertEqual(sorted(v.values()), list(range(len(v))))
        self.assertTrue(250 <= len(v) <= 400, len(v))
        for word in ("red", "blue", "circle", "square", "left", "right", "slowly", "background", "aesthetic",
                     "score", ":", ".", ",", "a", "the", "on", "in", "moving", "0", "9", "small", "large"):
            self.assertIn(word, v)
        # pin the first ids so an accidental reorder is caught (ids are baked into packs)
        self.assertEqual([v[w] for w in (".", ",", ":", "0", "aesthetic", "score", "a")], [3, 4, 5, 12, 22, 23, 24])


class JsonTest(unittest.TestCase):
    def test_schema(self):
        data = tokenizer_json(build_vocab())
        self.assertEqual(data["model"]["type"], "WordLevel")
        self.assertEqual(data["model"]["unk_token"], "<unk>")
        self.assertEqual(data["normalizer"], {"type": "Lowercase"})
        self.assertEqual(data["pre_tokenizer"], {"type": "Whitespace"})
        self.assertIsNone(data["padding"])
        self.assertIsNone(data["truncation"])
        self.assertEqual([(t["content"], t["id"], t["special"]) for t in data["added_tokens"]],
                         [("<pad>", 0, True), ("</s>", 1, True), ("<unk>", 2, True)])
        self.assertEqual(max_token_id(data), len(build_vocab()) - 1)

    def test_same_structure_as_t5_tokenizer(self):
        """The post-processor, added-token entries and top-level keys are shaped exactly as in the T5 tokenizer.json
        that the tokenizers library wrote (only the model, normalizer, pre-tokenizer and decoder differ)."""
        if not T5_TOKENIZER.is_file():
            self.skipTest("no reference T5 tokenizer.json")
        ref = json.loads(T5_TOKENIZER.read_text(encoding="utf-8"))
        ours = tokenizer_json(build_vocab())
        self.assertEqual(sorted(ours), sorted(ref))
        self.assertEqual(ours["post_processor"], ref["post_processor"])
        self.assertEqual(ours["added_tokens"], ref["added_tokens"][:3])
        self.assertEqual(ours["version"], ref["version"])
        self.assertEqual(max_token_id(ref), 32099)

    def test_written_file_is_deterministic(self):
        with tempfile.TemporaryDirectory() as d:
            a = write_tokenizer_json(Path(d) / "a.json")
            b = write_tokenizer_json(Path(d) / "b.json", build_vocab())
            self.assertEqual(a.read_bytes(), b.read_bytes())
            self.assertEqual(json.loads(a.read_text())["model"]["vocab"], build_vocab())

    def test_rejects_bad_vocab(self):
        with self.assertRaises(ValueError):
            tokenizer_json({"<unk>": 0, "</s>": 1, "<pad>": 2})
        with self.assertRaises(ValueError):
            tokenizer_json({"<pad>": 0, "</s>": 1, "<unk>": 2, "x": 4})


class EncodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.path = write_tokenizer_json(Path(cls._tmp.name) / "tokenizer.json")
        cls.tok = WordLevelTokenizer.from_file(cls.path)
        cls.v = build_vocab()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_basic_padding_and_mask(self):
        ids, mask = self.tok.encode("A red circle", 8)
        v = self.v
        self.assertEqual(ids, [v["a"], v["red"], v["circle"], EOS_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID])
        self.assertEqual(mask, [1, 1, 1, 1, 0, 0, 0, 0])

    def test_lowercase_punctuation_and_unknown(self):
        v = self.v
        ids, mask = self.tok.encode("BLUE square, zebra!? aesthetic score: 6.5.", 16)
        self.assertEqual(ids[:11], [v["blue"], v["square"], v[","], UNK_ID, UNK_ID, v["aesthetic"], v["score"],
                                    v[":"], v["6"], v["."], v["5"]])
        self.assertEqual(ids[11:13], [v["."], EOS_ID])
        self.assertEqual(sum(mask), 13)

    def test_whitespace_rule(self):
        # \w+ runs and runs of other non-space characters; "!?" is one (unknown) token, digits stay with letters
        v = self.v
        self.assertEqual(self.tok.tokenize("red!?blue 3d\tup_down"),
                         [v["red"], UNK_ID, v["blue"], UNK_ID, UNK_ID])
        self.assertEqual(self.tok.tokenize("   "), [])

    def test_truncation_keeps_eos(self):
        ids, mask = self.tok.encode("a red ball on a blue background", 4)
        v = self.v
        self.assertEqual(ids, [v["a"], v["red"], v["ball"], EOS_ID])
        self.assertEqual(mask, [1, 1, 1, 1])
        self.assertEqual(self.tok.encode("red", 1), ([EOS_ID], [1]))
        self.assertEqual(self.tok.encode("", 3), ([EOS_ID, PAD_ID, PAD_ID], [1, 0, 0]))

    def test_special_tokens_in_text(self):
        # added special tokens are matched in the raw text before lower-casing, as the Rust library does
        v = self.v
        self.assertEqual(self.tok.tokenize("red</s>blue"), [v["red"], EOS_ID, v["blue"]])
        self.assertEqual(self.tok.tokenize("red</S>"), [v["red"], UNK_ID, v["s"] if "s" in v else UNK_ID, UNK_ID])

    def test_open_sora_length(self):
        ids, mask = self.tok.encode(with_aesthetic_score(clean_prompt("A red ball")), 300)
        self.assertEqual(len(ids), 300)
        self.assertEqual(len(mask), 300)
        self.assertEqual(sum(mask), 3 + 7 + 1)


class PromptTest(unittest.TestCase):
    def test_clean_prompt(self):
        self.assertEqual(clean_prompt("  A  Red\tBall\n\nMoving   LEFT "), "a red ball moving left")
        self.assertEqual(clean_prompt(""), "")

    def test_with_aesthetic_score(self):
        self.assertEqual(with_aesthetic_score("a cat"), "a cat aesthetic score: 6.5.")
        self.assertEqual(with_aesthetic_score("a cat", 7), "a cat aesthetic score: 7.0.")
        self.assertEqual(with_aesthetic_score("a cat", 5.25), "a cat aesthetic score: 5.2.")


if __name__ == "__main__":
    unittest.main()

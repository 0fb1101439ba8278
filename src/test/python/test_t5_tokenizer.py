"""spm.py and tokenizer.t5_tokenizer_json: spiece.model -> tokenizers JSON without transformers.

The reference is the real T5 tokenizer.json in ../shared/t5 (not committed; SORA4J_SHARED overrides the location). A
``spiece.model`` fixture is built from its pieces, scores and normaliser; converting the fixture must give the
reference back exactly. The Java side checks that both files tokenize the prompts of
src/test/resources/tokenizer/t5-prompts.txt to the same ids (T5TokenizerConversionTest).
"""

import json
import os
import tempfile
import unittest
from pathlib import Path

from sora4j_export.spm import (BPE, CONTROL, NORMAL, UNKNOWN, Piece, SpmError, SpmModel, encode_model,
                               model_from_tokenizer_json, parse_model)
from sora4j_export.tokenizer import max_token_id, t5_tokenizer_json, write_t5_tokenizer_json

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = Path(os.environ.get("SORA4J_SHARED", ROOT.parent / "shared")) / "t5" / "tokenizer.json"


def reference():
    if not REFERENCE.is_file():
        raise unittest.SkipTest(f"no reference T5 tokenizer at {REFERENCE}")
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def small_model(**over):
    pieces = [Piece("<pad>", 0.0, CONTROL), Piece("</s>", 0.0, CONTROL), Piece("<unk>", 0.0, UNKNOWN),
              Piece("\u2581", -2.5), Piece("\u2581a", -3.25), Piece("b", -7.125)]
    kw = dict(pieces=pieces, unk_id=2, bos_id=-1, eos_id=1, pad_id=0, normalizer_name="nmt_nfkc",
              precompiled_charsmap=b"\x00\x01\x02")
    kw.update(over)
    return SpmModel(**kw)


class SpmFormatTest(unittest.TestCase):
    def test_encode_then_parse_keeps_every_field(self):
        m = small_model()
        self.assertEqual(parse_model(encode_model(m)), SpmModel(**{**m.__dict__, "vocab_size": 6}))

    def test_fields_of_other_versions_are_skipped(self):
        extra = b"\x22\x03abc" + b"\x28\x05"  # field 4 (bytes) and field 5 (varint) at the top level
        m = parse_model(encode_model(small_model()) + extra)
        self.assertEqual(len(m.pieces), 6)

    def test_garbage_is_not_a_model(self):
        for data in (b"", b"\x0a\x05ab", b"\x07\x07\x07", "not a model".encode()):
            with self.assertRaises(SpmError):
                parse_model(data)

    def test_small_model_converts_to_a_unigram_json(self):
        data = t5_tokenizer_json(encode_model(small_model()), extra_ids=2)
        self.assertEqual(data["model"], {"unk_id": 2, "vocab": [
            ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -2.5], ["\u2581a", -3.25], ["b", -7.125],
            ["<extra_id_1>", 0.0], ["<extra_id_0>", 0.0]]})
        self.assertEqual([(t["id"], t["content"]) for t in data["added_tokens"]],
                         [(0, "<pad>"), (1, "</s>"), (2, "<unk>"), (6, "<extra_id_1>"), (7, "<extra_id_0>")])
        self.assertEqual(data["normalizer"], {"type": "Precompiled", "precompiled_charsmap": "AAEC"})
        self.assertEqual(data["post_processor"]["special_tokens"], {"</s>": {"id": "</s>", "ids": [1],
                                                                            "tokens": ["</s>"]}})
        self.assertEqual(max_token_id(data), 7)

    def test_models_it_cannot_express_are_refused(self):
        for over, message in (({"model_type": BPE}, "not Unigram"), ({"byte_fallback": True}, "byte fallback"),
                              ({"eos_id": 9}, "eos_id 9 is not a piece id"),
                              ({"add_dummy_prefix": False}, "dummy prefix")):
            with self.assertRaisesRegex(SpmError, message):
                t5_tokenizer_json(encode_model(small_model(**over)))


class RealT5TokenizerTest(unittest.TestCase):
    def test_spiece_model_of_the_reference_converts_back_to_the_reference(self):
        ref = reference()
        model = model_from_tokenizer_json(ref)
        self.assertEqual(len(model.pieces), 32000)
        self.assertEqual([p.type for p in model.pieces[:4]], [CONTROL, CONTROL, UNKNOWN, NORMAL])
        spiece = encode_model(model)
        self.assertEqual(t5_tokenizer_json(spiece), ref)
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "spiece.model"
            src.write_bytes(spiece)
            out = write_t5_tokenizer_json(src, Path(d) / "tokenizer.json")
            self.assertEqual(json.loads(out.read_text(encoding="utf-8")), ref)
            self.assertEqual(sorted(p.name for p in Path(d).iterdir()), ["spiece.model", "tokenizer.json"])

    def test_sentencepiece_reads_the_fixture_as_the_t5_model(self):
        try:
            import sentencepiece
        except ImportError:
            self.skipTest("python3-sentencepiece is not installed")
        sp = sentencepiece.SentencePieceProcessor(model_proto=encode_model(model_from_tokenizer_json(reference())))
        self.assertEqual(sp.get_piece_size(), 32000)
        # the ids TextEncoderParityTest derives by hand for this prompt from the reference tokenizer.json
        self.assertEqual(sp.encode("a red circle moving left aesthetic score: 6.5."),
                         [3, 9, 1131, 8196, 1735, 646, 9386, 2604, 10, 3, 17255, 5])


if __name__ == "__main__":
    unittest.main()

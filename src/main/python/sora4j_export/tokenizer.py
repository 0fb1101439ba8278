"""The project's small word-level tokenizer (for tiny and demo packs) and the prompt preparation shared with Java.

The tokenizer is saved as a Hugging Face ``tokenizers`` JSON that DJL's ``HuggingFaceTokenizer`` (Rust tokenizers)
loads: a ``WordLevel`` model (unk ``<unk>``), a ``Lowercase`` normalizer, a ``Whitespace`` pre-tokenizer (regex
``\\w+|[^\\w\\s]+``) and a ``TemplateProcessing`` post-processor that appends ``</s>`` like T5 (``$A </s>``). Special ids
follow T5: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2. The JSON carries no padding or truncation; the caller asks for
``max_length`` padding and truncation, as Open-Sora does with the T5 tokenizer.

:class:`WordLevelTokenizer` reproduces, in pure Python, what the Rust library does with such a file when encoding with
special tokens, truncation to ``max_length`` and padding to ``max_length``.
"""

import json
import unicodedata
from pathlib import Path

__all__ = [
    "PAD", "EOS", "UNK", "PAD_ID", "EOS_ID", "UNK_ID",
    "build_vocab", "tokenizer_json", "write_tokenizer_json", "WordLevelTokenizer",
    "clean_prompt", "with_aesthetic_score", "max_token_id",
]

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
SPECIAL_TOKENS = (PAD, EOS, UNK)

# The fixed word list, in id order after the three special tokens. Append only: changing the order changes the ids of
# every pack built with it.
_WORDS = """
. , : ; ! ? - ' "
0 1 2 3 4 5 6 7 8 9
aesthetic score
a an the this that these those it its of on in at to from with without by for and or but as is are was be
into onto over under above below behind between through across around along near far next toward towards
away up down left right top bottom front back middle center centre side corner edge
while then slowly quickly gently suddenly smoothly steadily very
moving moves move rolling rolls roll bouncing bounces bounce spinning spins spin rotating rotates rotate
falling falls fall rising rises rise flying flies fly floating floats float sliding slides slide drifting drifts
growing grows shrinking shrinks pulsing glowing glows flashing flickering waving swinging orbiting circling
zooming panning walking runs running jumping swimming dancing flowing shining sparkling melting
red orange yellow green blue purple violet pink brown black white gray grey gold silver cyan magenta
dark light bright pale deep colorful colourful transparent striped dotted checkered
circle circles square squares triangle triangles rectangle star stars ball balls cube cubes sphere spheres
dot dots line lines ring rings cone pyramid cylinder heart diamond hexagon shape shapes box boxes block blocks
wave waves spiral grid pattern particles point points
small tiny little medium large big huge giant long short tall wide narrow thin thick round flat
one two three four five six seven eight nine ten many several few single pair group
fast slow speed still static
background sky sea ocean water river lake beach sand desert forest tree trees grass field mountain mountains
hill snow ice rain cloud clouds sun moon night day sunset sunrise city street road room wall floor space
fire smoke lamp lights shadow shadows
cat dog bird birds fish horse car boat train plane person people man woman child robot
video scene view shot camera close closeup aerial animation animated cartoon realistic simple plain solid
high low quality detailed beautiful cinematic style soft hard warm cold clear
""".split()


def build_vocab() -> dict:
    """The project vocabulary as {token: id}: the three special tokens, then :data:`_WORDS` in order (deterministic)."""
    vocab = {}
    for tok in SPECIAL_TOKENS + tuple(_WORDS):
        if tok not in vocab:
            vocab[tok] = len(vocab)
    return vocab


def tokenizer_json(vocab: dict) -> dict:
    """The Hugging Face tokenizers JSON (as a dict) for a word-level vocabulary that contains the special tokens."""
    for tok, tid in ((PAD, PAD_ID), (EOS, EOS_ID), (UNK, UNK_ID)):
        if vocab.get(tok) != tid:
            raise ValueError(f"vocab must map {tok} to {tid}")
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
        raise ValueError("vocab ids must be 0..n-1 without gaps or duplicates")
    ordered = dict(sorted(vocab.items(), key=lambda kv: kv[1]))

    def added(tok, tid):
        return {"id": tid, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True}

    def seq(tid):
        return {"Sequence": {"id": tid, "type_id": 0}}

    eos = {"SpecialToken": {"id": EOS, "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(PAD, PAD_ID), added(EOS, EOS_ID), added(UNK, UNK_ID)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [seq("A"), eos],
            "pair": [seq("A"), eos, seq("B"), eos],
            "special_tokens": {EOS: {"id": EOS, "ids": [EOS_ID], "tokens": [EOS]}},
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": ordered, "unk_token": UNK},
    }


def write_tokenizer_json(path, vocab: dict = None) -> Path:
    """Writes :func:`tokenizer_json` of ``vocab`` (default :func:`build_vocab`) to ``path`` (UTF-8, 2-space indent)."""
    path = Path(path)
    data = tokenizer_json(build_vocab() if vocab is None else vocab)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def max_token_id(data: dict) -> int:
    """The largest id a tokenizers JSON (dict) can produce (model vocab, added tokens, post-processor specials)."""
    best = -1
    vocab = (data.get("model") or {}).get("vocab")
    if isinstance(vocab, dict):
        best = max([best] + [int(v) for v in vocab.values()])
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...], ids are positions
        best = max(best, len(vocab) - 1)
    for t in data.get("added_tokens") or []:
        best = max(best, int(t.get("id", -1)))
    post = data.get("post_processor") or {}
    for st in (post.get("special_tokens") or {}).values():
        best = max([best] + [int(i) for i in st.get("ids", [])])
    return best


# --------------------------------------------------------------------------------------------------- pure-Python encode
def _is_word_char(c: str) -> bool:
    # Rust regex \w (Unicode): Alphabetic, marks, decimal digits, connector punctuation, join controls.
    cat = unicodedata.category(c)
    if cat[0] in "LM" or cat in ("Nd", "Nl", "Pc") or c in "\u200c\u200d":
        return True
    o = ord(c)  # symbols that Unicode counts as Other_Alphabetic (circled, parenthesised, squared Latin letters)
    return 0x24B6 <= o <= 0x24E9 or 0x1F130 <= o <= 0x1F149 or 0x1F150 <= o <= 0x1F169 or 0x1F170 <= o <= 0x1F189


_WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                         "\u200a\u2028\u2029\u202f\u205f\u3000")


def _is_space(c: str) -> bool:
    # Rust regex \s: the Unicode White_Space property
    return c in _WHITE_SPACE


def _whitespace_split(text: str) -> list:
    """The Whitespace pre-tokenizer: maximal runs of word characters, or of characters that are neither word nor
    space (``\\w+|[^\\w\\s]+``); spaces are dropped."""
    out, cur, cur_kind = [], [], None
    for c in text:
        kind = "w" if _is_word_char(c) else ("s" if _is_space(c) else "p")
        if kind != cur_kind:
            if cur and cur_kind != "s":
                out.append("".join(cur))
            cur, cur_kind = [], kind
        cur.append(c)
    if cur and cur_kind != "s":
        out.append("".join(cur))
    return out


class WordLevelTokenizer:
    """Encodes text as the Rust tokenizers library does for a WordLevel/Lowercase/Whitespace/``$A </s>`` JSON."""

    def __init__(self, vocab: dict, unk_token: str = UNK, special_tokens=SPECIAL_TOKENS,
                 eos_token: str = EOS, pad_id: int = PAD_ID):
        self.vocab = dict(vocab)
        self.unk_token = unk_token
        if unk_token not in self.vocab:
            raise ValueError(f"unk token {unk_token!r} not in vocab")
        self.unk_id = self.vocab[unk_token]
        self.special = {t: self.vocab[t] for t in special_tokens if t in self.vocab}
        self.eos_id = self.vocab[eos_token]
        self.pad_id = pad_id

    @classmethod
    def from_file(cls, path) -> "WordLevelTokenizer":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        model = data.get("model") or {}
        if model.get("type", "WordLevel") != "WordLevel" or not isinstance(model.get("vocab"), dict):
            raise ValueError(f"{path}: not a WordLevel tokenizer")
        if (data.get("normalizer") or {}).get("type") != "Lowercase" \
                or (data.get("pre_tokenizer") or {}).get("type") != "Whitespace":
            raise ValueError(f"{path}: only the Lowercase normalizer and Whitespace pre-tokenizer are supported")
        specials = [t["content"] for t in data.get("added_tokens") or [] if t.get("special")]
        return cls(model["vocab"], unk_token=model.get("unk_token", UNK), special_tokens=specials)

    def tokenize(self, text: str) -> list:
        """Content ids (no ``</s>``): special tokens are split out of the raw text first (leftmost, longest match),
        the other pieces are lower-cased, split by the Whitespace rule and looked up (unknown words -> unk)."""
        ids = []
        for piece, special_id in self._split_specials(text):
            if special_id is not None:
                ids.append(special_id)
                continue
            for word in _whitespace_split(piece.lower()):
                ids.append(self.vocab.get(word, self.unk_id))
        return ids

    def _split_specials(self, text: str):
        specials = sorted(self.special, key=len, reverse=True)
        pos, start = 0, 0
        while pos < len(text):
            hit = next((s for s in specials if text.startswith(s, pos)), None)
            if hit is None:
                pos += 1
                continue
            if start < pos:
                yield text[start:pos], None
            yield hit, self.special[hit]
            pos += len(hit)
            start = pos
        if start < len(text):
            yield text[start:], None

    def encode(self, text: str, max_length: int):
        """(ids, mask), both of length ``max_length``: content truncated to ``max_length - 1`` ids, ``</s>`` appended,
        then padded with ``<pad>`` (mask 0). Same as tokenizers with truncation and max_length padding."""
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        ids = self.tokenize(text)[: max_length - 1] + [self.eos_id]
        mask = [1] * len(ids)
        pad = max_length - len(ids)
        return ids + [self.pad_id] * pad, mask + [0] * pad


# --------------------------------------------------------------------------------------------------- prompt preparation
def clean_prompt(text: str) -> str:
    """The prompt clean-up both the Java and the Python side apply before tokenising: strip, collapse every run of
    whitespace to one space, lower-case.

    This is the subset of Open-Sora's ``clean_caption`` (the DeepFloyd/PixArt cleaner, applied twice upstream) that
    matters for plain-text prompts; the rest of it (ftfy, HTML unescaping, URL, @nickname and punctuation clean-up) is
    not applied.
    """
    return " ".join(text.split()).lower()


def with_aesthetic_score(text: str, score: float = 6.5) -> str:
    """Open-Sora's ``append_score_to_prompts``: ``f"{text} aesthetic score: {score:.1f}."``."""
    return f"{text} aesthetic score: {score:.1f}."



# --------------------------------------------------------------------------------------- T5: spiece.model -> JSON
T5_EXTRA_IDS = 100


def t5_tokenizer_json(spiece: bytes, extra_ids: int = T5_EXTRA_IDS) -> dict:
    """The Hugging Face ``tokenizers`` JSON of a T5 SentencePiece model, as ``transformers``' ``T5TokenizerFast``
    conversion writes it (the file ``DeepFloyd/t5-v1_1-xxl`` users get from ``save_pretrained``):

    * ``model``: Unigram, ``vocab`` = every piece with its score, then ``<extra_id_{n-1}>`` … ``<extra_id_0>`` with
      score 0 (ids 32000 … 32099 for T5), ``unk_id`` from the trainer spec;
    * ``normalizer``: ``Precompiled`` with the model's ``precompiled_charsmap`` (the NFKC-based rules, base64);
    * ``pre_tokenizer``: ``WhitespaceSplit`` then ``Metaspace`` (``▁``, a prefix space when the model adds a dummy
      prefix); ``decoder``: ``Metaspace``;
    * ``post_processor``: ``$A </s>`` (pairs ``$A </s> $B </s>``);
    * ``added_tokens``: the control and unknown pieces (``<pad>``, ``</s>``, ``<unk>``) and the extra ids, special.
    """
    import base64

    from .spm import CONTROL, UNIGRAM, UNKNOWN, SpmError, parse_model

    m = parse_model(spiece)
    if m.model_type != UNIGRAM:
        raise SpmError(f"SentencePiece model type {m.model_type} is not Unigram (1); T5 uses Unigram")
    if m.byte_fallback:
        raise SpmError("SentencePiece byte fallback is not supported (T5's model does not use it)")
    if not m.add_dummy_prefix or not m.escape_whitespaces:
        raise SpmError("only models that add a dummy prefix and escape whitespace (like T5's) are supported")
    n = len(m.pieces)
    for label, idx in (("unk", m.unk_id), ("eos", m.eos_id)):
        if not 0 <= idx < n:
            raise SpmError(f"{label}_id {idx} is not a piece id (0..{n - 1})")
    eos = m.pieces[m.eos_id].piece
    vocab = [[p.piece, float(p.score)] for p in m.pieces]
    extras = [f"<extra_id_{i}>" for i in range(extra_ids - 1, -1, -1)]
    vocab += [[e, 0.0] for e in extras]

    def added(tid, content):
        return {"id": tid, "special": True, "content": content, "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False}

    added_tokens = [added(i, p.piece) for i, p in enumerate(m.pieces) if p.type in (CONTROL, UNKNOWN)]
    added_tokens += [added(n + i, e) for i, e in enumerate(extras)]
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "str_rep": "\u2581", "add_prefix_space": True}
    seq = [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": {"type": "Precompiled",
                       "precompiled_charsmap": base64.b64encode(m.precompiled_charsmap).decode("ascii")},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, dict(metaspace)]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": seq,
            "pair": seq + [{"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": eos, "type_id": 0}}],
            "special_tokens": {eos: {"id": eos, "ids": [m.eos_id], "tokens": [eos]}},
        },
        "decoder": dict(metaspace),
        "model": {"unk_id": m.unk_id, "vocab": vocab},
    }


def write_t5_tokenizer_json(spiece_path, target, extra_ids: int = T5_EXTRA_IDS) -> Path:
    """Converts ``spiece_path`` (a SentencePiece ``.model``) with :func:`t5_tokenizer_json` and writes ``target``
    (UTF-8, compact). Raises ValueError (SpmError) naming the file when it is not a usable model."""
    from .spm import SpmError

    src = Path(spiece_path)
    try:
        data = t5_tokenizer_json(src.read_bytes(), extra_ids)
    except SpmError as e:
        raise SpmError(f"{src}: {e}") from None
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(target)
    return target

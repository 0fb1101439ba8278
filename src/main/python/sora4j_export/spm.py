"""SentencePiece model files (``spiece.model``) read and written without the ``protobuf`` package.

A ``.model`` file is a serialized ``sentencepiece.ModelProto`` (sentencepiece_model.proto). Only the fields a Unigram
tokenizer conversion needs are decoded; the others are skipped by wire type, so newer files with more fields still
parse:

    ModelProto:      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
    SentencePiece:   1 piece (string), 2 score (float), 3 type (enum: 1 NORMAL, 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED,
                     5 UNUSED, 6 BYTE; default NORMAL)
    TrainerSpec:     3 model_type (1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR; default UNIGRAM), 4 vocab_size, 35 byte_fallback,
                     40 unk_id (default 0), 41 bos_id (default 1), 42 eos_id (default 2), 43 pad_id (default -1)
    NormalizerSpec:  1 name, 2 precompiled_charsmap (bytes), 3 add_dummy_prefix (default true),
                     4 remove_extra_whitespaces (default true), 5 escape_whitespaces (default true)

:func:`encode_model` writes the same subset (tests build ``spiece.model`` fixtures with it).
"""

import struct
from dataclasses import dataclass, field
from typing import List, Optional

__all__ = ["SpmError", "Piece", "SpmModel", "parse_model", "encode_model", "model_from_tokenizer_json",
           "NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED", "UNUSED", "BYTE", "UNIGRAM"]

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
UNIGRAM, BPE, WORD, CHAR = 1, 2, 3, 4


class SpmError(ValueError):
    """Not a SentencePiece model, or one this converter cannot express."""


@dataclass
class Piece:
    piece: str
    score: float = 0.0
    type: int = NORMAL


@dataclass
class SpmModel:
    pieces: List[Piece] = field(default_factory=list)
    model_type: int = UNIGRAM
    vocab_size: Optional[int] = None
    byte_fallback: bool = False
    unk_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    pad_id: int = -1
    normalizer_name: Optional[str] = None
    precompiled_charsmap: bytes = b""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True


# ------------------------------------------------------------------------------------------------------- wire format
def _varint(buf: bytes, pos: int):
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise SpmError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise SpmError("varint too long")


def _fields(buf: bytes):
    """(field number, wire type, value) of every field: int for varints, bytes for length-delimited, raw 4/8 bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise SpmError(f"unsupported wire type {wire} (field {num})")
        if pos > len(buf):
            raise SpmError(f"truncated field {num}")
        yield num, wire, value


def _signed(v: int) -> int:  # int32 fields are written as 64-bit two's complement varints
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_model(data: bytes) -> SpmModel:
    """Decodes a ``spiece.model``; raises :class:`SpmError` when it is not one."""
    m = SpmModel()
    try:
        for num, wire, value in _fields(data):
            if num == 1 and wire == 2:
                p = Piece("")
                for n2, w2, v2 in _fields(value):
                    if n2 == 1 and w2 == 2:
                        p.piece = v2.decode("utf-8")
                    elif n2 == 2 and w2 == 5:
                        p.score = struct.unpack("<f", v2)[0]
                    elif n2 == 3 and w2 == 0:
                        p.type = v2
                m.pieces.append(p)
            elif num == 2 and wire == 2:
                for n2, w2, v2 in _fields(value):
                    if w2 != 0:
                        continue
                    if n2 == 3:
                        m.model_type = v2
                    elif n2 == 4:
                        m.vocab_size = _signed(v2)
                    elif n2 == 35:
                        m.byte_fallback = bool(v2)
                    elif n2 in (40, 41, 42, 43):
                        setattr(m, {40: "unk_id", 41: "bos_id", 42: "eos_id", 43: "pad_id"}[n2], _signed(v2))
            elif num == 3 and wire == 2:
                for n2, w2, v2 in _fields(value):
                    if n2 == 1 and w2 == 2:
                        m.normalizer_name = v2.decode("utf-8")
                    elif n2 == 2 and w2 == 2:
                        m.precompiled_charsmap = bytes(v2)
                    elif n2 in (3, 4, 5) and w2 == 0:
                        setattr(m, {3: "add_dummy_prefix", 4: "remove_extra_whitespaces",
                                    5: "escape_whitespaces"}[n2], bool(v2))
    except (UnicodeDecodeError, struct.error) as e:
        raise SpmError(f"not a SentencePiece model ({e})") from None
    if not m.pieces:
        raise SpmError("not a SentencePiece model (no pieces)")
    return m


def _key(num: int, wire: int) -> bytes:
    return _enc_varint((num << 3) | wire)


def _enc_varint(v: int) -> bytes:
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(num: int, payload: bytes) -> bytes:
    return _key(num, 2) + _enc_varint(len(payload)) + payload


def encode_model(m: SpmModel) -> bytes:
    """Serializes the fields :func:`parse_model` reads (a valid ``spiece.model`` that sentencepiece itself loads)."""
    out = bytearray()
    for p in m.pieces:
        body = _len_field(1, p.piece.encode("utf-8")) + _key(2, 5) + struct.pack("<f", p.score)
        if p.type != NORMAL:
            body += _key(3, 0) + _enc_varint(p.type)
        out += _len_field(1, body)
    trainer = _key(3, 0) + _enc_varint(m.model_type)
    trainer += _key(4, 0) + _enc_varint(m.vocab_size if m.vocab_size is not None else len(m.pieces))
    trainer += _key(35, 0) + _enc_varint(int(m.byte_fallback))
    for num, v in ((40, m.unk_id), (41, m.bos_id), (42, m.eos_id), (43, m.pad_id)):
        trainer += _key(num, 0) + _enc_varint(v)
    out += _len_field(2, trainer)
    norm = b""
    if m.normalizer_name is not None:
        norm += _len_field(1, m.normalizer_name.encode("utf-8"))
    norm += _len_field(2, m.precompiled_charsmap)
    for num, v in ((3, m.add_dummy_prefix), (4, m.remove_extra_whitespaces), (5, m.escape_whitespaces)):
        norm += _key(num, 0) + _enc_varint(int(v))
    out += _len_field(3, norm)
    return bytes(out)


def model_from_tokenizer_json(data: dict, extra_prefix: str = "<extra_id_") -> SpmModel:
    """The inverse of ``tokenizer.t5_tokenizer_json``: a SentencePiece model holding a T5 ``tokenizers`` JSON's
    Unigram pieces and scores (without the appended extra ids), its special pieces as control/unknown pieces and its
    ``Precompiled`` normaliser. Tests and benchmarks/real-size.sh build ``spiece.model`` files with it."""
    import base64

    model = data.get("model") or {}
    vocab = model.get("vocab")
    norm = data.get("normalizer") or {}
    if not isinstance(vocab, list) or norm.get("type") != "Precompiled":
        raise SpmError("not a T5 tokenizers JSON (Unigram vocab list and Precompiled normalizer expected)")
    specials = {t["content"]: t["id"] for t in data.get("added_tokens") or [] if t.get("special")}
    unk = int(model.get("unk_id", 0))
    pieces = []
    for i, (piece, score) in enumerate(vocab):
        if piece.startswith(extra_prefix):
            break
        kind = UNKNOWN if i == unk else CONTROL if specials.get(piece) == i else NORMAL
        pieces.append(Piece(piece, float(score), kind))
    return SpmModel(pieces=pieces, vocab_size=len(pieces), unk_id=unk, bos_id=-1,
                    eos_id=specials.get("</s>", 1), pad_id=specials.get("<pad>", 0), normalizer_name="nmt_nfkc",
                    precompiled_charsmap=base64.b64decode(norm.get("precompiled_charsmap", "")))

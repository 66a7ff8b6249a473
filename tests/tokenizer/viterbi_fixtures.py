"""Fixtures for the two unigram forward passes of lib/tokenizer/unigram.c:
one small unigram vocabulary whose scores sit a float32 rounding apart,
written both as a SentencePiece .model (the protobuf built here, byte by
byte) and as a tokenizer.json (tokenizers' Unigram), with the cases each
library gives on strings over its alphabet. SentencePiece keeps the best
score per position as a float, tokenizers as a double; on these strings
the two segment differently (abbbb: a|bbb|b and a|b|bbb), which the
builder checks, so libqat must reproduce each library's arithmetic to
match both suites."""
import os
import random
import struct

# Found by searching random near-tied vocabularies with a float32 and a
# float64 Viterbi until they disagreed (scores exactly representable).
SCORES = {"a": -0.9999998807907104, "b": -2.9999992847442627, "c": -2.999999523162842, "d": -3.0000007152557373,
          "bbb": -1.499999761581421, "ccc": -2.999999761581421, "bcb": -3.0000009536743164,
          "cdd": -1.999999761581421, "cda": -1.499999761581421, "dc": -3.9999992847442627}
PIECES = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)] + [(p, s, 1) for p, s in SCORES.items()]
N_LINES = 3200


def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number, wire, payload):
    key = _varint(number << 3 | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def model_proto():
    """ModelProto: pieces (1), trainer_spec (2: unigram, unk 0, bos 1, eos 2,
    no pad), normalizer_spec (3: identity, no dummy prefix, spaces kept)."""
    pieces = b"".join(_field(1, 2, _field(1, 2, p.encode()) + _field(2, 5, struct.pack("<f", s)) +
                             _field(3, 0, _varint(t))) for p, s, t in PIECES)
    trainer = (_field(3, 0, _varint(1)) + _field(40, 0, _varint(0)) + _field(41, 0, _varint(1)) +
               _field(42, 0, _varint(2)) + _field(43, 0, _varint(-1)))
    normalizer = (_field(1, 2, b"identity") + _field(3, 0, _varint(0)) + _field(4, 0, _varint(0)) +
                  _field(5, 0, _varint(0)))
    return pieces + _field(2, 2, trainer) + _field(3, 2, normalizer)


def lines():
    rng = random.Random(7)
    out = ["abbbb"]
    while len(out) < N_LINES:
        out.append("".join(rng.choice("abcd") for _ in range(rng.randint(1, 14))))
    return out


def build(out):
    import sentencepiece as spm
    from tokenizers import Tokenizer, models

    from json_fixtures import _cases
    from make_fixtures import write_cases
    texts = lines()
    path = os.path.join(out, "viterbi.model")
    with open(path, "wb") as f:
        f.write(model_proto())
    sp = spm.SentencePieceProcessor(model_file=path)
    write_cases(os.path.join(out, "viterbi.cases"), sp, texts)
    tok = Tokenizer(models.Unigram([(p, s) for p, s, _t in PIECES], 0, False))
    tok.save(os.path.join(out, "json_viterbi.json"))
    oracle = Tokenizer.from_file(os.path.join(out, "json_viterbi.json"))
    _cases(os.path.join(out, "json_viterbi.cases"), lambda t: oracle.encode(t, add_special_tokens=False).ids, texts)
    differ = sum(sp.encode(t) != oracle.encode(t, add_special_tokens=False).ids for t in texts)
    if differ == 0:
        raise SystemExit("viterbi_fixtures: SentencePiece and tokenizers agree on every line; "
                         "the fixture no longer tells their precisions apart")
    return differ

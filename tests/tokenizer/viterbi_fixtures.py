"""Fixtures for the two unigram forward passes of lib/tokenizer/unigram.c,
and for how tokenizers reads a tokenizer.json's scores.

viterbi.model / json_viterbi.json:
one small unigram vocabulary whose scores sit a float32 rounding apart,
written both as a SentencePiece .model (the protobuf built here, byte by
byte) and as a tokenizer.json (tokenizers' Unigram), with the cases each
library gives on strings over its alphabet. SentencePiece keeps the best
score per position as a float, tokenizers as a double; on these strings
the two segment differently (abbbb: a|bbb|b and a|b|bbb), which the
builder checks, so libqat must reproduce each library's arithmetic to
match both suites.

json_serde.json: seven pieces of a trained tokenizer.json, their scores
written as tokenizers writes them (17 digits). tokenizers parses them with
serde_json, which is one ulp off the correctly rounded value for some of
them; here that turns "▁641222" into ▁|6|4|1|2|22 where the correctly
rounded scores give ▁|6|4|1|22|2 (the builder checks it), so libqat must
read the scores as serde_json does."""
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


# As tokenizers wrote them: text, not Python floats (from_file parses them).
SERDE_VOCAB = [("<unk>", "0.0"), ("\u2581", "-3.9275653815109877"), ("4", "-4.829618218665804"),
               ("6", "-5.183792658771876"), ("1", "-5.316660902089248"), ("2", "-5.593344782394478"),
               ("22", "-7.595353251389499")]


def serde_lines():
    rng = random.Random(11)
    out = ["\u2581641222"]
    while len(out) < N_LINES:
        out.append("".join(rng.choice("\u25811246") for _ in range(rng.randint(1, 12))))
    return out


def correctly_rounded_viterbi(text):
    """tokenizers' encode_optimized with the scores read by strtod."""
    scores = {p: float(s) for p, s in SERDE_VOCAB}
    best = [None] * (len(text) + 1)
    best[0] = (0.0, None, None)
    for start in range(len(text)):
        for end in range(start + 1, len(text) + 1):
            piece = text[start:end]
            if piece in scores:
                cand = scores[piece] + best[start][0]
                if best[end] is None or cand > best[end][0]:
                    best[end] = (cand, start, piece)
    out, end = [], len(text)
    while end > 0:
        out.append(best[end][2])
        end = best[end][1]
    return out[::-1]


def build_serde(out):
    from tokenizers import Tokenizer

    from json_fixtures import _cases
    path = os.path.join(out, "json_serde.json")
    vocab = ", ".join(f'["{p}", {s}]' for p, s in SERDE_VOCAB)
    with open(path, "w") as f:
        f.write('{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null, '
                '"pre_tokenizer": null, "post_processor": null, "decoder": null, '
                f'"model": {{"type": "Unigram", "unk_id": 0, "vocab": [{vocab}], "byte_fallback": false}}}}\n')
    oracle = Tokenizer.from_file(path)
    texts = serde_lines()
    _cases(os.path.join(out, "json_serde.cases"), lambda t: oracle.encode(t, add_special_tokens=False).ids, texts)
    differ = sum(oracle.encode(t, add_special_tokens=False).tokens != correctly_rounded_viterbi(t) for t in texts)
    if differ == 0:
        raise SystemExit("viterbi_fixtures: tokenizers segments json_serde.json as correctly rounded scores "
                         "do; the fixture no longer shows serde_json's reading")
    return differ


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
    return differ, build_serde(out)

"""Builds the tokenizer test fixtures into a directory (the build dir):
SentencePiece models trained here by python3-sentencepiece on generated
French text, and for each model a `.cases` file of test lines with the
oracle's ids and decoded text. Models are never committed.

usage: make_fixtures.py OUTDIR [--stamp FILE]
Writes OUTDIR/SKIP with the reason when sentencepiece is unavailable."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import french_text  # noqa: E402

# name -> trainer options (all small, so training stays well under a second each)
MODELS = {
    "unigram": dict(model_type="unigram", vocab_size=1000),
    "bpe": dict(model_type="bpe", vocab_size=1000),
    "unigram_bytes": dict(model_type="unigram", vocab_size=1200, byte_fallback=True),
    "bpe_bytes": dict(model_type="bpe", vocab_size=1200, byte_fallback=True),
    # user-defined and control symbols, NFKC with case folding
    "unigram_user": dict(model_type="unigram", vocab_size=900, normalization_rule_name="nmt_nfkc_cf",
                         user_defined_symbols=["<med>", "mg", "😀"], control_symbols=["<ctl>"]),
    # no normalization, no dummy prefix, whitespace kept as is
    "bpe_raw": dict(model_type="bpe", vocab_size=900, normalization_rule_name="identity",
                    add_dummy_prefix=False, remove_extra_whitespaces=False),
}
N_TRAIN = 3000
N_TEST = 3000


def hexs(s: str) -> str:
    return s.encode("utf-8", "surrogatepass").hex() or "-"


def write_cases(path, sp, texts):
    with open(path, "w") as f:
        for t in texts:
            ids = sp.encode(t)
            dec = sp.decode(ids)
            f.write(f"{hexs(t)}\t{' '.join(map(str, ids)) or '-'}\t{hexs(dec)}\n")


def test_lines():
    return french_text.EDGE_CASES + french_text.lines(N_TEST, seed=2)


def train_models(out):
    import sentencepiece as spm
    train = french_text.lines(N_TRAIN, seed=1)
    for name, opts in MODELS.items():
        spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_prefix=os.path.join(out, name),
                                       character_coverage=0.995, num_threads=1, minloglevel=2,
                                       **opts)
    return train


def write_unicode_dump(path):
    """Oracle of test_tokenizer_unicode: runs of one general category
    ("C first last cat"), and every code point whose combining class, NFD
    or lowercase is not trivial ("P cp ccc nfd lower", hex lists)."""
    import unicodedata as ud
    with open(path, "w") as f:
        start, prev = 0, ud.category(chr(0))
        for cp in range(1, 0x110001):
            cat = ud.category(chr(cp)) if cp < 0x110000 else None
            if cat != prev:
                f.write(f"C {start:x} {cp - 1:x} {prev}\n")
                start, prev = cp, cat
        for cp in range(0x110000):
            if 0xD800 <= cp < 0xE000:
                continue
            ch = chr(cp)
            ccc, nfd, low = ud.combining(ch), ud.normalize("NFD", ch), ch.lower()
            if ccc or nfd != ch or low != ch:
                f.write(f"P {cp:x} {ccc} {','.join(f'{ord(c):x}' for c in nfd)} "
                        f"{','.join(f'{ord(c):x}' for c in low)}\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    skip = os.path.join(out, "SKIP")
    if os.path.exists(skip):
        os.remove(skip)
    try:
        import sentencepiece as spm
    except ImportError as exc:
        with open(skip, "w") as f:
            f.write(f"python3-sentencepiece is not installed ({exc}); add it to .ci/deps\n")
        return 0
    t0 = time.time()
    write_unicode_dump(os.path.join(out, "unicode.dump"))
    train_models(out)
    texts = test_lines()
    for name in MODELS:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(out, name + ".model"))
        write_cases(os.path.join(out, name + ".cases"), sp, texts)
    try:
        import hf_fixtures
        hf_fixtures.build(out, texts)
    except ImportError as exc:
        print(f"make_fixtures: HF fixtures skipped: {exc}")
    try:
        import json_fixtures
        json_fixtures.build(out, texts)
    except ImportError as exc:
        print(f"make_fixtures: tokenizer.json fixtures skipped: {exc}")
    try:
        import pair_fixtures
        pair_fixtures.build(out, texts)
    except ImportError as exc:
        print(f"make_fixtures: pair fixtures skipped: {exc}")
    try:
        import viterbi_fixtures
        precision, serde = viterbi_fixtures.build(out)
        print(f"make_fixtures: viterbi fixtures, {precision} lines where SentencePiece and tokenizers differ, "
              f"{serde} where serde_json's scores segment unlike correctly rounded ones")
    except ImportError as exc:
        print(f"make_fixtures: viterbi fixtures skipped: {exc}")
    print(f"make_fixtures: {len(MODELS)} models, {len(texts)} lines in {time.time() - t0:.1f}s")
    if len(sys.argv) > 3 and sys.argv[2] == "--stamp":
        open(sys.argv[3], "w").close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

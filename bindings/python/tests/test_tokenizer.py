"""libqat.Tokenizer against its oracles: python3-sentencepiece on models
trained here (bare .model files) and transformers' CamembertTokenizer /
XLMRobertaTokenizer on HF directories built from them."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "tokenizer"))

spm = pytest.importorskip("sentencepiece", reason="python3-sentencepiece is not installed")
import french_text  # noqa: E402
import make_fixtures  # noqa: E402

from libqat import QatError, Tokenizer  # noqa: E402

MODELS = list(make_fixtures.MODELS)


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory):
    out = tmp_path_factory.mktemp("spm")
    make_fixtures.train_models(str(out))
    return out


@pytest.fixture(scope="session")
def texts():
    return [t for t in make_fixtures.test_lines() if "\x00" not in t]


@pytest.mark.parametrize("name", MODELS)
def test_ids_and_decode_match_sentencepiece(fixtures, texts, name):
    path = str(fixtures / f"{name}.model")
    sp = spm.SentencePieceProcessor(model_file=path)
    tok = Tokenizer.load(path)
    assert tok.vocab_size == sp.get_piece_size()
    bad = [t for t in texts if tok.encode(t) != sp.encode(t)]
    assert not bad, f"{len(bad)} lines differ, first: {bad[:3]!r}"
    for t in texts[:500]:
        ids = sp.encode(t)
        assert tok.decode(ids) == sp.decode(ids)


@pytest.mark.parametrize("name", ["unigram_bytes", "bpe_bytes"])
def test_round_trip(fixtures, name):
    """Byte fallback models lose nothing: every line comes back as its
    NFKC form (the models' normalization)."""
    import unicodedata
    tok = Tokenizer.load(fixtures / f"{name}.model")
    for t in french_text.lines(300, seed=7, odd=False):
        assert tok.decode(tok.encode(t)) == unicodedata.normalize("NFKC", t)


def test_pieces_and_specials(fixtures):
    path = str(fixtures / "unigram_user.model")
    sp = spm.SentencePieceProcessor(model_file=path)
    tok = Tokenizer.load(path)
    for i in range(sp.get_piece_size()):
        assert tok.id_to_piece(i) == sp.id_to_piece(i)
        assert tok.piece_to_id(sp.id_to_piece(i)) == i
    assert tok.special_id("unk") == sp.unk_id()
    assert tok.special_id("bos") == sp.bos_id()
    assert tok.special_id("eos") == sp.eos_id()
    assert tok.special_id("pad") is None
    assert tok.kind == "sentencepiece-unigram"
    with pytest.raises(QatError, match="not in the vocabulary"):
        tok.piece_to_id("certainement-absent")
    with pytest.raises(QatError, match="out of range"):
        tok.decode([10 ** 6])


def test_bad_files(tmp_path):
    with pytest.raises(QatError, match="no such file"):
        Tokenizer.load(tmp_path / "missing.model")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    with pytest.raises(QatError) as err:
        Tokenizer.load(bad)
    assert err.value.status == "QAT_ERR_FORMAT"


def _hf_dir(fixtures, tmp_path_factory, model_type, model):
    import json
    import shutil
    d = tmp_path_factory.mktemp(model_type)
    (d / "config.json").write_text(json.dumps({"model_type": model_type}))
    shutil.copyfile(fixtures / f"{model}.model", d / "sentencepiece.bpe.model")
    return d


@pytest.mark.parametrize("model_type,model", [("camembert", "unigram"), ("xlm-roberta", "bpe_bytes")])
def test_hf_directory_matches_transformers(fixtures, tmp_path_factory, texts, model_type, model):
    transformers = pytest.importorskip("transformers")
    d = _hf_dir(fixtures, tmp_path_factory, model_type, model)
    cls = transformers.CamembertTokenizer if model_type == "camembert" else transformers.XLMRobertaTokenizer
    hf = cls(str(d / "sentencepiece.bpe.model"))
    tok = Tokenizer.load(d)
    bad = [t for t in texts[:1500] if tok.encode(t) != hf(t, add_special_tokens=False)["input_ids"]]
    assert not bad, f"{len(bad)} lines differ, first: {bad[:3]!r}"
    assert tok.vocab_size == len(hf)
    assert tok.special_id("mask") == hf.mask_token_id
    assert tok.special_id("bos") == hf.cls_token_id
    assert tok.special_id("eos") == hf.sep_token_id
    assert tok.special_id("pad") == hf.pad_token_id
    assert tok.special_id("unk") == hf.unk_token_id
    # word alignment as is_split_into_words=True (slow tokenizers: each word
    # tokenized alone), with <s> ... </s> and truncation
    rng_lines = french_text.lines(200, seed=11, odd=False)
    for line in rng_lines:
        words = line.split()
        ids, word_ids = tok.encode_words(words)
        expect = hf(words, is_split_into_words=True)["input_ids"]
        assert ids == expect
        want_words = [None]
        for i, w in enumerate(words):
            want_words += [i] * len(hf(w, add_special_tokens=False)["input_ids"])
        assert word_ids == want_words + [None]
        ids16, w16 = tok.encode_words(words, max_length=16)
        assert ids16 == hf(words, is_split_into_words=True, truncation=True, max_length=16)["input_ids"]
        assert len(w16) == len(ids16)


@pytest.mark.parametrize("model_type,model", [("camembert", "unigram"), ("xlm-roberta", "bpe_bytes")])
def test_save_writes_what_transformers_reads(fixtures, tmp_path_factory, tmp_path, texts, model_type, model):
    """Tokenizer.save beside a model of another family: libqat and
    transformers' AutoTokenizer both read the saved directory back with the
    original ids (tokenizer_config.json names the fairseq class)."""
    transformers = pytest.importorskip("transformers")
    tok = Tokenizer.load(_hf_dir(fixtures, tmp_path_factory, model_type, model))
    (tmp_path / "config.json").write_text('{"model_type": "roberta"}')
    tok.save(tmp_path)
    back = Tokenizer.load(tmp_path)
    hf = transformers.AutoTokenizer.from_pretrained(str(tmp_path), use_fast=False)
    for t in texts[:300]:
        assert back.encode(t) == tok.encode(t) == hf(t, add_special_tokens=False)["input_ids"]
    assert back.special_id("mask") == tok.special_id("mask") == hf.mask_token_id
    bare = Tokenizer.load(fixtures / f"{model}.model")  # SentencePiece's own ids: spiece.model
    bare.save(tmp_path)
    assert not (tmp_path / "sentencepiece.bpe.model").exists()
    assert Tokenizer.load(tmp_path).encode(texts[0]) == bare.encode(texts[0])


def test_encode_words_bare_model(fixtures):
    tok = Tokenizer.load(fixtures / "bpe.model")
    words = ["Le", "patient", "a", "reçu", "500", "mg", "."]
    ids, word_ids = tok.encode_words(words)
    assert ids[0] == tok.special_id("bos") and ids[-1] == tok.special_id("eos")
    flat = [i for w in words for i in tok.encode(w)]
    assert ids[1:-1] == flat
    assert word_ids[0] is None and word_ids[-1] is None
    ids2, _ = tok.encode_words(words, add_special_tokens=False)
    assert ids2 == flat


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "unigram"])
def test_tokenizer_json_matches_tokenizers(tmp_path, texts, kind):
    tokenizers = pytest.importorskip("tokenizers")
    import json_fixtures
    path = tmp_path / "tokenizer.json"
    json_fixtures._train(kind, french_text.lines(800, seed=1), True, vocab_size=600).save(str(path))
    oracle = tokenizers.Tokenizer.from_file(str(path))
    tok = Tokenizer.load(path)
    for t in texts[:500]:
        assert tok.encode(t) == oracle.encode(t, add_special_tokens=False).ids, t
    words = ["Le", "patient", "[MASK]" if kind == "wordpiece" else "<mask>", "hospitalisé", "."]
    ids, word_ids = tok.encode_words(words)
    assert word_ids[0] is None and word_ids[-1] is None
    assert ids[1:-1] == oracle.encode(words, is_pretokenized=True, add_special_tokens=False).ids

"""tokenizer.json fixtures built with the `tokenizers` library, trained on
the French text generator: ByteLevel BPE, Metaspace Unigram, WordPiece with
BERT's normalizer (lowercase and cased); plus HF directories saved by
transformers' BertTokenizerFast / RobertaTokenizerFast /
CamembertTokenizerFast (and a BERT vocab.txt-only directory). Each gets a
`.cases` file with the oracle's ids (text encode without special tokens)
and a `.words` file for is_split_into_words=True (ids and word_ids)."""
import json
import os

N_TRAIN = 2000


def _hex(s):
    return s.encode("utf-8", "surrogatepass").hex() or "-"


def _cases(path, enc, texts):
    with open(path, "w") as f:
        for t in texts:
            ids = enc(t)
            f.write(f"{_hex(t)}\t{' '.join(map(str, ids)) or '-'}\t-\n")


def _words(path, tok, texts):
    """hex(words joined by \\x1f) TAB ids TAB word_ids (-1 = None)."""
    with open(path, "w") as f:
        for t in texts:
            words = [w for w in t.split(" ") if w]
            if not words:
                continue
            enc = tok(words, is_split_into_words=True, add_special_tokens=True)
            wid = [-1 if w is None else w for w in enc.word_ids()]
            f.write(f"{_hex(chr(0x1f).join(words))}\t{' '.join(map(str, enc['input_ids']))}\t"
                    f"{' '.join(map(str, wid))}\n")


def _train(kind, train, lowercase=True, vocab_size=None):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tr = trainers.BpeTrainer(vocab_size=vocab_size or 1200, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.Replace("``", '"'), normalizers.Replace("''", '"'),
                                               normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        tr = trainers.UnigramTrainer(vocab_size=vocab_size or 1000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                     unk_token="<unk>", show_progress=False)
    else:
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=30))
        tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        tr = trainers.WordPieceTrainer(vocab_size=vocab_size or 1000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                       show_progress=False)
    tok.train_from_iterator(train, trainer=tr)
    if kind == "wordpiece":
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                           special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    else:
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                          ("<s>", tok.token_to_id("<s>")))
    return tok


def _config(d, model_type):
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": model_type}, f)


def build(out, texts):
    import tokenizers  # noqa: F401  (ImportError = skip)
    import french_text
    from tokenizers import Tokenizer
    from transformers import BertTokenizerFast, CamembertTokenizerFast, RobertaTokenizerFast
    train = french_text.lines(N_TRAIN, seed=1)
    made = {}
    for name, kind, lower in [("json_bpe", "bpe", True), ("json_unigram", "unigram", True),
                              ("json_wp_lower", "wordpiece", True), ("json_wp_cased", "wordpiece", False)]:
        path = os.path.join(out, name + ".json")
        _train(kind, train, lower).save(path)
        made[name] = path
        oracle = Tokenizer.from_file(path)
        _cases(os.path.join(out, name + ".cases"), lambda t: oracle.encode(t, add_special_tokens=False).ids, texts)
    # small seeds for the fuzz target (a few KB each)
    for name, kind in [("json_fuzz_wp", "wordpiece"), ("json_fuzz_bpe", "bpe"), ("json_fuzz_unigram", "unigram")]:
        small = _train(kind, train[:40], True, vocab_size=120)
        small.save(os.path.join(out, name + ".json"))
    words = texts[:600]
    # HF directories saved by transformers' fast tokenizers
    for name, cls, src, mtype, kw in [
            ("hf_bert", BertTokenizerFast, "json_wp_lower", "bert", {}),
            ("hf_bert_cased", BertTokenizerFast, "json_wp_cased", "bert", {"do_lower_case": False}),
            ("hf_roberta", RobertaTokenizerFast, "json_bpe", "roberta", {"add_prefix_space": True}),
            ("hf_camembert_fast", CamembertTokenizerFast, "json_unigram", "camembert", {})]:
        d = os.path.join(out, name)
        tok = cls(tokenizer_file=made[src], **kw)
        tok.save_pretrained(d)
        _config(d, mtype)
        tok = cls.from_pretrained(d)
        _cases(os.path.join(out, name + ".cases"), lambda t: tok(t, add_special_tokens=False)["input_ids"], texts)
        _words(os.path.join(out, name + ".words"), tok, words)
    # BERT without tokenizer.json: vocab.txt + tokenizer_config.json
    d = os.path.join(out, "hf_bert_vocab")
    os.makedirs(d, exist_ok=True)
    vocab = Tokenizer.from_file(made["json_wp_cased"]).get_vocab()
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        for piece, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
            f.write(piece + "\n")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False}, f)
    _config(d, "bert")
    # AutoTokenizer converts vocab.txt into BertTokenizerFast (BertTokenizer
    # differs: it NFC-normalizes the text first)
    fast = BertTokenizerFast(os.path.join(d, "vocab.txt"), do_lower_case=False)
    _cases(os.path.join(out, "hf_bert_vocab.cases"), lambda t: fast(t, add_special_tokens=False)["input_ids"], texts)

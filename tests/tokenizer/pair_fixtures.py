"""Oracle of qat_tokenizer_encode_pair: single texts and pairs through
transformers' own tokenizers, with and without `longest_first` truncation,
written as OUT/<dir>.pairs, one case a line:

    hex(a) TAB hex(b) or * (no second text) TAB max_length (0 = none)
    TAB slow (1: transformers' Python tokenizer, 0: a fast one) TAB ids TAB token_type_ids

Fast tokenizers (the tokenizers library's truncation) on the tokenizer.json
directories; the Python ("slow") CamembertTokenizer and XLMRobertaTokenizer
on the SentencePiece directories, whose truncation differs on odd budgets."""
import os
import random
import warnings

# Budgets below, at and above typical lengths, odd and even, so both texts
# get cut, one of them, or neither.
MAX_LENGTHS = [0, 6, 7, 8, 9, 12, 13, 16, 17, 24, 25, 64]


def _hex(s):
    return s.encode("utf-8", "surrogatepass").hex() or "-"


def _pairs(texts, n, seed):
    rng = random.Random(seed)
    pool = [t for t in texts if "\x00" not in t and t.strip()]
    out = []
    for i in range(n):
        a = rng.choice(pool)
        kind = i % 6
        if kind == 0:
            out.append((a, None))       # single text
        elif kind == 1:
            out.append((a, a))          # equal lengths: the tie of longest_first
        elif kind == 2:
            out.append((a, ""))         # empty second text
        else:
            out.append((a, rng.choice(pool)))
    # words repeated: exact lengths around every budget
    for la in range(0, 12):
        for lb in range(0, 12):
            out.append((" ".join(["chat"] * la) or "chat", " ".join(["souris"] * lb)))
    return out


def _write(path, tok, pairs, slow):
    with open(path, "w") as f:
        for a, b in pairs:
            if b == "" and not slow:
                continue  # fast tokenizers take text_pair="" for no pair (`if text_pair`); libqat keeps the pair
            for m in MAX_LENGTHS:
                kw = dict(truncation="longest_first", max_length=m) if m else dict(truncation=False)
                try:
                    enc = tok(a, b, return_token_type_ids=True, **kw) if b is not None else \
                        tok(a, return_token_type_ids=True, **kw)
                except Exception:  # a budget below the special tokens
                    continue
                ids, types = enc["input_ids"], enc["token_type_ids"]
                if m and len(ids) > m:
                    continue  # HF could not truncate enough (it warns and keeps them)
                f.write(f"{_hex(a)}\t{'*' if b is None else _hex(b)}\t{m}\t{int(slow)}\t"
                        f"{' '.join(map(str, ids))}\t{' '.join(map(str, types))}\n")


def build(out, texts):
    from transformers import (AutoTokenizer, CamembertTokenizer, XLMRobertaTokenizer)
    from transformers.utils import logging
    logging.set_verbosity_error()
    warnings.filterwarnings("ignore")
    pairs = _pairs(texts, 240, seed=13)
    for name in ["hf_roberta", "hf_camembert_fast", "hf_bert", "hf_bert_vocab"]:
        d = os.path.join(out, name)
        if not os.path.isdir(d):
            continue
        kw = {"do_lower_case": False} if name == "hf_bert_vocab" else {}
        tok = AutoTokenizer.from_pretrained(d, use_fast=True, **kw)
        _write(os.path.join(out, name + ".pairs"), tok, pairs, slow=False)
    for name, cls in [("hf_camembert", CamembertTokenizer), ("hf_xlmr", XLMRobertaTokenizer)]:
        d = os.path.join(out, name)
        if not os.path.isdir(d):
            continue
        tok = cls(os.path.join(d, "sentencepiece.bpe.model"))
        _write(os.path.join(out, name + ".pairs"), tok, pairs, slow=True)

"""HF checkpoint directories built from the trained SentencePiece models,
with the ids of transformers' own tokenizers as oracle (CamembertTokenizer,
XLMRobertaTokenizer): OUT/hf_camembert, OUT/hf_xlmr and their .cases."""
import json
import os
import shutil


def _write_dir(out, name, model_type, model):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": model_type, "vocab_size": 0}, f)
    shutil.copyfile(os.path.join(out, model + ".model"), os.path.join(d, "sentencepiece.bpe.model"))
    return d


def _cases(path, tok, texts):
    with open(path, "w") as f:
        for t in texts:
            if "\x00" in t:
                continue
            ids = tok(t, add_special_tokens=False)["input_ids"]
            f.write(f"{t.encode().hex() or '-'}\t{' '.join(map(str, ids)) or '-'}\t-\n")


def build(out, texts):
    import transformers  # noqa: F401  (ImportError = skip, reported by the caller)
    from transformers import CamembertTokenizer, XLMRobertaTokenizer
    d = _write_dir(out, "hf_camembert", "camembert", "unigram")
    _cases(os.path.join(out, "hf_camembert.cases"), CamembertTokenizer(os.path.join(d, "sentencepiece.bpe.model")),
           texts)
    d = _write_dir(out, "hf_xlmr", "xlm-roberta", "bpe_bytes")
    _cases(os.path.join(out, "hf_xlmr.cases"), XLMRobertaTokenizer(os.path.join(d, "sentencepiece.bpe.model")),
           texts)

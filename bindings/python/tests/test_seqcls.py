"""Sequence classification through the Python bindings: parity with
transformers' RobertaForSequenceClassification / BertForSequenceClassification
(with the quantizers of docs/method.md of tests/model/reference.py), loading a
save_pretrained checkpoint (BERT pooler included) and saving for transformers."""
import json
import sys

import numpy as np
import pytest
import torch

import libqat

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "model"))
from gen_golden import DIMS, make_inputs  # noqa: E402
from reference import build_model, quantize_model  # noqa: E402

TASK = "sequence-classification"
DIM_OPTIONS = dict(vocab_size=DIMS["vocab"], hidden_size=DIMS["hidden"], num_layers=DIMS["layers"],
                   num_heads=DIMS["heads"], intermediate_size=DIMS["inter"],
                   max_position_embeddings=DIMS["positions"], type_vocab_size=DIMS["types"],
                   pad_token_id=DIMS["pad"], num_labels=DIMS["labels"])


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def backend():
    return "cpu" if "cpu" in libqat.backends() else "ref"


def torch_inputs(ids, mask, types):
    return dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                token_type_ids=torch.from_numpy(types))


@pytest.mark.parametrize("config", ["FP32", "E8W8A8", "E2W2A2", "E6W1.58A6"])
@pytest.mark.parametrize("arch", ["roberta", "bert"])
def test_logits_loss_and_gradients_match_transformers(arch, config):
    ref = build_model(arch, "seqcls", DIMS, seed=3)
    quantize_model(ref, config)
    ids, mask, types, labels = make_inputs(arch, TASK, np.random.default_rng(3))
    assert labels.shape == (ids.shape[0],)
    with torch.no_grad():
        want_logits = ref(**torch_inputs(ids, mask, types)).logits.numpy()
    model = libqat.Model.create(arch=arch, task=TASK, context=libqat.Context(backend()), quant=config,
                                **DIM_OPTIONS)
    names = set(model.parameter_names())
    for name, value in ref.state_dict().items():
        if value.is_floating_point() and name in names:
            model.set_parameter(name, value.numpy())
    got = model.forward(ids, mask, types)
    assert got.shape == (ids.shape[0], DIMS["labels"])
    assert rel(got, want_logits) <= 1e-4
    ref.zero_grad()
    out = ref(**torch_inputs(ids, mask, types), labels=torch.from_numpy(labels))
    out.loss.backward()
    loss = model.backward(ids, mask, labels, types)
    assert loss == pytest.approx(out.loss.item(), rel=1e-4)
    params = dict(ref.named_parameters())
    for name in model.parameter_names():
        want = params[name].grad.numpy()
        got = model.get_gradient(name)
        assert rel(got, want) <= 1e-3 or np.sqrt(np.mean((got - want) ** 2)) <= 1e-6, name
    assert len(model.parameter_names()) == len(params)
    with pytest.raises(ValueError, match="labels"):
        model.backward(ids, mask, np.zeros(ids.shape, dtype=np.int32), types)  # per-token labels


@pytest.mark.parametrize("arch,architecture", [("bert", "BertForSequenceClassification"),
                                               ("roberta", "RobertaForSequenceClassification")])
def test_load_save_pretrained_and_back_to_transformers(tmp_path, arch, architecture):
    import transformers as tf

    ref = build_model(arch, "seqcls", DIMS, seed=7)
    ref.config.id2label = {i: f"class{i}" for i in range(DIMS["labels"])}
    ref.config.label2id = {v: k for k, v in ref.config.id2label.items()}
    ref.save_pretrained(tmp_path / "hf")
    ids, mask, types, _ = make_inputs(arch, TASK, np.random.default_rng(7))
    with torch.no_grad():
        want = ref(**torch_inputs(ids, mask, types)).logits.numpy()

    model = libqat.Model.load(tmp_path / "hf", task=TASK, context=libqat.Context(backend()))
    assert model.missing_keys == []
    assert model.unexpected_keys == []
    if arch == "bert":
        assert "bert.pooler.dense.weight" in model.parameter_names()
    assert model.label_names == [f"class{i}" for i in range(DIMS["labels"])]
    assert rel(model.forward(ids, mask, types), want) <= 1e-5

    # The pooler is no parameter of the other heads: reported, not used.
    if arch == "bert":
        tok = libqat.Model.load(tmp_path / "hf", task="token-classification", context=libqat.Context("ref"))
        assert "bert.pooler.dense.weight" in tok.unexpected_keys

    # libqat -> save -> transformers: same logits, same architecture.
    model.save(tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["architectures"] == [architecture]
    back = tf.AutoModelForSequenceClassification.from_pretrained(tmp_path / "out")
    back.eval()
    with torch.no_grad():
        again = back(**torch_inputs(ids, mask, types)).logits.numpy()
    assert rel(again, want) <= 1e-5
    assert back.config.id2label[0] == "class0"


def test_bad_sequence_classification_inputs():
    model = libqat.Model.create(arch="bert", task=TASK, context=libqat.Context("ref"), vocab_size=40,
                                hidden_size=16, num_layers=1, num_heads=2, intermediate_size=24,
                                max_position_embeddings=20, num_labels=3)
    ids = np.array([[2, 5, 7], [2, 9, 0]], dtype=np.int32)
    mask = np.ones_like(ids)
    assert model.forward(ids, mask).shape == (2, 3)
    with pytest.raises(libqat.QatError, match="labels"):
        model.backward(ids, mask, np.array([0, 3]))
    assert model.backward(ids, mask, np.array([-100, -100])) == 0.0
    with pytest.raises(libqat.QatError, match="regression"):
        libqat.Model.create(task=TASK, num_labels=1, context=libqat.Context("ref"))

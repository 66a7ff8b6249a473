"""libqat.Model against transformers' classes with the quantizers of docs/method.md
(tests/model/reference.py), through the Python bindings."""
import sys

import numpy as np
import pytest
import torch

import libqat

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "model"))
from gen_golden import DIMS, make_inputs  # noqa: E402
from reference import build_model, quantize_model  # noqa: E402

CONFIGS = ["FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6"]


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def twin(arch, task, config, backend, seed=0, fused_attention=False):
    """A torch model and a libqat model with the same weights and steps."""
    torch_task = "mlm" if task == "mlm" else "tokcls"
    ref = build_model(arch, torch_task, DIMS, seed=seed)
    quantize_model(ref, config)
    ids, mask, types, labels = make_inputs(arch, task, np.random.default_rng(seed))
    t = dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
             token_type_ids=torch.from_numpy(types))
    with torch.no_grad():
        want_logits = ref(**t).logits.numpy()
    model = libqat.Model.create(arch=arch, task=task, context=libqat.Context(backend, fused_attention=fused_attention), quant=config,
                                vocab_size=DIMS["vocab"], hidden_size=DIMS["hidden"], num_layers=DIMS["layers"],
                                num_heads=DIMS["heads"], intermediate_size=DIMS["inter"],
                                max_position_embeddings=DIMS["positions"], type_vocab_size=DIMS["types"],
                                pad_token_id=DIMS["pad"], num_labels=DIMS["labels"])
    names = set(model.parameter_names())
    for name, value in ref.state_dict().items():
        if value.is_floating_point() and name in names:
            model.set_parameter(name, value.numpy())
    return ref, model, (ids, mask, types, labels), want_logits


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("arch,task", [("roberta", "mlm"), ("bert", "token-classification")])
def test_logits_loss_and_gradients_match_transformers(arch, task, config):
    check_against_transformers(arch, task, config, fused_attention=False)


# The fused training attention (Context(fused_attention=True): no kept
# probabilities, the scores recomputed in the backward) on the same oracle.
@pytest.mark.parametrize("config", ["FP32", "E6W1.58A6", "E4W4A4"])
@pytest.mark.parametrize("arch,task", [("roberta", "mlm"), ("bert", "token-classification")])
def test_fused_attention_matches_transformers(arch, task, config):
    check_against_transformers(arch, task, config, fused_attention=True)


def check_against_transformers(arch, task, config, fused_attention):
    backend = "cpu" if "cpu" in libqat.backends() else "ref"
    ref, model, (ids, mask, types, labels), want_logits = twin(arch, task, config, backend,
                                                                fused_attention=fused_attention)
    assert model.context.fused_attention == fused_attention
    got = model.forward(ids, mask, types)
    assert got.shape == want_logits.shape
    assert rel(got, want_logits) <= 1e-4
    ref.zero_grad()
    out = ref(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
              token_type_ids=torch.from_numpy(types), labels=torch.from_numpy(labels))
    out.loss.backward()
    loss = model.backward(ids, mask, labels, types)
    assert loss == pytest.approx(out.loss.item(), rel=1e-4)
    params = dict(ref.named_parameters())
    checked = 0
    for name in model.parameter_names():
        want = params[name].grad.numpy()
        got = model.get_gradient(name)
        assert got.shape == want.shape, name
        assert rel(got, want) <= 1e-3 or np.sqrt(np.mean((got - want) ** 2)) <= 1e-6, name
        checked += 1
    assert checked == len(params)


def test_parameter_round_trip_and_names():
    model = libqat.Model.create(task="token-classification", context=libqat.Context("ref"), vocab_size=40,
                                hidden_size=16, num_layers=1, num_heads=2, intermediate_size=24,
                                max_position_embeddings=20, num_labels=3, quant="E8W8A8")
    names = model.parameter_names()
    assert names[0] == "roberta.embeddings.word_embeddings.weight"
    assert "roberta.embeddings.word_embeddings.weight_quantizer.step" in names
    assert "roberta.encoder.layer.0.attention.self.query.input_quantizer.step" in names
    assert names[-1] == "classifier.bias"
    w = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    model.set_parameter("classifier.weight", w)
    np.testing.assert_array_equal(model.get_parameter("classifier.weight"), w)


def test_errors_are_raised_with_messages():
    model = libqat.Model.create(task="mlm", context=libqat.Context("ref"), vocab_size=40, hidden_size=16,
                                num_layers=1, num_heads=2, intermediate_size=24, max_position_embeddings=20)
    with pytest.raises(libqat.QatError, match="no parameter named"):
        model.get_parameter("nope")
    with pytest.raises(libqat.QatError, match="outside the vocabulary"):
        model.forward(np.array([[0, 41]]))
    with pytest.raises(libqat.QatError, match="exceeds"):
        model.forward(np.zeros((1, 19), dtype=np.int32))
    with pytest.raises(libqat.QatError, match="values given"):
        model.set_parameter("lm_head.bias", np.zeros(3))
    with pytest.raises(ValueError):
        model.forward(np.zeros(5, dtype=np.int32))
    with pytest.raises(libqat.QatError, match="hidden_size"):
        libqat.Model.create(hidden_size=10, num_heads=3, context=libqat.Context("ref"))

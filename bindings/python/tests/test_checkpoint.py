"""Loading real HF checkpoint layouts into libqat and saving models that
transformers reloads."""
import sys

import numpy as np
import pytest
import torch

import libqat

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "model"))
from gen_golden import DIMS, make_inputs  # noqa: E402
from reference import build_model, quantize_model  # noqa: E402


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def hf_logits(model, ids, mask, types):
    with torch.no_grad():
        return model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                     token_type_ids=torch.from_numpy(types)).logits.numpy()


@pytest.mark.parametrize("safe", [True, False], ids=["safetensors", "torch-bin"])
@pytest.mark.parametrize("arch,task,hf_task,tie", [("roberta", "mlm", "mlm", True), ("bert", "mlm", "mlm", False),
                                                   ("bert", "token-classification", "tokcls", True)])
def test_load_hf_checkpoint(tmp_path, arch, task, hf_task, tie, safe):
    ref = build_model(arch, hf_task, DIMS, seed=3, tie=tie)
    ref.save_pretrained(tmp_path, safe_serialization=safe)
    ids, mask, types, _ = make_inputs(arch, task, np.random.default_rng(0))
    model = libqat.Model.load(tmp_path, task=task, context=libqat.Context("ref"))
    assert rel(model.forward(ids, mask, types), hf_logits(ref, ids, mask, types)) <= 1e-5
    assert model.missing_keys == []
    if arch == "bert":
        assert model.unexpected_keys == [] or all("pooler" in k for k in model.unexpected_keys)


def test_heads_missing_and_unexpected_are_reported(tmp_path):
    ref = build_model("roberta", "mlm", DIMS, seed=4)
    ref.save_pretrained(tmp_path)
    model = libqat.Model.load(tmp_path, task="token-classification", num_labels=3, context=libqat.Context("ref"))
    assert sorted(model.missing_keys) == ["classifier.bias", "classifier.weight"]
    assert any(k.startswith("lm_head.") for k in model.unexpected_keys)
    w = model.get_parameter("classifier.weight")
    assert w.shape == (3, DIMS["hidden"]) and 0.005 < w.std() < 0.05   # normal(0, 0.02)
    np.testing.assert_array_equal(model.get_parameter("classifier.bias"), 0)


@pytest.mark.parametrize("task,hf_cls", [("mlm", "RobertaForMaskedLM"),
                                         ("token-classification", "RobertaForTokenClassification")])
def test_saved_model_reloads_in_transformers(tmp_path, task, hf_cls):
    import transformers
    model = libqat.Model.create(task=task, context=libqat.Context("ref"), vocab_size=DIMS["vocab"],
                                hidden_size=DIMS["hidden"], num_layers=DIMS["layers"], num_heads=DIMS["heads"],
                                intermediate_size=DIMS["inter"], max_position_embeddings=DIMS["positions"],
                                num_labels=DIMS["labels"])
    model.save(tmp_path)
    hf = getattr(transformers, hf_cls).from_pretrained(tmp_path)
    hf.eval()
    ids, mask, _, _ = make_inputs("roberta", task, np.random.default_rng(1))
    zeros = np.zeros_like(ids)
    assert rel(hf_logits(hf, ids, mask, zeros), model.forward(ids, mask)) <= 1e-5
    for name, p in hf.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), model.get_parameter(name), err_msg=name)


def test_quantizer_state_round_trips(tmp_path):
    ref = build_model("roberta", "tokcls", DIMS, seed=5)
    ref.save_pretrained(tmp_path / "hf")
    ids, mask, types, labels = make_inputs("roberta", "token-classification", np.random.default_rng(2))
    model = libqat.Model.load(tmp_path / "hf", task="token-classification", num_labels=DIMS["labels"],
                              quant="E8W4A8", context=libqat.Context("ref"))
    model.forward(ids, mask)             # initialises the activation steps
    step = "roberta.encoder.layer.1.output.dense.input_quantizer.step"
    wstep = "roberta.encoder.layer.0.attention.self.key.weight_quantizer.step"
    for name in (step, wstep):  # trained values, not initial ones
        model.set_parameter(name, model.get_parameter(name) * 1.5)
    want = model.forward(ids, mask)
    model.save(tmp_path / "qat")
    again = libqat.Model.load(tmp_path / "qat", task="token-classification", context=libqat.Context("ref"))
    np.testing.assert_array_equal(again.get_parameter(step), model.get_parameter(step))
    np.testing.assert_array_equal(again.get_parameter(wstep), model.get_parameter(wstep))
    np.testing.assert_array_equal(again.forward(ids, mask), want)
    # the quantized reference agrees with the reloaded libqat model
    quantize_model(ref, "E8W4A8")
    for name, p in ref.named_parameters():
        if name.endswith(".step"):
            with torch.no_grad():
                p.copy_(torch.from_numpy(again.get_parameter(name)).reshape(p.shape))
            ref.get_submodule(name.rsplit(".", 1)[0]).initialized = True
    assert rel(hf_logits(ref, ids, mask, types), want) <= 1e-4


def test_bad_directories_fail_clearly(tmp_path):
    with pytest.raises(libqat.QatError) as err:
        libqat.Model.load(tmp_path / "nope", context=libqat.Context("ref"))
    assert "nope" in err.value.message
    (tmp_path / "config.json").write_text('{"model_type": "roberta", "vocab_size": "x"}')
    with pytest.raises(libqat.QatError, match="vocab_size"):
        libqat.Model.load(tmp_path, context=libqat.Context("ref"))


def test_partial_loads_must_be_asked_for(tmp_path):
    """A transformers checkpoint without one encoder tensor: an error naming
    it, unless partial=True (then it is new and listed); NaN weights fail
    either way."""
    from safetensors.torch import load_file, save_file
    ref = build_model("roberta", "mlm", DIMS, seed=5)
    ref.save_pretrained(tmp_path)
    weights = load_file(str(tmp_path / "model.safetensors"))
    gone = "roberta.encoder.layer.0.output.dense.weight"
    save_file({k: v for k, v in weights.items() if k != gone}, str(tmp_path / "model.safetensors"),
              metadata={"format": "pt"})
    ctx = libqat.Context("ref")
    with pytest.raises(libqat.QatError, match=gone.replace(".", r"\.")) as err:
        libqat.Model.load(tmp_path, context=ctx)
    assert "partial" in err.value.message
    model = libqat.Model.load(tmp_path, context=ctx, partial=True)
    assert model.missing_keys == [gone]
    weights[gone][0, 0] = float("nan")
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    for partial in (False, True):
        with pytest.raises(libqat.QatError, match="NaN"):
            libqat.Model.load(tmp_path, context=ctx, partial=partial)

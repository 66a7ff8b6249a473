"""The trainer against torch.optim.AdamW + transformers' linear schedule +
clip_grad_norm_ on the same quantized model, and the pipeline from Python."""
import sys

import numpy as np
import pytest
import torch

import libqat

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "model"))
from gen_golden import DIMS, make_inputs  # noqa: E402
from test_model import rel, twin  # noqa: E402


@pytest.mark.parametrize("config", ["FP32", "E8W8A8", "E6W1.58A6"])
def test_adamw_steps_match_torch(config):
    ref, model, (ids, mask, types, labels), _ = twin("roberta", "token-classification", config, "ref", seed=7)
    steps, lr = 4, 1e-3
    trainer = libqat.Trainer(model, total_steps=steps, learning_rate=lr, batch_size=ids.shape[0])
    ref.train()
    for m in ref.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    model.train(False)  # dropout off on both sides (the trainer turned it on)
    decay = [p for n, p in ref.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n or n.endswith(".step"))]
    no_decay = [p for n, p in ref.named_parameters() if n.endswith("bias") or "LayerNorm" in n or n.endswith(".step")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-8)
    from transformers import get_linear_schedule_with_warmup
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=1, num_training_steps=steps)
    t = {k: torch.from_numpy(v) for k, v in dict(input_ids=ids, attention_mask=mask, token_type_ids=types).items()}
    for _ in range(steps):
        opt.zero_grad()
        loss = ref(**t, labels=torch.from_numpy(labels)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        opt.step()
        sched.step()
        ours = trainer.step(ids, mask, labels)
        assert ours == pytest.approx(loss.item(), rel=1e-3)
    assert trainer.steps_done == steps
    for name, p in ref.named_parameters():
        want = p.detach().numpy().reshape(model.parameter_shape(name))
        got = model.get_parameter(name)
        if name.endswith(".step"):
            # A step's gradient sums +-(round(v) - v) over the whole tensor
            # and is near zero; once Adam has moved the weights by ~1e-7, a
            # few values cross a rounding boundary and flip its sign, and
            # Adam's update is ~lr whatever the gradient's size. Compare in
            # units of lr.
            assert np.abs(got - want).max() <= 0.25 * lr * steps, name
        else:
            assert rel(got, want) <= 1e-3, name


def test_pipeline_from_python(tmp_path):
    import subprocess
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_demo.py"), str(data)], check=True)
    seen = []
    f1 = libqat.run_pipeline(data / "model", data / "task.conll", tmp_path / "run", tokenizer=data / "spm.model",
                             quant="E6W1.58A6", alpha=0.5, total_steps=6, corpus=data / "corpus.txt", max_seq_len=32,
                             batch_size=8, learning_rate=1e-3, context=libqat.Context("ref", threads=1),
                             progress=lambda phase, step, total, loss: seen.append((phase, step)) and False)
    assert 0.0 <= f1 <= 1.0
    assert ("dapt", 3) in seen and ("finetune", 3) in seen
    model = libqat.Model.load(tmp_path / "run" / "model", task="token-classification", context=libqat.Context("ref"))
    assert model.label_names[0] == "ADJ"
    tok = libqat.Tokenizer.load(data / "spm.model")
    assert model.evaluate(tok, data / "task.conll", max_seq_len=32) == pytest.approx(
        model.evaluate(tok, data / "task.conll", max_seq_len=32))
    with pytest.raises(libqat.QatError, match="alpha"):
        libqat.run_pipeline(data / "model", data / "task.conll", tmp_path / "bad", alpha=1.5)


def test_shared_prefix_and_adaptive_from_python(tmp_path):
    """run_dapt + run_pipeline(dapt_dir=) (the seed code's plan) and
    alpha="auto" (adaptive alpha): the plan and the chosen alpha reach
    results.json; a shared-prefix cell with the same alpha as the DAPT
    run's last snapshot starts from the same weights as a per-alpha run."""
    import json
    import subprocess
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_demo.py"), str(data)], check=True)
    common = dict(quant="E6W1.58A6", total_steps=8, tokenizer=data / "spm.model", max_seq_len=32, batch_size=8,
                  learning_rate=1e-3)
    libqat.run_dapt(data / "model", data / "corpus.txt", tmp_path / "dapt", [0.25, 0.5],
                    context=libqat.Context("ref", threads=1), **common)
    snapshots = sorted(p.name for p in (tmp_path / "dapt" / "snapshots").iterdir())
    assert snapshots == ["step-2", "step-4"]
    f1 = libqat.run_pipeline(data / "model", data / "task.conll", tmp_path / "cell", alpha=0.5,
                             dapt_dir=tmp_path / "dapt", context=libqat.Context("ref", threads=1), **common)
    assert 0.0 <= f1 <= 1.0
    results = json.loads((tmp_path / "cell" / "results.json").read_text())
    assert results["plan"] == "shared-prefix"
    with pytest.raises(libqat.QatError, match="no snapshot"):
        libqat.run_pipeline(data / "model", data / "task.conll", tmp_path / "cell2", alpha=0.75,
                            dapt_dir=tmp_path / "dapt", context=libqat.Context("ref", threads=1), **common)
    libqat.run_pipeline(data / "model", data / "task.conll", tmp_path / "auto", alpha="auto",
                        corpus=data / "corpus.txt", adaptive={"eval_every": 2, "patience": 1},
                        context=libqat.Context("ref", threads=1), **common)
    results = json.loads((tmp_path / "auto" / "results.json").read_text())
    assert results["alpha_mode"] == "adaptive"
    with pytest.raises(ValueError, match="unknown adaptive option"):
        libqat.run_pipeline(data / "model", data / "task.conll", tmp_path / "bad", alpha="auto",
                            adaptive={"patient": 2})


_DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS",
              "SLURM_LOCALID", "QAT_DIST_FILE")


def test_communicator_from_environment(monkeypatch):
    """No rank variables: one rank, and a trainer over it steps as without
    it; two ranks on a CPU backend: refused with the variables named."""
    for name in _DIST_VARS:
        monkeypatch.delenv(name, raising=False)
    losses = []
    for use_comm in (False, True):
        _, model, (ids, mask, _types, labels), _ = twin("roberta", "token-classification", "E6W1.58A6", "ref", seed=3)
        trainer = libqat.Trainer(model, total_steps=2, learning_rate=1e-3, batch_size=ids.shape[0])
        if use_comm:
            comm = libqat.Communicator(model.context)
            assert (comm.rank, comm.world_size, comm.local_rank, comm.kind) == (0, 1, 0, "single")
            trainer.set_comm(comm)
        losses.append([trainer.step(ids, mask, labels) for _ in range(2)])
    assert losses[0] == losses[1]
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    with pytest.raises(libqat.QatError, match="RANK/WORLD_SIZE gives 2 ranks .* the ref backend has no communicator"):
        libqat.Communicator(libqat.Context("ref"))
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(libqat.QatError, match="RANK=2 is not below WORLD_SIZE=2"):
        libqat.Communicator(libqat.Context("ref"))

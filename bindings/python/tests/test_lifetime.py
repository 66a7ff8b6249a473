"""Objects closed or collected in any order ("Lifetime" in qat/core.h):
interpreter exit with live objects, a context closed before its models,
every order of closing, reference cycles, __del__ after module globals are
gone, a packed model's tokenizer after the model is closed."""
import gc
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import libqat
from libqat.packed import PackedModel, export

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "model"))
from gen_golden import DIMS  # noqa: E402
from reference import build_model  # noqa: E402

HERE = Path(__file__).resolve().parent
BACKENDS = [b for b in ("ref", "cpu") if b in libqat.backends()]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """RoBERTa and BERT, MLM and token classification: with six configs
    each, the 24 loads of issue 21 item 4."""
    root = tmp_path_factory.mktemp("checkpoints")
    dirs = []
    for arch in ("roberta", "bert"):
        for task in ("mlm", "tokcls"):
            d = root / f"{arch}-{task}"
            build_model(arch, task, DIMS, seed=1).save_pretrained(d)
            dirs.append(d)
    return dirs


def run_script(backend, dirs, *extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    return subprocess.run([sys.executable, str(HERE / "exit_with_live_objects.py"), backend, *extra,
                           *map(str, dirs)], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("backend", BACKENDS)
def test_exit_with_live_objects(checkpoints, backend):
    run = run_script(backend, checkpoints)
    assert run.returncode == 0, f"exit status {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "24 models" in run.stdout
    assert "Exception ignored" not in run.stderr, run.stderr


def test_del_after_module_globals_are_gone(checkpoints):
    run = run_script("ref", checkpoints[:1], "--clear-globals")
    assert run.returncode == 0, f"exit status {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "6 models" in run.stdout


def tiny_model(context, quant="E6W1.58A6"):
    return libqat.Model.create(task="token-classification", context=context, quant=quant, vocab_size=23,
                               hidden_size=8, num_layers=1, num_heads=2, intermediate_size=12,
                               max_position_embeddings=8, num_labels=3)


def batch():
    ids = (np.arange(10, dtype=np.int32).reshape(2, 5) % 20) + 3
    return ids, np.ones_like(ids), ids % 3


def use(objects, closed):
    ids, mask, labels = batch()
    if "context" not in closed:
        assert objects["context"].seed == 42
    if "config" not in closed:
        assert str(objects["config"]) == "E6W1.58A6"
    if "model" not in closed:
        assert objects["model"].forward(ids, mask).shape == (2, 5, 3)
        assert objects["model"].backward(ids, mask, labels) > 0
    if "trainer" not in closed:
        assert objects["trainer"].step(ids, mask, labels) > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_order_of_closing(backend):
    names = ["context", "config", "model", "trainer"]
    for order in itertools.permutations(names):
        context = libqat.Context(backend, threads=1)
        config = libqat.QuantConfig("E6W1.58A6")
        model = tiny_model(context, config)
        objects = dict(context=context, config=config, model=model,
                       trainer=libqat.Trainer(model, total_steps=50, batch_size=2))
        closed = set()
        for name in order:
            objects[name].close()
            closed.add(name)
            use(objects, closed)


def test_closed_objects_refuse_calls():
    context = libqat.Context("ref")
    model = tiny_model(context)
    context.close()
    context.close()  # twice is harmless
    with pytest.raises(libqat.QatError, match="NULL"):
        context.threads
    ids, mask, _ = batch()
    model.forward(ids, mask)  # the model still holds the context
    model.close()
    with pytest.raises(libqat.QatError):
        model.forward(ids, mask)


def test_objects_freed_after_their_context():
    context = libqat.Context("ref", seed=5)
    models = [tiny_model(context) for _ in range(3)]
    del context
    gc.collect()
    ids, mask, labels = batch()
    for m in models:
        assert m.backward(ids, mask, labels) > 0
    # The Python context object is gone, the C one lives on in the models.
    models[0].context.close()
    assert models[1].backward(ids, mask, labels) > 0


def test_reference_cycles_collected_in_any_order():
    """The collector finalizes the members of a garbage cycle in an order
    of its own (here the context, created first, goes first)."""
    gc.collect()
    before = len(gc.garbage)
    for _ in range(3):
        context = libqat.Context("ref")
        model = tiny_model(context)
        trainer = libqat.Trainer(model, total_steps=5, batch_size=2)
        context.cycle = (model, trainer)
        trainer.cycle = context
        del context, model, trainer
        assert gc.collect() > 0
    assert len(gc.garbage) == before


def test_packed_tokenizer_after_the_model_is_closed(tmp_path):
    model = tiny_model(libqat.Context("ref"), quant="E8W8A8")
    ids, mask, _ = batch()
    model.forward(ids, mask)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n")
    export(model, tmp_path / "m.qatp", tokenizer=vocab)
    pm = PackedModel(tmp_path / "m.qatp")
    tok = pm.tokenizer()
    assert tok.encode("hello world") == [5, 6]
    pm.close()
    with pytest.raises(libqat.QatError):
        tok.encode("hello world")
    del tok
    gc.collect()

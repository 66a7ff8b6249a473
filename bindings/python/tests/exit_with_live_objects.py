"""Run by test_lifetime.py in a fresh interpreter: the script of issue 21
item 4. One Context loads checkpoints in turn (each directory of argv[2:],
with six quant configs), runs forward, backward and get_gradient on each,
keeps every object in module globals that a function closes over (a cycle
with the module's dict, so the interpreter's last garbage collection
finalizes them in its own order), and exits without closing anything.

With --clear-globals it first does what interpreter exit does to modules
left alive: it sets libqat's module globals to None, then drops the objects.

usage: exit_with_live_objects.py BACKEND [--clear-globals] DIR..."""
import gc
import json
import sys
from pathlib import Path

import numpy as np

import libqat

CONFIGS = ["FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6"]


def inputs(config: dict, task: str):
    rng = np.random.default_rng(0)
    ids = rng.integers(3, config["vocab_size"], size=(2, 7)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    labels = rng.integers(0, config.get("num_labels", 2) if task != "mlm" else config["vocab_size"], size=ids.shape)
    labels[mask == 0] = -100
    return ids, mask, labels


backend, args = sys.argv[1], sys.argv[2:]
clear_globals = "--clear-globals" in args
dirs = [Path(a) for a in args if a != "--clear-globals"]
context = libqat.Context(backend, threads=1)
models, gradients = [], []
for d in dirs:
    config = json.loads((d / "config.json").read_text())
    task = "mlm" if config["architectures"][0].endswith("MaskedLM") else "token-classification"
    for quant in CONFIGS:
        model = libqat.Model.load(d, quant=quant, task=task, context=context)
        ids, mask, labels = inputs(config, task)
        model.forward(ids, mask)
        model.backward(ids, mask, labels)
        gradients.append(model.get_gradient(model.parameter_names()[0]))
        models.append(model)
trainer = libqat.Trainer(models[-1], total_steps=3, batch_size=2)
config = libqat.QuantConfig("E6W1.58A6")
print(f"{len(models)} models", flush=True)


def everything():  # closes over the module's globals: a reference cycle
    return context, models, trainer, config


if clear_globals:
    # (A hook set for the whole run would keep this module's globals alive
    # until late in the exit and change the order the plain run must test.)
    unraisable = []
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} in {u.object!r}")
    for name, module in list(sys.modules.items()):
        if name == "libqat" or name.startswith("libqat."):
            for key in list(vars(module)):
                if not key.startswith("__"):
                    vars(module)[key] = None
    del context, models, trainer, config, model
    gc.collect()
    if unraisable:
        print("\n".join(unraisable), file=sys.stderr)
        sys.exit(3)

"""A notebook-style tour of libqat's Python API, cell by cell, on the demo's
small model (examples/make_demo.py makes it; no download needed).

    LIBQAT_LIBRARY=build/libqat.so.0 python3 examples/walkthrough.py [WORK_DIR]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
import libqat  # noqa: E402

work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="libqat-tour-")
data = os.path.join(work, "data")

# %% 1. The library, its backends, a quant config
print("libqat", libqat.version(), "backends:", libqat.backends())
cfg = libqat.QuantConfig("E6W1.58A6")
print(cfg, cfg.describe()["weight"])

# %% 2. Demo data: a 2-layer encoder saved in HF layout, a SentencePiece model, a POS task
subprocess.run([sys.executable, os.path.join(HERE, "make_demo.py"), data], check=True)
tok = libqat.Tokenizer.load(os.path.join(data, "spm.model"))
print("tokens:", tok.encode("Le patient présente une fièvre."))

# %% 3. Load the checkpoint as a token classifier, quantized, and look inside
ctx = libqat.Context("cpu" if "cpu" in libqat.backends() else "ref", threads=1)
model = libqat.Model.load(os.path.join(data, "model"), task="token-classification", num_labels=7,
                          quant="E6W1.58A6", context=ctx)
print("missing (fresh) keys:", model.missing_keys)
print(len(model.parameter_names()), "parameters, e.g.", model.parameter_names()[1])

# %% 4. Forward and backward on a batch; gradients by Hugging Face name
ids = np.array([tok.encode("le patient reçoit une dose") + [1] * 2])
mask = (ids != 1).astype(np.int32)
labels = np.where(mask == 1, 0, -100)
print("logits", model.forward(ids, mask).shape, "loss", model.backward(ids, mask, labels))
print("|grad classifier|", float(np.abs(model.get_gradient("classifier.weight")).mean()))

# %% 5. The study's protocol in one call: DAPT on the corpus, fine-tuning, evaluation
f1 = libqat.run_pipeline(os.path.join(data, "model"), os.path.join(data, "task.conll"), os.path.join(work, "run"),
                         tokenizer=os.path.join(data, "spm.model"), corpus=os.path.join(data, "corpus.txt"),
                         quant="E6W1.58A6", alpha=0.5, total_steps=60, max_seq_len=32, batch_size=16,
                         learning_rate=3e-3, context=ctx)
print(f"test F1 {100 * f1:.1f} %  (run/results.json has the rest)")

# %% 6. The trained model, evaluated again and packed for integer inference
trained = libqat.Model.load(os.path.join(work, "run", "model"), task="token-classification", context=ctx)
print("labels:", trained.label_names)
print("F1 on the whole task file:", trained.evaluate(tok, os.path.join(data, "task.conll"), max_seq_len=32))
packed_path = os.path.join(work, "model.qatp")
libqat.export(trained, packed_path, tokenizer=os.path.join(data, "spm.model"))
with libqat.PackedModel(packed_path) as packed:
    same = np.argmax(packed.forward(ids, mask), -1) == np.argmax(trained.forward(ids, mask), -1)
    print("packed model:", packed.quant, "same tags as the float model:", bool(same.all()))

# %% 7. What the config costs (docs/method.md section 8)
size, bitops = libqat.estimate(os.path.join(data, "model", "config.json"), "E6W1.58A6", 32)
fp_size, fp_bitops = libqat.estimate(os.path.join(data, "model", "config.json"), "FP32", 32)
print(f"E6W1.58A6: {size / 1e6:.3f} MB ({fp_size / size:.1f}x smaller), {bitops / 1e9:.3f} GBitOPs "
      f"({fp_bitops / bitops:.0f}x fewer)")

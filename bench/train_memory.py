"""Resident memory a training step adds: VmRSS of this process after two
trainer steps minus VmRSS before the first (activations, gradients, AdamW's
moments and the backend's scratch; the weights are there before). Compare
two builds by running it once with each (QAT_BUILD_DIR or LIBQAT_LIBRARY).
On the cpu backend host buffers come from calloc, so a buffer no kernel
writes costs nothing: what counts is what the step touches.

    python3 bench/train_memory.py [--quant E6W1.58A6] [--layers 4] [--batch 8] [--seq 128] [--fused-attention]

--fused-attention sets QAT_CTX_FUSED_ATTENTION (no [batch, heads, L, L]
probabilities kept for the backward).
"""
import argparse

from libqat_paths import setup_paths

setup_paths()

import numpy as np  # noqa: E402

import libqat  # noqa: E402


def vm_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quant", default="E6W1.58A6")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--backend", default="cpu")
    p.add_argument("--fused-attention", action="store_true")
    a = p.parse_args()
    ctx = libqat.Context(a.backend, threads=1, seed=1, fused_attention=a.fused_attention)
    m = libqat.Model.create(arch="roberta", task="token-classification", context=ctx, quant=a.quant,
                            vocab_size=1000, hidden_size=768, num_layers=a.layers, num_heads=12,
                            intermediate_size=3072, max_position_embeddings=a.seq + 2, num_labels=5)
    t = libqat.Trainer(m, total_steps=4, learning_rate=1e-4, batch_size=a.batch)
    ids = np.random.default_rng(0).integers(4, 1000, size=(a.batch, a.seq)).astype(np.int32)
    mask, labels = np.ones_like(ids), (ids % 5).astype(np.int32)
    before = vm_rss_kib()
    for _ in range(2):
        t.step(ids, mask, labels)
    fused = ", fused attention" if a.fused_attention else ""
    print(f"{a.quant} {a.layers} layers {a.batch}x{a.seq} on {a.backend}{fused} (BERT-base widths): "
          f"a training step adds {(vm_rss_kib() - before) / 1024:.0f} MiB resident")


if __name__ == "__main__":
    main()

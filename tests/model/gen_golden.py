"""Writes golden files for the encoder tests: small random HF models
(RoBERTa and BERT, MLM, token and sequence classification, every study
config), the
logits of a padded batch, the loss and every gradient, computed by
transformers' own classes with the quantizers of reference.py.

usage: gen_golden.py OUT_DIR"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_golden  # noqa: E402
from reference import LsqPlusQuantizer, build_model, quantize_model  # noqa: E402

CONFIGS = ["FP32", "E8W8A8", "E4W4A4", "E2W2A2", "E6W2A6", "E6W1.58A6"]
# Odd sizes on purpose: hidden 20 (not a multiple of 8), head size 5.
DIMS = dict(vocab=53, hidden=20, layers=2, heads=4, inter=36, positions=40, types=2, pad=1, labels=5)
BATCH, SEQ = 3, 9


def make_inputs(arch: str, task: str, rng: np.random.Generator):
    pad = DIMS["pad"]
    ids = rng.integers(3, DIMS["vocab"], size=(BATCH, SEQ)).astype(np.int64)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    lengths = [SEQ, SEQ - 3, 4]
    for b, n in enumerate(lengths):
        ids[b, n:] = pad
        mask[b, n:] = 0
    types = rng.integers(0, DIMS["types"], size=(BATCH, SEQ)) if arch == "bert" else np.zeros((BATCH, SEQ))
    types = (types * mask).astype(np.int64)
    if task == "sequence-classification":
        labels = rng.integers(0, DIMS["labels"], size=(BATCH,)).astype(np.int64)
        return ids, mask, types, labels
    if task == "mlm":
        labels = np.full((BATCH, SEQ), -100, dtype=np.int64)
        chosen = (rng.random((BATCH, SEQ)) < 0.4) & (mask == 1)
        chosen[0, 1] = True
        labels[chosen] = rng.integers(0, DIMS["vocab"], size=int(chosen.sum()))
    else:
        labels = rng.integers(0, DIMS["labels"], size=(BATCH, SEQ)).astype(np.int64)
        labels[mask == 0] = -100
        labels[1, 2] = -100  # a non-first sub-token
    return ids, mask, types, labels


MODEL_TASK = {"mlm": "mlm", "token-classification": "tokcls", "sequence-classification": "seqcls"}
TASK_ID = {"mlm": 1, "token-classification": 2, "sequence-classification": 3}  # qat_task
SEQCLS_CONFIGS = ["FP32", "E8W8A8", "E2W2A2", "E6W1.58A6", "E6W1.58A6@seed-code", "E8W4(row)A6(lsq+)"]
VARIANT_CONFIGS = ["E6W1.58A6@seed-code", "E8W8A8@seed-code", "E8W4(row)A8(lsq+)", "E6W1.58A4(lsq+)"]
# Each switch alone on both architectures and both heads (the MLM head
# switch on MLM models only), plus per-row BitNet and LSQ+ with frozen steps.
SINGLE_SWITCHES = [(arch, task, config)
                   for config in ("E4W4A4@shared", "E4W4A4@frozen-step", "E6W1.58A6@symmetric", "E6W1.58(row)A6")
                   for arch in ("roberta", "bert") for task in ("mlm", "token-classification")]
SINGLE_SWITCHES += [(arch, "mlm", config) for config in ("E8W8A8@mlm-head", "E6W1.58A6@mlm-head",
                                                        "E8W4(row)A8@mlm-head") for arch in ("roberta", "bert")]
SINGLE_SWITCHES += [("roberta", "token-classification", "E2W2A2(lsq+)@frozen-step"),
                    ("bert", "mlm", "E4W4A4(lsq+)@shared")]


def case(arch: str, task: str, config: str, tie: bool, seed: int, ignore_one: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    model = build_model(arch, MODEL_TASK[task], DIMS, seed=seed, tie=tie)
    quantize_model(model, config)
    ids, mask, types, labels = make_inputs(arch, task, rng)
    if task == "sequence-classification" and ignore_one:
        labels[1] = -100  # ignored sequence: the mean runs over the others
    t = {k: torch.from_numpy(v) for k, v in dict(input_ids=ids, attention_mask=mask, token_type_ids=types).items()}
    with torch.no_grad():
        model(**t)  # the first forward initialises the LSQ / LSQ+ activation quantizers
        # LSQ+'s initial range ends exactly on the batch's extreme values,
        # where float rounding decides whether they are clipped: move it off
        # them, so that the comparison below tests the math, not a coin flip
        # (the initialisation itself has its own test).
        for q in model.modules():
            if isinstance(q, LsqPlusQuantizer):
                q.step.mul_(1.013)
                q.offset.sub_(0.37 * q.step)
        logits = model(**t).logits
    model.zero_grad()
    out = model(**t, labels=torch.from_numpy(labels))
    out.loss.backward()
    records = {
        "meta": np.array([0 if arch == "roberta" else 1, TASK_ID[task], DIMS["vocab"], DIMS["hidden"],
                          DIMS["layers"], DIMS["heads"], DIMS["inter"], DIMS["positions"], DIMS["types"],
                          DIMS["pad"], DIMS["labels"], int(tie), BATCH, SEQ], dtype=np.int32),
        "quant": config,
        "input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels,
        "logits": logits.numpy(), "loss": out.loss.detach().reshape(1).numpy(),
    }
    by_ptr = {p.data_ptr(): p for p in model.parameters()}
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            continue  # position_ids buffers
        p = by_ptr[tensor.data_ptr()]
        records["param:" + name] = tensor.numpy()
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        records["grad:" + name] = grad.numpy()
    return records


def main() -> None:
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    names = []
    seed = 1
    for arch in ("roberta", "bert"):
        for task in ("mlm", "token-classification"):
            for config in CONFIGS:
                name = f"{arch}-{task}-{config}"
                write_golden(os.path.join(out_dir, name + ".golden"), case(arch, task, config, True, seed))
                names.append(name)
                seed += 1
    for arch in ("roberta", "bert"):
        for i, config in enumerate(SEQCLS_CONFIGS):
            name = f"{arch}-sequence-classification-{config}"
            write_golden(os.path.join(out_dir, name + ".golden"),
                         case(arch, "sequence-classification", config, True, seed, ignore_one=i == 1))
            names.append(name)
            seed += 1
    # Quantizer variants (docs/method.md sections 10-11): the seed code's profile and
    # each of its switches, LSQ+ activations, per-channel LSQ weights.
    for arch in ("roberta", "bert"):
        for task in ("mlm", "token-classification"):
            for config in VARIANT_CONFIGS:
                name = f"{arch}-{task}-{config}"
                write_golden(os.path.join(out_dir, name + ".golden"), case(arch, task, config, True, seed))
                names.append(name)
                seed += 1
    for arch, task, config in SINGLE_SWITCHES:
        name = f"{arch}-{task}-{config}"
        write_golden(os.path.join(out_dir, name + ".golden"), case(arch, task, config, True, seed))
        names.append(name)
        seed += 1
    for config in ("FP32", "E6W1.58A6", "E8W8A8@mlm-head"):  # untied MLM decoder
        name = f"roberta-mlm-untied-{config}"
        write_golden(os.path.join(out_dir, name + ".golden"), case("roberta", "mlm", config, False, seed))
        names.append(name)
        seed += 1
    # HF checkpoint directories for the loader tests, with their logits.
    for arch, task, safe in (("roberta", "mlm", True), ("bert", "token-classification", False),
                             ("bert", "sequence-classification", True),
                             ("roberta", "sequence-classification", False)):
        model = build_model(arch, MODEL_TASK[task], DIMS, seed=seed)
        seed += 1
        hf_dir = os.path.join(out_dir, f"hf-{arch}-{task}")
        model.save_pretrained(hf_dir, safe_serialization=safe)
        ids, mask, types, _ = make_inputs(arch, task, np.random.default_rng(seed))
        with torch.no_grad():
            logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                           token_type_ids=torch.from_numpy(types)).logits.numpy()
        write_golden(os.path.join(hf_dir, "expected.golden"),
                     {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "logits": logits,
                      "task": np.array([TASK_ID[task]], dtype=np.int32)})
    with open(os.path.join(out_dir, "index.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()

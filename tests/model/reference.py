"""PyTorch reference of libqat's encoder: Hugging Face's own RoBERTa/BERT
classes with the quantizers of SPEC section 4 patched in, written the way the
study's paper defines them (LSQ with the step gradient scaled by g, BitNet
b1.58 absmean ternary weights and per-token absmax activations, both with the
straight-through estimator)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def parse_config(text: str) -> dict:
    """'E6W1.58A6' -> {'E': ('lsq', 6), 'W': ('bitnet', 2), 'A': ('bitnet', 6)}; 'FP32' -> all None."""
    if text.upper() in ("FP32", "NONE"):
        return {"E": None, "W": None, "A": None}
    import re
    m = re.fullmatch(r"E(\d+)W(1\.58|\d+)A(\d+)", text)
    assert m, text
    e, w, a = m.groups()
    out = {"E": None if e == "32" else ("lsq", int(e))}
    if w == "1.58":
        out["W"] = ("bitnet", 2)
        out["A"] = None if a == "32" else ("bitnet", int(a))
    else:
        out["W"] = None if w == "32" else ("lsq", int(w))
        out["A"] = None if a == "32" else ("lsq", int(a))
    return out


class LsqQuantizer(nn.Module):
    """LSQ (Esser et al. 2020), signed, as SPEC section 4."""

    def __init__(self, bits: int):
        super().__init__()
        self.bits = bits
        self.qn = -(2 ** (bits - 1))
        self.qp = 2 ** (bits - 1) - 1
        self.step = nn.Parameter(torch.ones(1))
        self.initialized = False

    def init_from(self, x: torch.Tensor) -> None:
        with torch.no_grad():
            self.step.copy_((2 * x.abs().mean() / math.sqrt(self.qp)).reshape(1))
        self.initialized = True

    def forward(self, x: torch.Tensor, g_numel: int | None = None) -> torch.Tensor:
        if not self.initialized:
            self.init_from(x)
        g = 1.0 / math.sqrt((g_numel or x.numel()) * self.qp)
        s = self.step
        s_scaled = (s - s * g).detach() + s * g          # value s, gradient g
        v = torch.clamp(x / s_scaled, self.qn, self.qp)
        v_rounded = (v.round() - v).detach() + v         # round with STE
        return v_rounded * s_scaled


def bitnet_weight(w: torch.Tensor) -> torch.Tensor:
    gamma = w.abs().mean().clamp(min=1e-5)
    q = torch.clamp(torch.round(w / gamma), -1, 1) * gamma
    return w + (q - w).detach()


def bitnet_activation(x: torch.Tensor, bits: int) -> torch.Tensor:
    qp = 2 ** (bits - 1) - 1
    qn = -(2 ** (bits - 1))
    m = x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    q = torch.clamp(torch.round(x * qp / m), qn, qp) * m / qp
    return x + (q - x).detach()


class QuantLinear(nn.Module):
    """nn.Linear with the W and A quantizers of one linear layer."""

    def __init__(self, linear: nn.Linear, cfg: dict):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.w_cfg, self.a_cfg = cfg["W"], cfg["A"]
        if self.w_cfg and self.w_cfg[0] == "lsq":
            self.weight_quantizer = LsqQuantizer(self.w_cfg[1])
            self.weight_quantizer.init_from(self.weight)
        if self.a_cfg and self.a_cfg[0] == "lsq":
            self.input_quantizer = LsqQuantizer(self.a_cfg[1])

    def forward(self, x):
        w = self.weight
        if self.w_cfg:
            w = self.weight_quantizer(w) if self.w_cfg[0] == "lsq" else bitnet_weight(w)
        if self.a_cfg:
            x = self.input_quantizer(x) if self.a_cfg[0] == "lsq" else bitnet_activation(x, self.a_cfg[1])
        return F.linear(x, w, self.bias)


class QuantEmbedding(nn.Module):
    """nn.Embedding whose table goes through an LSQ quantizer."""

    def __init__(self, emb: nn.Embedding, bits: int):
        super().__init__()
        self.weight = emb.weight
        self.padding_idx = emb.padding_idx
        self.weight_quantizer = LsqQuantizer(bits)
        self.weight_quantizer.init_from(self.weight)

    def forward(self, ids):
        return F.embedding(ids, self.weight_quantizer(self.weight), self.padding_idx)


LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")


def quantize_model(model: nn.Module, config: str) -> nn.Module:
    """Patches the six linears of every encoder layer and the embedding
    tables in place; heads stay in float (SPEC section 3)."""
    cfg = parse_config(config)
    base = model.base_model
    if cfg["E"]:
        emb = base.embeddings
        for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
            setattr(emb, name, QuantEmbedding(getattr(emb, name), cfg["E"][1]))
    if cfg["W"] or cfg["A"]:
        for layer in base.encoder.layer:
            for path in LINEARS:
                parent = layer
                *heads, last = path.split(".")
                for h in heads:
                    parent = getattr(parent, h)
                setattr(parent, last, QuantLinear(getattr(parent, last), cfg))
    return model


def build_model(arch: str, task: str, dims: dict, seed: int, tie: bool = True) -> nn.Module:
    """task: 'mlm', 'seqcls' (sequence classification) or anything else
    (token classification)."""
    import transformers as tf
    torch.manual_seed(seed)
    common = dict(vocab_size=dims["vocab"], hidden_size=dims["hidden"], num_hidden_layers=dims["layers"],
                  num_attention_heads=dims["heads"], intermediate_size=dims["inter"],
                  max_position_embeddings=dims["positions"], type_vocab_size=dims["types"],
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, tie_word_embeddings=tie,
                  pad_token_id=dims["pad"], layer_norm_eps=dims.get("eps", 1e-5), num_labels=dims.get("labels", 2))
    if arch == "roberta":
        config = tf.RobertaConfig(**common)
        cls = {"mlm": tf.RobertaForMaskedLM, "seqcls": tf.RobertaForSequenceClassification}.get(
            task, tf.RobertaForTokenClassification)
    else:
        config = tf.BertConfig(**common)
        cls = {"mlm": tf.BertForMaskedLM, "seqcls": tf.BertForSequenceClassification}.get(
            task, tf.BertForTokenClassification)
    model = cls(config)
    model.eval()
    with torch.no_grad():  # non-trivial biases and LayerNorms
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model

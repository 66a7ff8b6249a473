#!/usr/bin/env python3
"""PyTorch reference for the fused attention slot (attention_fwd, torch 1.13).

Per case, what transformers' BertSelfAttention computes at inference:
softmax(Q K^T / sqrt(dh) + (1 - mask) * finfo(float32).min) V per head, in
float32, on random inputs laid out as the library holds them: q [B*lq, ld],
k and v [B*lk, ld], head h at columns [h*dh, (h+1)*dh), ld >= heads*dh
(the padding columns hold garbage the kernel must not read into a result).
test_attention.c runs the slot on the same inputs.

For the training slots (attention_train_fwd, attention_bwd) each case also
holds a random gradient of the output and torch.autograd's dq, dk, dv for
it (no dropout here: its mask is the library's own hash, checked against
the unfused kernels instead).

Binary layout (little-endian): b"QATT", u32 cases, then per case
i32 B, heads, lq, lk, dh, ld; i32 mask[B*lk]; f32 q[B*lq*ld], k[B*lk*ld],
v[B*lk*ld]; f32 out[B*lq*heads*dh] (rows of heads*dh); f32 dout and dq
[B*lq*heads*dh], dk and dv [B*lk*heads*dh].
"""
import math
import struct
import sys

import torch

# (B, heads, lq, lk, dh, ld, mask kind): lq != lk, a single key, head_dim
# not a multiple of 16, a sequence with every key masked, BERT's block;
# several blocks of query rows per head, with head_dim over one register
# tile's 64 and not a multiple of it; MiniLM's head_dim 32; two blocks of
# query rows per head whose key panels and v copy fit the stack buffers
# (the second block reuses the first's), with padding and 2 sequences.
CASES = [
    (2, 3, 5, 7, 13, 41, "pad"),
    (1, 2, 4, 1, 16, 32, "none"),
    (2, 2, 33, 20, 20, 44, "all_masked"),
    (1, 4, 40, 40, 64, 256, "pad"),
    (3, 1, 17, 70, 8, 9, "pad"),
    (1, 2, 77, 150, 96, 200, "pad"),
    (1, 3, 19, 33, 32, 100, "pad"),
    (2, 3, 100, 100, 64, 200, "pad"),
]


def main(path):
    g = torch.Generator().manual_seed(20)
    out = bytearray(b"QATT" + struct.pack("<I", len(CASES)))
    for B, heads, lq, lk, dh, ld, kind in CASES:
        q = torch.randn(B, lq, ld, generator=g) * 2
        k = torch.randn(B, lk, ld, generator=g) * 2
        v = torch.randn(B, lk, ld, generator=g)
        mask = torch.ones(B, lk, dtype=torch.int32)
        if kind in ("pad", "all_masked"):
            for b in range(B):
                mask[b, lk - (b * 3) % lk:] = 0 if b else 1
        if kind == "all_masked":
            mask[B - 1, :] = 0
        bias = (1.0 - mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
        qa = q[:, :, : heads * dh].clone().requires_grad_()
        ka = k[:, :, : heads * dh].clone().requires_grad_()
        va = v[:, :, : heads * dh].clone().requires_grad_()
        qh = qa.reshape(B, lq, heads, dh).permute(0, 2, 1, 3)
        kh = ka.reshape(B, lk, heads, dh).permute(0, 2, 1, 3)
        vh = va.reshape(B, lk, heads, dh).permute(0, 2, 1, 3)
        scores = torch.matmul(qh, kh.transpose(-1, -2)) / math.sqrt(dh) + bias
        ctx = torch.matmul(torch.softmax(scores, dim=-1), vh).permute(0, 2, 1, 3).reshape(B, lq, heads * dh)
        dout = torch.randn(B, lq, heads * dh, generator=g)
        ctx.backward(dout)
        out += struct.pack("<6i", B, heads, lq, lk, dh, ld)
        out += mask.numpy().astype("<i4").tobytes()
        for t in (q, k, v, ctx, dout, qa.grad, ka.grad, va.grad):
            out += t.detach().contiguous().numpy().astype("<f4").tobytes()
    with open(path, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""PyTorch reference for the fused linear slots (linear_fwd, gelu_bias_bwd; torch 1.13).

Per case, float32 on random inputs: pre = F.linear(x, W, b), y = F.gelu(pre)
(exact erf) or y = pre, and, from a random gradient dy of y, autograd's
gradient of pre (d_pre) and of b (db: d_pre's column sums).
test_linear.c runs the slots on the same inputs.

Binary layout (little-endian): b"QATL", u32 cases, then per case
i32 rows, in, out, has_bias, gelu; f32 x[rows*in], w[out*in], b[out] (zeros
without a bias), dy[rows*out], pre[rows*out], y[rows*out], d_pre[rows*out],
db[out] (autograd's for b; d_pre's column sums without a bias).
"""
import struct
import sys

import torch
import torch.nn.functional as F

# (rows, in, out, bias, gelu): odd sizes, a single row and column, no bias,
# an empty reduction (in = 0: y = act(b)), and BERT's intermediate ratio.
CASES = [
    (7, 13, 19, True, True),
    (1, 1, 5, False, True),
    (33, 20, 3, True, False),
    (5, 0, 4, True, True),
    (17, 24, 96, True, True),
    (9, 31, 1, False, False),
]


def main(path):
    g = torch.Generator().manual_seed(19)
    out = bytearray(b"QATL" + struct.pack("<I", len(CASES)))
    for rows, n_in, n_out, has_bias, gelu in CASES:
        x = torch.randn(rows, n_in, generator=g).requires_grad_()  # pre needs a gradient without a bias too
        w = torch.randn(n_out, n_in, generator=g) * 0.5
        b = (torch.randn(n_out, generator=g) if has_bias else torch.zeros(n_out)).requires_grad_()
        dy = torch.randn(rows, n_out, generator=g)
        pre = F.linear(x, w, b if has_bias else None)
        pre.retain_grad()
        y = F.gelu(pre) if gelu else pre
        y.backward(dy)
        out += struct.pack("<5i", rows, n_in, n_out, int(has_bias), int(gelu))
        # without a bias, db is what a bias would get: d_pre's column sums
        db = b.grad if has_bias else pre.grad.sum(0)
        for t in (x.detach(), w, b.detach(), dy, pre.detach(), y.detach(), pre.grad, db):
            out += t.contiguous().numpy().astype("<f4").tobytes()
    with open(path, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main(sys.argv[1])

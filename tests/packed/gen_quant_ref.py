#!/usr/bin/env python3
"""PyTorch reference for the packed path's quantizers (torch 1.13).

Writes the codes and scales that the BitNet b1.58 and LSQ fake quantizers of
docs/method.md section 4 give on random and adversarial tensors; test_packed_torch.c
checks that lib/packed produces identical codes and scales. torch.round
rounds half to even, as nearbyintf does.

The BitNet weight gamma is mean|W| accumulated in float64 and rounded once
to float32 (the library's definition, shared with the ref backend).

Binary layout (little-endian): b"QPKT", u32 cases, then per case
i32 kind, bits, rows, cols, flag, nparam; f32 params[nparam];
f32 x[rows*cols]; i8 codes[rows*cols]; i32 nscale; f32 scale[nscale].
kind 0 = BitNet weight (flag: per row), 1 = LSQ weight (flag: per row,
params: steps), 2 = BitNet activation (flag: symmetric), 3 = LSQ
activation (params: the step).
"""
import struct
import sys

import numpy as np
import torch

BITNET_W, LSQ_W, BITNET_A, LSQ_A = 0, 1, 2, 3


def bitnet_weight(w, per_row):
    a = w.abs().double()
    m = (a.mean(dim=1, keepdim=True) if per_row else a.mean()).float()
    gamma = torch.clamp(m, min=1e-5)
    q = torch.clamp(torch.round(w / gamma), -1, 1)
    return q, gamma.reshape(-1)


def lsq(x, bits, step):
    qn, qp = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return torch.round(torch.clamp(x / step, qn, qp))


def bitnet_act(x, bits, symmetric):
    qp = 2 ** (bits - 1) - 1
    qn = -qp if symmetric else -(2 ** (bits - 1))
    m = torch.clamp(x.abs().amax(dim=-1, keepdim=True), min=1e-5)
    q = torch.clamp(torch.round(x * qp / m), qn, qp)
    return q, (m / qp).reshape(-1)


def adversarial(gen, rows, cols, tie_step):
    x = torch.randn(rows, cols, generator=gen)
    for r in range(rows):
        kind = r % 6
        if kind == 0:  # exact ties k + 0.5 (in units of tie_step)
            k = torch.randint(-10, 11, (cols,), generator=gen).float()
            x[r] = (k + 0.5) * tie_step
        elif kind == 1:
            x[r] = 0.0  # the 1e-5 floor
        elif kind == 2:
            x[r] *= 1e30
        elif kind == 3:
            x[r] *= 1e-30
        elif kind == 4:
            x[r, cols // 2] *= 1000.0
    return x.contiguous()


def main(path):
    gen = torch.Generator().manual_seed(1234)
    cases = []
    shapes = [(1, 1), (3, 7), (6, 33), (7, 130), (12, 161), (5, 768)]
    for rows, cols in shapes:
        for bits in range(2, 9):
            # LSQ weights and activations: steps that are powers of two make
            # the .5 ties exact.
            w = adversarial(gen, rows, cols, 0.25)
            for per_row in (0, 1):
                steps = torch.tensor([0.25 * 2.0 ** (r % 3) for r in range(rows if per_row else 1)])
                q = lsq(w, bits, steps.reshape(-1, 1) if per_row else steps[0])
                cases.append((LSQ_W, bits, w, per_row, steps, q, steps))
            x = adversarial(gen, rows, cols, 0.125)
            step = torch.tensor([0.125])
            cases.append((LSQ_A, bits, x, 0, step, lsq(x, bits, step[0]), step.repeat(rows)))
            # BitNet activations; a row whose max is Qp makes x * Qp / m = x.
            x = adversarial(gen, rows, cols, 1.0)
            qp = 2 ** (bits - 1) - 1
            x[-1] = torch.round(x[-1].clamp(-qp, qp) * 2) / 2
            x[-1, 0] = float(qp)
            for symmetric in (0, 1):
                q, scale = bitnet_act(x, bits, symmetric)
                cases.append((BITNET_A, bits, x, symmetric, torch.zeros(0), q, scale))
        w = adversarial(gen, rows, cols, 0.5)
        for per_row in (0, 1):
            q, gamma = bitnet_weight(w, per_row)
            cases.append((BITNET_W, 2, w, per_row, torch.zeros(0), q, gamma))

    with open(path, "wb") as f:
        f.write(b"QPKT")
        f.write(struct.pack("<I", len(cases)))
        for kind, bits, x, flag, params, q, scale in cases:
            rows, cols = x.shape
            f.write(struct.pack("<6i", kind, bits, rows, cols, flag, params.numel()))
            f.write(params.float().numpy().astype("<f4").tobytes())
            f.write(x.float().numpy().astype("<f4").tobytes())
            f.write(q.numpy().astype(np.int8).tobytes())
            f.write(struct.pack("<i", scale.numel()))
            f.write(scale.float().numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen_quant_ref.py OUTPUT")
    main(sys.argv[1])

"""Reference dumps the C tests compare against, in a format that shares no
code with the readers under test:

    b"QATREF01", u32 n_tensors,
    per tensor: u32 name_len, name (UTF-8), u32 ndim, i64 shape[ndim],
                f32 data[numel] (row-major, little-endian)
    u32 n_skipped, per skipped tensor: u32 name_len, name

Floating tensors are converted to float32 by torch (exact for F16/BF16);
integer tensors are listed as skipped, as libqat skips them.
"""
import struct

import torch

FLOATS = (torch.float32, torch.float16, torch.bfloat16)


def write_ref(path, tensors):
    """tensors: dict name -> torch.Tensor (any layout)."""
    kept = [(k, v) for k, v in tensors.items() if v.dtype in FLOATS]
    skipped = [k for k, v in tensors.items() if v.dtype not in FLOATS]
    with open(path, "wb") as f:
        f.write(b"QATREF01")
        f.write(struct.pack("<I", len(kept)))
        for name, t in kept:
            b = name.encode()
            f.write(struct.pack("<I", len(b)) + b)
            f.write(struct.pack("<I", t.dim()))
            f.write(struct.pack("<%dq" % t.dim(), *t.shape))
            f.write(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())
        f.write(struct.pack("<I", len(skipped)))
        for name in skipped:
            b = name.encode()
            f.write(struct.pack("<I", len(b)) + b)


def read_ref(path):
    import numpy as np
    out = {}
    with open(path, "rb") as f:
        assert f.read(8) == b"QATREF01"
        (n,) = struct.unpack("<I", f.read(4))
        for _ in range(n):
            (ln,) = struct.unpack("<I", f.read(4))
            name = f.read(ln).decode()
            (nd,) = struct.unpack("<I", f.read(4))
            shape = struct.unpack("<%dq" % nd, f.read(8 * nd))
            numel = 1
            for s in shape:
                numel *= s
            data = np.frombuffer(f.read(4 * numel), dtype="<f4").reshape(shape)
            out[name] = torch.from_numpy(data.copy())
    return out

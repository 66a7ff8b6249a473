"""The golden-file format shared by the generators and the C tests:
b"QATG", u32 record count, then per record: u32 name length, name (UTF-8),
u32 dtype (0 float32, 1 int32, 2 bytes), u32 ndim, i64 dims[ndim], data."""
from __future__ import annotations

import struct

import numpy as np

DTYPES = {np.dtype(np.float32): 0, np.dtype(np.int32): 1, np.dtype(np.uint8): 2}


def write_golden(path, records: dict) -> None:
    with open(path, "wb") as f:
        f.write(b"QATG")
        f.write(struct.pack("<I", len(records)))
        for name, value in records.items():
            if isinstance(value, (str, bytes)):
                value = np.frombuffer(value.encode() if isinstance(value, str) else value, dtype=np.uint8)
            arr = np.ascontiguousarray(value)
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32)
            if arr.dtype == np.int64:
                arr = arr.astype(np.int32)
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)) + raw)
            f.write(struct.pack("<II", DTYPES[arr.dtype], arr.ndim))
            f.write(struct.pack(f"<{arr.ndim}q", *arr.shape))
            f.write(arr.tobytes())

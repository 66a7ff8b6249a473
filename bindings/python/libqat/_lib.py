"""Finding and loading libqat, and turning its status codes into exceptions."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


class QatError(RuntimeError):
    """A libqat call failed. `status` is the qat_status name, the message is
    the library's qat_last_error() text."""

    def __init__(self, status: str, message: str):
        super().__init__(f"{message} ({status})")
        self.status = status
        self.message = message


def _candidates():
    env = os.environ.get("LIBQAT_LIBRARY")
    if env:
        yield env
    for name in ("libqat.so.0", "libqat.so"):
        yield str(_HERE / name)
    found = ctypes.util.find_library("qat")
    if found:
        yield found
    yield "libqat.so.0"


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    raise OSError("libqat not found; set LIBQAT_LIBRARY to the path of libqat.so.0. Tried:\n  "
                  + "\n  ".join(errors))


lib = _load()

lib.qat_version.restype = ctypes.c_char_p
lib.qat_version.argtypes = []
lib.qat_status_string.restype = ctypes.c_char_p
lib.qat_status_string.argtypes = [ctypes.c_int]
lib.qat_last_error.restype = ctypes.c_char_p
lib.qat_last_error.argtypes = []


def check(status: int) -> None:
    """Raises QatError for a negative qat_status."""
    if status != 0:
        raise QatError(lib.qat_status_string(status).decode(),
                       lib.qat_last_error().decode(errors="replace"))


def declare(name: str, argtypes, restype=ctypes.c_int):
    """Sets a C function's prototype once, next to the wrapper that uses it."""
    fn = getattr(lib, name)
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


class Handle:
    """Owner of one libqat handle: close() (or the garbage collector, or
    `with`) frees it once. The library keeps what a handle needs alive on its
    side (a model holds its context; see "Lifetime" in qat/core.h), so
    objects may be closed or collected in any order, cycles included.

    Subclasses set `_free` to the C function that frees their handle. It is
    reached through the class, never through a module global, because
    __del__ also runs at interpreter exit, after module globals were set to
    None. A closed object passes NULL, which every libqat call refuses with
    an error (QatError), never a crash."""

    _handle = None
    _free = None

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            self._free(handle)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

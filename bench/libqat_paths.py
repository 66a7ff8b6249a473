"""Where the bench scripts find libqat: the repository root, the build
directory ($QAT_BUILD_DIR, else build/), and setup_paths(), which points the
Python bindings at that build's library and CUDA module unless the
environment already names them (LIBQAT_LIBRARY, QAT_BACKEND_PATH)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("QAT_BUILD_DIR", os.path.join(ROOT, "build"))


def setup_paths(*extra_dirs):
    """extra_dirs: more folders, relative to ROOT, put first on sys.path."""
    lib = os.path.join(BUILD, "libqat.so.0")
    if "LIBQAT_LIBRARY" not in os.environ and os.path.exists(lib):
        os.environ["LIBQAT_LIBRARY"] = lib
    mod = os.path.join(BUILD, "backends", "cuda")
    if "QAT_BACKEND_PATH" not in os.environ and os.path.isdir(mod):
        os.environ["QAT_BACKEND_PATH"] = mod
    sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
    for d in extra_dirs:
        sys.path.insert(0, os.path.join(ROOT, d))

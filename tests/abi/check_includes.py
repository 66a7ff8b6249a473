#!/usr/bin/env python3
"""The include rules of docs/architecture.md ("What may include what"),
checked on every C, CUDA and header file of the tree:

  public    include/qat/*.h include only standard headers and qat/*.h, and
            name no type that only private headers define;
  examples  examples/ include only <qat/*.h>, system headers and their own
            headers (nothing of lib/ or backends/);
  layers    each part of lib/ includes only the parts the table allows;
  backends  a backend includes no other backend (backends/host, the shared
            host-memory helpers, is not a backend);
  core      lib/ includes no backend header.

usage: check_includes.py SOURCE_ROOT
Rules listed in PENDING are checked and reported, but do not fail yet."""
import os
import re
import sys

# lib/<part> -> the parts it may include (besides itself and qat/*.h).
ALLOWED = {
    "core": {"backend"},  # a context owns a backend
    "backend": {"core"},
    "quant": {"core", "math"},  # math: the LSQ+ search's rounding
    "data": {"core"},
    "tokenizer": {"core"},
    "metrics": {"core"},
    "optim": {"core", "backend"},  # the optimizer step runs as backend kernels
    "packed": {"core"},
    "math": set(),  # header-only float math: includes nothing of lib/
    "formats": {"core", "model", "math"},  # model/dims.h: what config.json is read into; math: bit casts
    "model": {"core", "backend", "quant", "formats"},
    "dist": {"core", "backend"},  # collectives and bucket sums on backend memory
    "train": {"core", "model", "optim", "dist"},
    "study": {"core", "data", "metrics", "model", "train", "dist"},
    "export": {"core", "formats", "model", "packed", "quant"},
    # the packed runtime: the encoder walk of lib/model, the integer kernels,
    # the float kernels of a cpu backend, the embedded tokenizer
    "packed_model": {"core", "backend", "formats", "model", "packed", "quant", "tokenizer"},
    "cost": {"core", "formats", "quant"},
}
# Rules whose violations are reported but tolerated until the change that
# removes them lands: issue #18 item 4 (backends/cpu includes the ref
# kernels; lib/backend/dispatch.h includes backends/ref).
PENDING = set()

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
SOURCES = (".c", ".h", ".cu", ".cuh")
STANDARD = {"stddef.h", "stdint.h", "stdio.h", "stdbool.h", "stdlib.h", "string.h", "limits.h", "float.h"}


def files_under(root, top):
    for dirpath, _dirs, names in os.walk(os.path.join(root, top)):
        for name in sorted(names):
            if name.endswith(SOURCES):
                yield os.path.join(dirpath, name)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for m in INCLUDE.finditer(text):
        yield m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1


def shown(kind, inc):
    return f"<{inc}>" if kind == "<" else f'"{inc}"'


def type_names(path):
    """Types a header defines: typedef names, struct/enum/union tags."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", f.read(), flags=re.S)
    names = set(re.findall(r"\b(?:struct|enum|union)\s+(\w+)\s*\{", text))
    names |= set(re.findall(r"\}\s*(\w+)\s*;", text))  # typedef struct {...} name;
    names |= set(re.findall(r"\btypedef\s+[^;{}()]*?\b(\w+)\s*;", text))
    names |= set(re.findall(r"\btypedef\s+[^;{}]*?\(\s*\*\s*(\w+)\s*\)", text))
    return names


def main():
    root = os.path.abspath(sys.argv[1])
    rel = lambda p: os.path.relpath(p, root)  # noqa: E731
    lib_parts = {d for d in os.listdir(os.path.join(root, "lib")) if os.path.isdir(os.path.join(root, "lib", d))}
    backend_dirs = {d for d in os.listdir(os.path.join(root, "backends"))
                    if os.path.isdir(os.path.join(root, "backends", d))}
    backends = {d for d in backend_dirs
                if any(n.endswith(("_backend.c", "_backend.cu")) for n in os.listdir(os.path.join(root, "backends", d)))}
    public = {n for n in os.listdir(os.path.join(root, "include", "qat")) if n.endswith(".h")}
    found = {rule: [] for rule in ("public", "examples", "layers", "backends", "core")}

    # public: headers and private types
    public_types, private_types = set(), set()
    for p in files_under(root, "include"):
        public_types |= type_names(p)
    for top in ("lib", "backends"):
        for p in files_under(root, top):
            if p.endswith((".h", ".cuh")):
                private_types |= type_names(p)
    private_only = private_types - public_types
    for p in files_under(root, "include"):
        for kind, inc, line in includes(p):
            ok = (kind == "<" and inc in STANDARD) or (inc.startswith("qat/") and inc[4:] in public)
            if not ok:
                found["public"].append(f"{rel(p)}:{line}: includes {shown(kind, inc)}")
        with open(p, encoding="utf-8") as f:
            code = re.sub(r"/\*.*?\*/|//[^\n]*", " ", f.read(), flags=re.S)
        for name in sorted(private_only & set(re.findall(r"\b\w+\b", code))):
            found["public"].append(f"{rel(p)}: names the private type {name}")

    # examples: the public API and their own headers only
    for p in files_under(root, "examples"):
        for kind, inc, line in includes(p):
            first = inc.split("/")[0]
            own = kind == '"' and any(os.path.exists(os.path.join(d, inc))
                                      for d in (os.path.dirname(p), os.path.join(root, "examples", "qat")))
            private = first in lib_parts or first in backend_dirs or inc.startswith(("lib/", "backends/", "../"))
            if inc.startswith("qat/") and inc[4:] not in public:
                private = True
            if (kind == '"' and not own) or private:
                found["examples"].append(f"{rel(p)}:{line}: includes {shown(kind, inc)}")

    # layers, core: lib/<part>
    for p in files_under(root, "lib"):
        part = rel(p).split(os.sep)[1]
        for kind, inc, line in includes(p):
            first = inc.split("/")[0]
            if kind != '"' or first in ("qat", part) or "/" not in inc:
                continue
            if first in backend_dirs:
                found["core"].append(f"{rel(p)}:{line}: includes the backend header {inc}")
            elif first in lib_parts and part not in ALLOWED:
                found["layers"].append(f"{rel(p)}: lib/{part} is not in the layering table (tests/abi/"
                                       "check_includes.py ALLOWED and docs/architecture.md)")
            elif first in lib_parts and first not in ALLOWED[part]:
                found["layers"].append(f"{rel(p)}:{line}: lib/{part} includes lib/{inc}")

    # backends: never one another
    for p in files_under(root, "backends"):
        own = rel(p).split(os.sep)[1]
        for kind, inc, line in includes(p):
            first = inc.split("/")[0]
            if kind == '"' and first in backends and first != own:
                found["backends"].append(f"{rel(p)}:{line}: backends/{own} includes backends/{inc}")

    failed = 0
    for rule, problems in found.items():
        state = "pending" if rule in PENDING else "FAIL"
        for msg in problems:
            print(f"{state} ({rule}): {msg}")
        if problems and rule not in PENDING:
            failed += 1
    checked = len(found) - len(PENDING)
    print(f"{checked - failed} passed, {failed} failed"
          + (f" ({', '.join(sorted(PENDING))} pending: {sum(len(found[r]) for r in PENDING)} known)" if PENDING else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

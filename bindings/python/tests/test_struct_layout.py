"""The ctypes mirrors of the public option structs match the C layout
(issue #21 item 6): size, alignment and the offset of every field, nested
structs included, as the C compiler lays them out from include/qat/.

Every ctypes.Structure of the bindings names its C type in its docstring
("Mirror of qat_..."), and every `typedef struct qat_... {` of the public
headers has a mirror, so a struct added on either side without the other
fails here."""
import ctypes
import importlib
import inspect
import re
import shutil
import subprocess

import pytest

MODULES = ["libqat.core", "libqat.model", "libqat.train", "libqat.packed", "libqat.study"]


def mirrors():
    found = {}
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ctypes.Structure) and cls.__module__ == name:
                match = re.search(r"Mirror of (qat_\w+)", cls.__doc__ or "")
                assert match, f"{name}.{cls.__name__} does not say which C struct it mirrors"
                found[match.group(1)] = cls
    return found


def field_rows(c_type, cls, prefix=""):
    """(C member designator, ctypes offset, ctypes size) for every field, nested ones too."""
    base = 0
    rows = []
    for field_name, field_type in cls._fields_:
        descriptor = getattr(cls, field_name)
        designator = prefix + field_name
        rows.append((designator, base + descriptor.offset, descriptor.size))
        if isinstance(field_type, type) and issubclass(field_type, ctypes.Structure):
            for sub, off, size in field_rows(c_type, field_type, designator + "."):
                rows.append((sub, descriptor.offset + off, size))
    return rows


def test_every_public_struct_has_a_mirror(repo_root):
    declared = set()
    for header in (repo_root / "include" / "qat").glob("*.h"):
        declared |= set(re.findall(r"typedef struct (qat_\w+) \{", header.read_text()))
    assert declared, "no public structs found: the header scan is broken"
    missing = declared - set(mirrors())
    assert not missing, f"public structs without a ctypes mirror: {sorted(missing)}"


def test_ctypes_layout_matches_c(repo_root, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on PATH to lay out the structs")
    structs = mirrors()
    lines = ["#define QAT_EXPERIMENTAL", "#include <qat/qat.h>", "#include <stddef.h>", "#include <stdio.h>",
             "#define MEMBER_SIZE(t, m) sizeof(((t *)0)->m)", "int main(void) {"]
    expected = {}
    for c_type, cls in sorted(structs.items()):
        lines.append(f'printf("{c_type} sizeof %zu\\n", sizeof({c_type}));')
        lines.append(f'printf("{c_type} alignof %zu\\n", _Alignof({c_type}));')
        expected[f"{c_type} sizeof"] = ctypes.sizeof(cls)
        expected[f"{c_type} alignof"] = ctypes.alignment(cls)
        for designator, offset, size in field_rows(c_type, cls):
            lines.append(f'printf("{c_type} {designator} %zu %zu\\n", offsetof({c_type}, {designator}), '
                         f'MEMBER_SIZE({c_type}, {designator}));')
            expected[f"{c_type} {designator}"] = f"{offset} {size}"
    lines += ["return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    build = subprocess.run([cc, "-std=c11", "-I", str(repo_root / "include"), str(source), "-o", str(exe)],
                           capture_output=True, text=True)
    assert build.returncode == 0, f"the layout program does not compile (a mirror names a missing field?):\n{build.stderr}"
    printed = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    c_layout = {}
    for line in printed.splitlines():
        key, _, value = line.rpartition(" ")
        if key.endswith(" sizeof") or key.endswith(" alignof"):
            c_layout[key] = int(value)
        else:
            key, _, offset = key.rpartition(" ")
            c_layout[key] = f"{offset} {value}"
    mismatches = [f"{key}: C {c_layout.get(key)} vs ctypes {want}" for key, want in expected.items()
                  if c_layout.get(key) != want]
    assert not mismatches, "ctypes mirrors differ from the C layout:\n" + "\n".join(mismatches)
    # Every C member is mirrored: the C struct is no larger than the last mirrored field reaches.
    for c_type, cls in structs.items():
        assert c_layout[f"{c_type} sizeof"] == ctypes.sizeof(cls)

"""The documentation stays inside the repository (issue #21 item 3): no
tracked file points at the integration machine's shared folder (a clone has
none), every relative Markdown link and every path into docs/ named
anywhere resolves to a file, and every "docs/method.md section N" a comment
cites is a numbered section of docs/method.md.

usage: docs_links.py SOURCE_ROOT"""
import os
import re
import subprocess
import sys

# Written in two pieces so that this file does not match itself.
OUTSIDE = [".." + "/shared", "/work" + "/shared"]
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/[\w./-]*\w\.md\b")
SECTION_CITE = re.compile(r"docs/method\.md\s+sections?\s+(\d+)(?:\s*(?:-|and|,)\s*(\d+))?")
SKIP_DIRS = {".git", ".venv", "build", "build-sanitize", "__pycache__"}


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True, capture_output=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # a release tarball: walk it
        found = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
            found += [os.path.relpath(os.path.join(d, n), root) for n in names]
        return found


def read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
        return None


def main():
    root = sys.argv[1]
    errors = []
    method = read_text(os.path.join(root, "docs", "method.md")) or ""
    sections = set(re.findall(r"^## (\d+)\.", method, re.M))
    if not sections:
        errors.append("docs/method.md: no numbered sections ('## N. title')")
    for rel in tracked_files(root):
        text = read_text(os.path.join(root, rel))
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            where = f"{rel}:{lineno}"
            for bad in OUTSIDE:
                if bad in line:
                    errors.append(f"{where}: points outside the repository ({bad}); link docs/method.md instead")
            for m in DOCS_PATH.finditer(line):
                if not os.path.isfile(os.path.join(root, m.group(0))):
                    errors.append(f"{where}: names {m.group(0)}, which does not exist")
            for m in SECTION_CITE.finditer(line):
                for n in (g for g in m.groups() if g):
                    if n not in sections:
                        errors.append(f"{where}: cites docs/method.md section {n}, which docs/method.md lacks")
            if rel.endswith(".md"):
                for m in MD_LINK.finditer(line):
                    target = m.group(1).split("#", 1)[0]
                    if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                        continue  # an anchor on the same page, or a URL
                    path = os.path.normpath(os.path.join(root, os.path.dirname(rel), target))
                    if not os.path.exists(path):
                        errors.append(f"{where}: link to {m.group(1)}, which does not exist")
    for e in errors:
        print(e)
    print(f"docs_links: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

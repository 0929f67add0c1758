"""The package installs from a wheel with kernels inside as tinylm.kernels (never `kernels`)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        str(ROOT),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {result.stderr[-300:]}")
    return next(out.glob("tinylm-*.whl"))


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("tinylm/kernels/") and n.endswith(".py") for n in names)
    assert not any(n.startswith("kernels/") for n in names), "a top-level `kernels` leaked"
    for package in ("numba", "cuda"):
        assert f"tinylm/kernels/{package}/__init__.py" in names, f"kernels/{package} missing"
    sources = [p.name for p in (ROOT / "kernels" / "cuda").glob("*.cu*")]
    assert "common.cuh" in sources
    for name in sources:
        assert f"tinylm/kernels/cuda/{name}" in names, f"{name} missing from the wheel"


def test_non_editable_install_imports(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import tinylm, tinylm.testing, tinylm.kernels, tinylm.data;"
        "print(tinylm.__file__); print(tinylm.kernels.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout.splitlines()
    assert all(line.startswith(str(target)) for line in out), out

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
    for path in sorted((ROOT / "kernels").rglob("*.cu*")):  # the CUDA sources and headers
        name = "tinylm/kernels/" + path.relative_to(ROOT / "kernels").as_posix()
        assert name in names, f"{name} missing from the wheel"
    # every package of the source tree is in the wheel (pyproject lists them by hand)
    for tree, prefix in (("tinylm", "tinylm"), ("kernels", "tinylm/kernels")):
        for init in sorted((ROOT / tree).rglob("__init__.py")):
            name = f"{prefix}/{init.relative_to(ROOT / tree).as_posix()}"
            assert name in names, f"{name} missing from the wheel: add it to pyproject.toml"


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

"""The package installs from a wheel with kernels inside as tinylm.kernels (never `kernels`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: setuptools writes build/ and *.egg-info into the source tree, and two
    # test workers building in the same tree at once break each other's build.
    source = tmp_path_factory.mktemp("source")
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("tinylm", "kernels"):
        shutil.copytree(ROOT / name, source / name, ignore=junk)
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
        str(source),
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


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    """The wheel installed (not editable) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
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
    return target


def _run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_non_editable_install_imports(site, tmp_path):
    code = (
        "import tinylm, tinylm.testing, tinylm.kernels, tinylm.data;"
        "import tinylm.kernels.numba, tinylm.kernels.cuda.flash_emulation;"
        "print(tinylm.__file__); print(tinylm.kernels.__file__)"
    )
    done = _run_installed(site, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert all(line.startswith(str(site)) for line in out), out


def test_bench_outside_a_checkout_is_a_one_line_error(site, tmp_path):
    """The benchmarks are scripts of the repository, not of the package."""
    done = _run_installed(site, tmp_path, "-m", "tinylm.cli", "bench", "kernels", "--quick")
    assert done.returncode == 2
    assert done.stderr.startswith("tinylm: error: the kernels benchmark lives in the repository")
    assert len(done.stderr.strip().splitlines()) == 1


def test_kernels_cannot_be_imported_as_a_top_level_package(tmp_path):
    """`import kernels` from the repository root would let Numba cache kernels under the
    module name `kernels.*`, which a later `import tinylm` outside the root cannot load."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", "import kernels.numba.rowwise"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode != 0
    assert "ImportError: import tinylm.kernels, not kernels" in run.stderr

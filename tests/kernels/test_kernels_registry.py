"""The registry: backend setting, TINYLM_BACKEND, bad names, fallbacks, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tinylm.kernels as K
from tinylm.kernels import reference


@pytest.fixture(autouse=True)
def restore_backend():
    before = K.get_backend()
    yield
    K.set_backend(before)


def test_every_op_has_a_reference():
    assert set(K.OPS) == {n for n in reference.__all__ if n != "get_array_module"}
    for op in K.OPS:
        assert K.implementations(op, "cpu")["numpy"] is getattr(reference, op)


def test_set_backend_numpy_gives_the_reference():
    K.set_backend("numpy")
    assert K.get_backend() == "numpy"
    assert K.lookup("softmax_forward") is reference.softmax_forward


@pytest.mark.skipif("numba" not in K.implementations("gelu_forward"), reason="numba missing")
def test_auto_prefers_numba_on_cpu():
    import tinylm.kernels.numba as numba_backend

    K.set_backend("auto")
    assert K.lookup("gelu_forward", "cpu") is numba_backend.gelu_forward
    K.set_backend("numba")
    assert K.lookup("gelu_forward", "cpu") is numba_backend.gelu_forward


def test_backend_that_does_not_serve_the_device_falls_back_to_reference():
    K.set_backend("numba")  # numba has no CUDA kernels here
    assert K.lookup("gelu_forward", "cuda") is reference.gelu_forward
    if "cupy" not in K.implementations("gelu_forward", "cuda"):
        pytest.skip("no GPU: the cupy backend cannot be chosen (see the test below)")
    K.set_backend("cupy")  # cupy does not serve "cpu"
    assert K.lookup("gelu_forward", "cpu") is reference.gelu_forward


def test_a_backend_this_machine_cannot_run_is_refused():
    if "cupy" in K.implementations("gelu_forward", "cuda"):
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="backend 'cupy' needs CuPy and a CUDA GPU"):
        K.set_backend("cupy")
    assert K.get_backend() != "cupy"  # the setting is unchanged


def test_cuda_lookup_without_gpu_is_the_reference():
    if "cupy" in K.implementations("softmax_forward", "cuda"):
        pytest.skip("a GPU is present")
    assert K.implementations("softmax_forward", "cuda") == {"numpy": reference.softmax_forward}
    assert K.lookup("softmax_forward", "cuda") is reference.softmax_forward


def test_bad_names():
    with pytest.raises(ValueError, match="valid backends: auto, numpy, numba, cupy"):
        K.set_backend("tensorflow")
    with pytest.raises(KeyError, match="unknown kernel op 'softmax'.*softmax_forward"):
        K.lookup("softmax")
    with pytest.raises(ValueError, match="unknown device"):
        K.lookup("softmax_forward", "tpu")


def _run_python(code: str, **env: str) -> str:
    environment = {**os.environ, **env}
    environment.pop("TINYLM_BACKEND", None) if "TINYLM_BACKEND" not in env else None
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_env_var_sets_initial_backend():
    code = "import tinylm.kernels as k; print(k.get_backend())"
    assert _run_python(code, TINYLM_BACKEND="numpy") == "numpy"
    assert _run_python(code) == "auto"


def test_bad_env_var_is_a_clear_error_at_use_not_at_import():
    # importing works (so `tinylm info` can show the problem); using a kernel says what is wrong
    code = (
        "import tinylm, tinylm.kernels as k\n"
        "for use in (k.get_backend, lambda: k.lookup('softmax_forward'),\n"
        "            lambda: tinylm.randn(3).softmax(0)):\n"
        "    try:\n"
        "        use()\n"
        "    except ValueError as e:\n"
        "        print(e)\n"
        "k.set_backend('numpy')  # a program can still choose a backend itself\n"
        "print(k.get_backend(), tinylm.randn(3).softmax(0).shape)"
    )
    lines = _run_python(code, TINYLM_BACKEND="fast").splitlines()
    assert len(lines) == 4
    for line in lines[:3]:
        assert "TINYLM_BACKEND=fast: unknown backend 'fast'; valid backends" in line
    assert lines[3] == "numpy (3,)"


def test_import_is_lazy():
    code = (
        "import sys, tinylm.kernels as k; print('numba' in sys.modules, 'cupy' in sys.modules);"
        "k.lookup('softmax_forward', 'cpu'); print('cupy' in sys.modules)"
    )
    first, second = _run_python(code).splitlines()
    assert first == "False False"
    assert second == "False"  # a cpu lookup never touches cupy


def test_cuda_backend_takes_numpy_arrays_to_the_reference():
    """tinylm.kernels.cuda imports with or without CuPy (flash_emulation lives there and runs
    anywhere); an array that is not a float32 CuPy array always takes the reference."""
    from tinylm.kernels import cuda

    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(cuda.softmax_forward(x), reference.softmax_forward(x))
    np.testing.assert_array_equal(cuda.gelu_forward(x), reference.gelu_forward(x))

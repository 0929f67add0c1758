"""Which implementation of an op runs: a table keyed by (op, backend).

Three backends provide the same ops with the same signatures (those of
:mod:`tinylm.kernels.reference`):

* ``"numpy"`` - :mod:`tinylm.kernels.reference`; array-module generic, so it also runs on
  CuPy arrays. Always available, the fallback for every device.
* ``"numba"`` - :mod:`tinylm.kernels.numba`, fused CPU kernels (device ``"cpu"``).
* ``"cupy"`` - :mod:`tinylm.kernels.cuda`, CUDA C kernels (device ``"cuda"``), present only
  when CuPy is installed and sees a GPU.

The backend setting is a preference: ``"auto"`` picks the fastest available for the device
(cpu: numba, then numpy; cuda: cupy, then numpy); naming a backend uses it wherever it serves
the device and the reference elsewhere. The initial setting comes from ``TINYLM_BACKEND``
(read by :func:`tinylm.environment.backend`).

Nothing heavy is imported here: Numba is imported the first time a Numba kernel is looked up,
CuPy only when a ``"cuda"`` lookup asks whether a GPU exists.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from types import ModuleType

from tinylm import environment

from . import reference

BACKENDS = ("auto", "numpy", "numba", "cupy")
DEVICES = ("cpu", "cuda")
OPS = tuple(name for name in reference.__all__ if name != "get_array_module")

# backends that can serve each device, fastest first; the reference ("numpy") closes each list
_PREFERENCE = {"cpu": ("numba", "numpy"), "cuda": ("cupy", "numpy")}
_MODULE_OF = {"numba": "tinylm.kernels.numba", "cupy": "tinylm.kernels.cuda"}

_cache: dict[str, bool] = {}


def _check_backend(name: str) -> str:
    """``name`` if it is a backend that can run here; else a ValueError saying why not."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(BACKENDS)}")
    if name in _MODULE_OF and not _available(name):
        needs = "Numba" if name == "numba" else "CuPy and a CUDA GPU"
        raise ValueError(f"backend {name!r} needs {needs}, which this machine does not have")
    return name


def set_backend(name: str) -> None:
    """Choose the backend: ``"auto"``, ``"numpy"``, ``"numba"`` or ``"cupy"``.

    Raises:
        ValueError: an unknown name, or a backend this machine cannot run (``"numba"``
            without Numba, ``"cupy"`` without CuPy and a GPU).
    """
    global _backend, _environment_error
    _backend = _check_backend(name)
    _environment_error = None


def get_backend() -> str:
    """The current backend setting (``"auto"`` unless changed or set by TINYLM_BACKEND).

    Raises:
        ValueError: TINYLM_BACKEND holds a value that cannot be used (see :func:`set_backend`).
    """
    if _environment_error is not None:
        raise ValueError(_environment_error)
    return _backend


def _available(backend: str) -> bool:
    """Can ``backend`` run here? Checked once, without importing Numba (find_spec only)."""
    if backend == "numpy":
        return True
    if backend not in _cache:
        if backend == "numba":
            _cache[backend] = importlib.util.find_spec("numba") is not None
        else:
            _cache[backend] = _cuda_device_present()
    return _cache[backend]


def _cuda_device_present() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:  # a broken driver or toolkit means "no GPU", not a crash at lookup
        return False


def _backend_from_environment() -> tuple[str, str | None]:
    """The initial setting from TINYLM_BACKEND, and the reason it cannot be used (or None).

    A bad value must not break ``import tinylm`` (``tinylm info`` has to run to show it):
    it is remembered, and ``get_backend`` and every lookup report it until ``set_backend``
    replaces it.
    """
    value = environment.backend()
    try:
        return _check_backend(value), None
    except ValueError as e:
        return "auto", f"TINYLM_BACKEND={value}: {e}"


_backend, _environment_error = _backend_from_environment()

_loaded: dict[str, ModuleType] = {}


def _module(backend: str) -> ModuleType:
    """The backend's module, imported on first use (every op's lookup comes through here)."""
    if backend == "numpy":
        return reference
    if backend not in _loaded:
        _loaded[backend] = importlib.import_module(_MODULE_OF[backend])
    return _loaded[backend]


def _check(op: str, device: str) -> None:
    if op not in OPS:
        raise KeyError(f"unknown kernel op {op!r}; known ops: {', '.join(OPS)}")
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid devices: {', '.join(DEVICES)}")


def implementations(op: str, device: str = "cpu") -> dict[str, Callable]:
    """Every available implementation of ``op`` for ``device``, keyed by backend name."""
    _check(op, device)
    return {
        backend: getattr(_module(backend), op)
        for backend in _PREFERENCE[device]
        if _available(backend)
    }


def lookup(op: str, device: str = "cpu") -> Callable:
    """The implementation of ``op`` to use on ``device`` under the current backend setting."""
    _check(op, device)
    if _environment_error is not None:
        raise ValueError(_environment_error)
    candidates = _PREFERENCE[device] if _backend == "auto" else (_backend, "numpy")
    for backend in candidates:
        if backend in _PREFERENCE[device] and _available(backend):
            return getattr(_module(backend), op)
    return getattr(reference, op)  # unreachable: numpy serves every device

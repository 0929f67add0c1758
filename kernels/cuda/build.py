"""What the CUDA kernels are compiled from and with: one answer for the launcher
(``__init__.py``), the NumPy replay (``flash_emulation.py``) and the compile test.

* :func:`source` - the text of ``<stem>.cu`` with ``common.cuh`` spliced in where it is
  included. CuPy's on-disk kernel cache keys on the source text (and the options), not on the
  files it includes: with the header left as a separate file, an edit to it would recompile
  nothing and every kernel would keep running the old header's code.
* :data:`COMPILE_OPTIONS` - the options the launcher passes to ``cupy.RawModule``.
* :func:`name_expressions` - the template instantiations RawModule must resolve (attention's
  head sizes, read from the ``INSTANTIATE(D)`` lines of ``attention.cu``).
* :func:`defines` - the integer ``#define``s of a file. The attention tile sizes and the warps
  per block are read from the ``.cu``/``.cuh`` sources, so the numbers the launcher and the
  emulation use are those the kernels are compiled with, never a copy that can drift.

Plain Python, no CuPy: it runs (and is tested) on any machine.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent  # the .cu files and common.cuh
HEADER = "common.cuh"
COMPILE_OPTIONS = ("-std=c++17",)  # no -I: the one header is spliced into the source

_INCLUDE = re.compile(rf'^#include "{re.escape(HEADER)}"[ \t]*$', re.MULTILINE)
_DEFINE = re.compile(r"^#define[ \t]+([A-Za-z_]\w*)[ \t]+(\d+)[ \t]*(?://.*)?$", re.MULTILINE)
_INSTANTIATE = re.compile(r"^INSTANTIATE\((\d+)\)", re.MULTILINE)

# the kernels of attention.cu, each instantiated for every head size
ATTENTION_KERNELS = (
    "attention_forward",
    "attention_backward_delta",
    "attention_backward_dkdv",
    "attention_backward_dq",
)


def stems() -> tuple[str, ...]:
    """The kernel files, without ``.cu``: ``("adam", "attention", ...)``."""
    return tuple(sorted(p.stem for p in KERNEL_DIR.glob("*.cu")))


@functools.cache
def _text(name: str) -> str:
    return (KERNEL_DIR / name).read_text()


def source(stem: str) -> str:
    """``<stem>.cu`` with its ``#include "common.cuh"`` replaced by the header's text.

    The result compiles without any include path, and its text changes whenever the header
    does, which is what CuPy's cache keys on."""
    header = _text(HEADER).replace("#pragma once\n", "")  # a main file has nothing to guard
    spliced = f"// ---- {HEADER} (spliced in by build.py)\n{header}// ---- end of {HEADER}\n"
    text, n = _INCLUDE.subn(lambda _: spliced, _text(f"{stem}.cu"))
    if n > 1:
        raise ValueError(f"{stem}.cu includes {HEADER} {n} times")
    return text


def defines(name: str) -> dict[str, int]:
    """The ``#define NAME <integer>`` lines of ``name`` (a file of this folder), as a dict."""
    return {key: int(value) for key, value in _DEFINE.findall(_text(name))}


def attention_head_dims() -> tuple[int, ...]:
    """The head sizes D that ``attention.cu`` instantiates (its ``INSTANTIATE(D)`` lines)."""
    return tuple(int(d) for d in _INSTANTIATE.findall(_text("attention.cu")))


def name_expressions(stem: str) -> tuple[str, ...]:
    """The template kernels of ``<stem>.cu`` that RawModule must look up by name."""
    if stem != "attention":
        return ()
    return tuple(f"{k}<{d}>" for d in attention_head_dims() for k in ATTENTION_KERNELS)


_KERNEL = re.compile(
    r"__global__\s+void\s+"
    r"(?:__launch_bounds__\((?P<bounds>(?:[^()]|\([^()]*\))*)\)\s+)?"
    r"(?P<name>\w+)\s*\((?P<params>[^)]*)\)"
)


def kernel_signatures(stem: str) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """``{kernel: (launch-bounds expression or None, parameter C types)}`` of ``<stem>.cu``,
    read from its definitions: e.g. ``"adam_update": (None, ("float*", ..., "long long"))``.

    Types lose ``const`` and ``__restrict__`` (``"float*"``, ``"long long*"``, ``"int"``,
    ``"float"``); what the launcher passes is checked against them (the tests)."""
    found = {}
    for match in _KERNEL.finditer(source(stem)):
        types = []
        for param in match["params"].split(","):
            words = param.replace("__restrict__", " ").replace("const", " ").split()[:-1]
            types.append(" ".join(words).replace(" *", "*"))
        found[match["name"]] = (match["bounds"] or None, tuple(types))
    return found

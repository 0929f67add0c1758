"""Checkpoints: ``tinylm.save(obj, path)`` and ``tinylm.load(path)``.

What can be saved: nested dicts (str or int keys), lists and tuples of Tensors, numpy
arrays, numpy scalars, Python numbers, strings, bools and None — a model's
``state_dict()``, an optimizer's, or a whole checkpoint such as
``{"model": ..., "optim": ..., "step": 10, "config": {...}}``.

The file format is a plain ``.npz`` (a zip of ``.npy`` arrays) that numpy alone can read:

* every array is stored as ``a0``, ``a1``, …;
* the structure around them is a JSON *manifest*, stored as a uint8 array ``__manifest__``.

Nothing is pickled: loading uses ``np.load(..., allow_pickle=False)``, so opening a
checkpoint cannot run code hidden in it.

Saving is atomic (``tinylm.atomic_write``): the file is written to a temporary name in the
same folder, flushed to disk (``fsync``) and only then renamed over ``path`` (``os.replace``
is atomic). A crash or an error while saving leaves the previous checkpoint untouched, and
the next save removes the temporary file a killed one left behind.

Loading trusts nothing in the file: before anything is allocated, every member's declared
size is checked against the size of the file and against the shape and dtype its header
declares, and the manifest may nest at most :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from typing import IO, Any

import numpy as np

from tinylm.atomic_write import atomic_write
from tinylm.autograd import TinyLMError
from tinylm.device import normalize_device, to_device_array
from tinylm.tensor import Tensor

__all__ = ["load", "save"]

_FORMAT = "tinylm-checkpoint"
_VERSION = 1
_MANIFEST = "__manifest__"
#: how deeply containers may nest; a state dict needs about 5 levels
MAX_DEPTH = 100
#: the most a deflated member can expand (deflate's limit is about 1032:1)
_MAX_DEFLATE_RATIO = 1032


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str, depth: int = 0) -> Any:
    """Turn ``obj`` into a JSON-able node, moving its arrays into ``arrays``."""
    if depth > MAX_DEPTH:
        raise TypeError(f"save: {where[:80]}… nests deeper than {MAX_DEPTH} levels")

    def store(a: Any) -> str:
        a = np.asarray(to_device_array(a, "cpu"))
        if a.dtype == object:
            raise TypeError(
                f"save: {where} is an object array, which cannot be saved without pickle"
            )
        name = f"a{len(arrays)}"
        arrays[name] = a
        return name

    if obj is None or isinstance(obj, bool | str):
        return {"t": "value", "v": obj}
    if isinstance(obj, int | float) and not isinstance(obj, np.generic):
        return {"t": "value", "v": obj}
    if isinstance(obj, Tensor):
        return {"t": "tensor", "a": store(obj.data), "requires_grad": obj.requires_grad}
    if isinstance(obj, np.generic):
        return {"t": "scalar", "a": store(np.asarray(obj))}
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # numpy or cupy array
        return {"t": "array", "a": store(obj)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, str | int) or isinstance(k, bool):
                raise TypeError(
                    f"save: {where} has a key {k!r}; only str and int keys can be saved"
                )
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]", depth + 1)])
        return {"t": "dict", "items": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "t": kind,
            "items": [_encode(v, arrays, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)],
        }
    raise TypeError(
        f"save: {where} has type {type(obj).__name__}, which cannot be saved; use dicts, "
        "lists, tuples, Tensors, arrays, numbers, strings, bools or None"
    )


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` to ``path`` as an ``.npz`` checkpoint, atomically.

    The file is first written to a temporary file next to ``path``, flushed to disk and
    then renamed onto ``path``: readers see the old file or the complete new one, never
    a half-written one. If anything fails, the old file is left as it was.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    root = _encode(obj, arrays, "obj")  # raises before any file is touched
    manifest = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root})
    arrays[_MANIFEST] = np.frombuffer(manifest.encode("utf-8"), dtype=np.uint8)

    def write(f: IO[bytes]) -> None:
        np.savez(f, **arrays)

    atomic_write(path, write)


def _decode(node: Any, arrays: dict[str, np.ndarray], device: str | None, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"the manifest nests deeper than {MAX_DEPTH} levels")
    kind = node["t"]
    if kind == "value":
        return node["v"]
    if kind == "tensor":
        a = arrays[node["a"]]
        t = Tensor._wrap(to_device_array(a, device) if device else a)
        if node.get("requires_grad"):
            t.requires_grad = True
        return t
    if kind == "array":
        return arrays[node["a"]]
    if kind == "scalar":
        return arrays[node["a"]][()]
    if kind == "dict":
        return {k: _decode(v, arrays, device, depth + 1) for k, v in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, device, depth + 1) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    raise ValueError(f"unknown node type {kind!r}")


def _check_member(info: zipfile.ZipInfo, archive_size: int) -> None:
    """A member's declared sizes must be possible for a file of ``archive_size`` bytes."""
    if not info.filename.endswith(".npy"):
        raise ValueError(f"member {info.filename!r} is not a .npy array")
    if info.compress_size > archive_size:
        raise ValueError(
            f"member {info.filename!r} declares {info.compress_size} bytes in a file of "
            f"{archive_size}"
        )
    if info.compress_type == zipfile.ZIP_STORED:
        limit = info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        limit = _MAX_DEFLATE_RATIO * info.compress_size + 1024
    else:
        raise ValueError(f"member {info.filename!r} uses an unsupported compression method")
    if info.file_size > limit:
        raise ValueError(
            f"member {info.filename!r} declares {info.file_size} bytes, more than its "
            f"{info.compress_size} stored bytes can hold"
        )


def _read_npy(f: IO[bytes], info: zipfile.ZipInfo) -> np.ndarray:
    """One ``.npy`` member, after checking that its header's shape × dtype is its size."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"member {info.filename!r} has unsupported .npy version {version}")
    if dtype.hasobject:
        raise ValueError(f"member {info.filename!r} holds Python objects (would need pickle)")
    nbytes = math.prod(shape) * dtype.itemsize
    if f.tell() + nbytes != info.file_size:
        raise ValueError(
            f"member {info.filename!r} declares shape {shape} {dtype} ({nbytes} bytes) but "
            f"holds {info.file_size - f.tell()} bytes"
        )
    buffer = bytearray(nbytes)  # a bytearray, so the array made from it is writable
    if f.readinto(buffer) != nbytes or f.read(1):  # reading to the end also checks the CRC
        raise ValueError(f"member {info.filename!r} is shorter or longer than declared")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    """Every member of the ``.npz`` at ``path``, by name without ``.npy``; all sizes are
    checked before the first array is allocated."""
    archive_size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        for info in members:
            _check_member(info, archive_size)
        arrays = {}
        for info in members:
            with archive.open(info) as f:
                arrays[info.filename[: -len(".npy")]] = _read_npy(f, info)
    return arrays


def load(
    path: str | os.PathLike[str],
    device: str | None = None,
    *,
    map_location: str | None = None,
    weights_only: bool | None = None,
) -> Any:
    """Read a checkpoint written by :func:`save`.

    Tensors come back as Tensors (on ``device`` if given, else the CPU), arrays as numpy
    arrays, and containers and numbers as they were saved. ``map_location`` is PyTorch's
    name for ``device`` (a device name only); ``weights_only`` is accepted and changes
    nothing: a tinylm checkpoint holds arrays and a JSON manifest, never code to run.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TinyLMError (a ValueError): the file is truncated, corrupt, inconsistent (sizes that
            do not add up, nesting deeper than :data:`MAX_DEPTH`), or not a tinylm
            checkpoint; the message names the path.
    """
    path = os.fspath(path)
    if map_location is not None:
        if device is not None or not isinstance(map_location, str):
            raise TinyLMError(
                "load: map_location must be one device name ('cpu', 'cuda'), given instead of "
                f"device; got {map_location!r}"
            )
        device = map_location
    target = normalize_device(device) if device is not None else None
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path!r}")

    def bad(reason: str) -> TinyLMError:
        return TinyLMError(f"load: {path!r} is not a readable tinylm checkpoint: {reason}")

    if os.path.isdir(path):
        raise bad("it is a folder")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":  # every .npz is a zip archive, which starts with this
        what = "it is a single .npy array" if head[:2] == b"\x93N" else "wrong file signature"
        raise bad(f"{what}, not an .npz archive")
    try:
        arrays = _read_arrays(path)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise bad(f"{type(e).__name__}: {e} (truncated, corrupt, or another format)") from e
    if _MANIFEST not in arrays:
        raise bad("it has no manifest (a .npz written by something else?)")
    try:
        manifest = json.loads(arrays.pop(_MANIFEST).tobytes().decode("utf-8"))
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"format is {manifest.get('format')!r}")
        if manifest.get("version", 0) > _VERSION:
            raise ValueError(
                f"written by a newer tinylm (format version {manifest['version']} > {_VERSION})"
            )
        return _decode(manifest["root"], arrays, target)
    except RecursionError:
        raise bad(f"broken manifest: it nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise bad(f"broken manifest: {e}") from e

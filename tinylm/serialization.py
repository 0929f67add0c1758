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

Saving is atomic: the file is written to a temporary name in the same folder, flushed to
disk (``fsync``) and only then renamed over ``path`` (``os.replace`` is atomic). A crash or
an error while saving leaves the previous checkpoint untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.device import normalize_device, to_device_array
from tinylm.tensor import Tensor

__all__ = ["load", "save"]

_FORMAT = "tinylm-checkpoint"
_VERSION = 1
_MANIFEST = "__manifest__"


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """Turn ``obj`` into a JSON-able node, moving its arrays into ``arrays``."""

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
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"t": "dict", "items": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "t": kind,
            "items": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)],
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

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _decode(node: Any, arrays: dict[str, np.ndarray], device: str | None) -> Any:
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
        return {k: _decode(v, arrays, device) for k, v in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, device) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    raise ValueError(f"unknown node type {kind!r}")


def load(path: str | os.PathLike[str], device: str | None = None) -> Any:
    """Read a checkpoint written by :func:`save`.

    Tensors come back as Tensors (on ``device`` if given, else the CPU), arrays as numpy
    arrays, and containers and numbers as they were saved.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TinyLMError (a ValueError): the file is truncated, corrupt, or not a tinylm
            checkpoint; the message names the path.
    """
    path = os.fspath(path)
    target = normalize_device(device) if device is not None else None
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path!r}")

    def bad(reason: str) -> TinyLMError:
        return TinyLMError(f"load: {path!r} is not a readable tinylm checkpoint: {reason}")

    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":  # every .npz is a zip archive, which starts with this
        what = "it is a single .npy array" if head[:2] == b"\x93N" else "wrong file signature"
        raise bad(f"{what}, not an .npz archive")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise bad("it is a single .npy array, not an .npz archive")
        try:
            # reading every member here also verifies each one's CRC (truncation, bit rot)
            arrays = {name: data[name] for name in data.files}
        finally:
            data.close()
    except TinyLMError:
        raise
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
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise bad(f"broken manifest: {e}") from e

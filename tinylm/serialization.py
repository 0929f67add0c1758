"""Checkpoints: ``tinylm.save(obj, f)`` and ``tinylm.load(f)``, where ``f`` is a path or a
binary file object (``io.BytesIO``, ``open(path, "wb")``), as in PyTorch.

What can be saved: nested dicts (str or int keys), lists and tuples of Tensors, numpy
arrays, numpy scalars, Python numbers, strings, bools and None — a model's
``state_dict()``, an optimizer's, or a whole checkpoint such as
``{"model": ..., "optim": ..., "step": 10, "config": {...}}``.

The file format is a plain ``.npz`` (a zip of ``.npy`` arrays) that numpy alone can read:

* every array is stored as ``a0``, ``a1``, …;
* the structure around them is a JSON *manifest*, stored as a uint8 array ``__manifest__``.

A tensor saved twice (``{"a": t, "b": t}``) is stored once and reloads as one tensor, and two
tensors around the same array (a ``state_dict`` of tied weights) reload sharing one array,
as PyTorch keeps sharing; an ``nn.Parameter`` reloads as a Parameter. (Two tensors that
overlap only partly — ``t`` and ``t[0]`` — are stored and reloaded as separate arrays.)

Nothing is pickled: loading uses ``np.load(..., allow_pickle=False)``, so opening a
checkpoint cannot run code hidden in it.

Saving to a path is atomic (``tinylm.atomic_write``): the file is written to a temporary name in the
same folder, flushed to disk (``fsync``) and only then renamed over ``path`` (``os.replace``
is atomic). A crash or an error while saving leaves the previous checkpoint untouched, and
the next save removes the temporary file a killed one left behind. A file object is written
at its current position and left open, as ``torch.save`` does; whether it is atomic is up to
whoever owns the object.

Loading trusts nothing in the file: before anything is allocated, every member's declared
size is checked against the size of the file and against the shape and dtype its header
declares, and the manifest may nest at most :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from typing import IO, Any

import numpy as np

from tinylm.atomic_write import atomic_write
from tinylm.autograd import TinyLMError
from tinylm.devices import normalize_device, to_device_array
from tinylm.tensor import Tensor

__all__ = ["load", "save"]

_FORMAT = "tinylm-checkpoint"
_VERSION = 2  # 2: "same" nodes (a tensor saved twice); written only where there is one
_MANIFEST = "__manifest__"
#: how deeply containers may nest; a state dict needs about 5 levels
MAX_DEPTH = 100
#: the most a deflated member can expand (deflate's limit is about 1032:1)
_MAX_DEFLATE_RATIO = 1032


class _Saved:
    """What one save has stored so far: arrays by name, and which objects were seen."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.names: dict[int, str] = {}  # id of an array object -> its name
        self.tensors: dict[int, int] = {}  # id of a Tensor -> its index among the tensors
        self.keep: list[Any] = []  # the objects whose ids are keys above, kept alive
        self.shared = False  # a tensor was saved twice: the manifest needs version 2


def _encode(obj: Any, saved: _Saved, where: str, depth: int = 0) -> Any:
    """Turn ``obj`` into a JSON-able node, moving its arrays into ``saved.arrays``."""
    if depth > MAX_DEPTH:
        raise TypeError(f"save: {where[:80]}… nests deeper than {MAX_DEPTH} levels")
    arrays = saved.arrays

    def store(a: Any) -> str:
        if id(a) in saved.names:  # the same array object again: stored once
            return saved.names[id(a)]
        original = a
        a = np.asarray(to_device_array(a, "cpu"))
        if a.dtype == object:
            raise TypeError(
                f"save: {where} is an object array, which cannot be saved without pickle"
            )
        name = f"a{len(arrays)}"
        arrays[name] = a
        saved.names[id(original)] = name
        saved.keep.append(original)
        return name

    if obj is None or isinstance(obj, bool | str):
        return {"t": "value", "v": obj}
    if isinstance(obj, int | float) and not isinstance(obj, np.generic):
        return {"t": "value", "v": obj}
    if isinstance(obj, Tensor):
        if id(obj) in saved.tensors:  # the same tensor again: reloads as the same object
            saved.shared = True
            return {"t": "same", "k": saved.tensors[id(obj)]}
        saved.tensors[id(obj)] = len(saved.tensors)
        saved.keep.append(obj)
        node = {"t": "tensor", "a": store(obj.data), "requires_grad": obj.requires_grad}
        if _is_parameter(obj):
            node["parameter"] = True
        return node
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
            items.append([k, _encode(v, saved, f"{where}[{k!r}]", depth + 1)])
        return {"t": "dict", "items": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "t": kind,
            "items": [_encode(v, saved, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)],
        }
    raise TypeError(
        f"save: {where} has type {type(obj).__name__}, which cannot be saved; use dicts, "
        "lists, tuples, Tensors, arrays, numbers, strings, bools or None"
    )


def _is_parameter(t: Tensor) -> bool:
    from tinylm.nn.module import Parameter  # tinylm.nn imports this package's modules

    return isinstance(t, Parameter)


def _file_object(f: Any, mode: str, op: str) -> Any:
    """``f`` if it is a binary file object (it has ``mode``'s method: read or write), None
    if it is a path; a text-mode file is one clear error."""
    if not hasattr(f, mode):
        return None
    mode_name = getattr(f, "mode", "b")
    if isinstance(f, io.TextIOBase) or (isinstance(mode_name, str) and "b" not in mode_name):
        wanted = "wb" if mode == "write" else "rb"
        raise TypeError(
            f"{op}: the file is open in text mode; a checkpoint is bytes: open it with "
            f"open(path, {wanted!r}), or pass the path"
        )
    return f


def save(obj: Any, f: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write ``obj`` to ``f`` (a path or a binary file object) as an ``.npz`` checkpoint.

    To a path the write is atomic: the file is first written to a temporary file next to
    it, flushed to disk and then renamed onto it, so readers see the old file or the
    complete new one, never a half-written one; if anything fails, the old file is left as
    it was. A file object (``io.BytesIO``, ``open(path, "wb")``) is written at its current
    position and left open, as ``torch.save`` does.
    """
    stream = _file_object(f, "write", "save")
    saved = _Saved()
    root = _encode(obj, saved, "obj")  # raises before any file is touched
    version = _VERSION if saved.shared else 1  # older tinylms read files without sharing
    manifest = json.dumps({"format": _FORMAT, "version": version, "root": root})
    arrays = saved.arrays
    arrays[_MANIFEST] = np.frombuffer(manifest.encode("utf-8"), dtype=np.uint8)

    def write(file: IO[bytes]) -> None:
        np.savez(file, **arrays)

    if stream is not None:
        write(stream)
    else:
        atomic_write(os.fspath(f), write)


class _Loaded:
    """What one load has rebuilt so far: tensors in the order saved, arrays moved to the
    device by name (so tensors that shared an array share it again)."""

    def __init__(self, arrays: dict[str, np.ndarray], device: str | None) -> None:
        self.arrays = arrays
        self.device = device
        self.tensors: list[Tensor] = []
        self.on_device: dict[str, Any] = {}
        self.owners: dict[str, Tensor] = {}  # array name -> the first tensor around it

    def tensor_array(self, name: str) -> Any:
        if name not in self.on_device:
            a = self.arrays[name]
            self.on_device[name] = to_device_array(a, self.device) if self.device else a
        return self.on_device[name]


def _decode(node: Any, loaded: _Loaded, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"the manifest nests deeper than {MAX_DEPTH} levels")
    arrays = loaded.arrays
    kind = node["t"]
    if kind == "value":
        return node["v"]
    if kind == "tensor":
        name = node["a"]
        a = loaded.tensor_array(name)
        requires_grad = bool(node.get("requires_grad"))
        if node.get("parameter"):
            from tinylm.nn.module import Parameter  # tinylm.nn imports this package

            t = Parameter(a, requires_grad=requires_grad)
        else:
            t = Tensor._wrap(a)
            if requires_grad:
                t.requires_grad = True
        if name in loaded.owners:  # shares memory with an earlier tensor: one version count
            t._version_counter = loaded.owners[name]._version_counter
        else:
            loaded.owners[name] = t
        loaded.tensors.append(t)
        return t
    if kind == "same":
        k = node["k"]
        if not isinstance(k, int) or not 0 <= k < len(loaded.tensors):
            raise ValueError(f"a repeated tensor refers to tensor {k!r}, which comes later")
        return loaded.tensors[k]
    if kind == "array":
        return arrays[node["a"]]
    if kind == "scalar":
        return arrays[node["a"]][()]
    if kind == "dict":
        return {k: _decode(v, loaded, depth + 1) for k, v in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(v, loaded, depth + 1) for v in node["items"]]
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


def _read_arrays(source: str | IO[bytes], archive_size: int) -> dict[str, np.ndarray]:
    """Every member of the ``.npz`` at ``source`` (a path or a binary file object of
    ``archive_size`` bytes), by name without ``.npy``; all sizes are checked before the
    first array is allocated."""
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        for info in members:
            _check_member(info, archive_size)
        arrays = {}
        for info in members:
            with archive.open(info) as f:
                arrays[info.filename[: -len(".npy")]] = _read_npy(f, info)
    return arrays


def load(
    f: str | os.PathLike[str] | IO[bytes],
    device: str | None = None,
    *,
    map_location: str | None = None,
    weights_only: bool | None = None,
) -> Any:
    """Read a checkpoint written by :func:`save` from ``f``: a path, or a binary file object
    (``io.BytesIO``, ``open(path, "rb")``) read from its current position to its end.

    Tensors come back as Tensors (on ``device`` if given, else the CPU), Parameters as
    ``nn.Parameter``, arrays as numpy arrays, and containers and numbers as they were
    saved; a tensor saved twice comes back as one tensor. ``map_location`` is PyTorch's
    name for ``device`` (a device name only); ``weights_only`` is accepted and changes
    nothing: a tinylm checkpoint holds arrays and a JSON manifest, never code to run.

    Raises:
        FileNotFoundError: ``f`` is a path that does not exist.
        TypeError: ``f`` is a file open in text mode.
        TinyLMError (a ValueError): the file is truncated, corrupt, inconsistent (sizes that
            do not add up, nesting deeper than :data:`MAX_DEPTH`), or not a tinylm
            checkpoint; the message names the path (or the file object's type).
    """
    stream = _file_object(f, "read", "load")
    if map_location is not None:
        if device is not None or not isinstance(map_location, str):
            raise TinyLMError(
                "load: map_location must be one device name ('cpu', 'cuda'), given instead of "
                f"device; got {map_location!r}"
            )
        device = map_location
    target = normalize_device(device) if device is not None else None

    source: str | IO[bytes]
    if stream is None:
        path = os.fspath(f)
        what = repr(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"load: no checkpoint at {path!r}")
        if os.path.isdir(path):
            raise TinyLMError(f"load: {what} is not a readable tinylm checkpoint: it is a folder")
        with open(path, "rb") as file:
            head = file.read(4)
        source, size = path, os.path.getsize(path)
    else:
        name = getattr(stream, "name", None)
        what = repr(name) if isinstance(name, str) else f"the {type(stream).__name__}"
        data = stream.read()  # the rest of the stream: a zip is read from its end
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"load: {what}.read() gave {type(data).__name__}, not bytes")
        head = bytes(data[:4])
        source, size = io.BytesIO(data), len(data)

    def bad(reason: str) -> TinyLMError:
        return TinyLMError(f"load: {what} is not a readable tinylm checkpoint: {reason}")

    if head != b"PK\x03\x04":  # every .npz is a zip archive, which starts with this
        kind = "it is a single .npy array" if head[:2] == b"\x93N" else "wrong file signature"
        raise bad(f"{kind}, not an .npz archive")
    try:
        arrays = _read_arrays(source, size)
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
        return _decode(manifest["root"], _Loaded(arrays, target))
    except RecursionError:
        raise bad(f"broken manifest: it nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise bad(f"broken manifest: {e}") from e

"""Helpers the tokenizers share: atomic text writes, JSON files of a known type, token-id
checks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from tinylm.atomic_write import atomic_write
from tinylm.data.errors import DataError

__all__ = ["as_id_list", "atomic_write_text", "read_json_object"]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` so that readers never see a half-written file.

    ``tinylm.atomic_write`` writes a temporary file in the *same folder* and then
    ``os.replace``-s it onto the destination (atomic only within one file system, which is
    why the temporary file must live next to the target, not in ``/tmp``). The folder is
    created if needed.

    Returns the destination as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    atomic_write(path, lambda f: f.write(data))
    return path


def read_json_object(path: str | os.PathLike[str], expected_type: str | None) -> dict[str, Any]:
    """Read a tinylm JSON file and check its ``"type"`` field.

    Args:
        path: file to read.
        expected_type: the value the file's ``"type"`` field must have, for example
            ``"tinylm.CharTokenizer"``. This catches "loaded the wrong file" mistakes early
            with a clear message instead of a ``KeyError`` deep inside the loader.
            ``None`` skips the check (the caller dispatches on the type itself).

    Returns:
        The parsed JSON object (a ``dict``).

    Raises:
        DataError: the file is missing, is not JSON, is not an object, or has another type.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (invalid UTF-8), expected JSON") from None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    found = obj.get("type")
    if expected_type is not None and found != expected_type:
        raise DataError(
            f"{path}: not a {expected_type} file (its 'type' field is {found!r}); "
            "was it saved by a different tokenizer or program?"
        )
    return obj


def as_id_list(ids: Iterable[int] | np.ndarray, vocab_size: int) -> list[int]:
    """Turn ``ids`` (list, tuple, or numpy integer array of any shape) into a flat list of ints.

    Raises ValueError for non-integer arrays and for ids outside ``[0, vocab_size)``, naming
    the first bad id, because a silent wrap-around (negative indexing!) would hide bugs.
    """
    if isinstance(ids, np.ndarray):
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"token ids must be integers, got an array of dtype {ids.dtype}")
        flat = ids.reshape(-1).tolist()  # tolist() gives Python ints, much faster than int(x)
    else:
        flat = [int(i) for i in ids]
    for i in flat:
        if not 0 <= i < vocab_size:
            raise ValueError(f"token id {i} is out of range for a vocabulary of {vocab_size}")
    return flat

"""Write a file so that readers see the old version or the complete new one, never a mix.

``atomic_write(path, write)`` lets ``write`` fill a temporary file *in the same folder*,
flushes it to disk (``fsync``) and renames it onto ``path`` (``os.replace``, atomic within
one file system). Used by ``tinylm.save`` (checkpoints) and the tokenizers' ``save``.

What a crash can leave behind is a temporary file, ``.NAME.<random>.tmp``. The writer holds a
lock on its temporary file (``flock``, released by the OS when the process dies, even by
SIGKILL), so the next write to ``NAME`` can tell an abandoned one from one that another
process is still writing, and removes the abandoned ones.

Files are created with mode 0o666 minus the user's umask, like any file ``open`` creates.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: a file that is open elsewhere cannot be removed anyway
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write", "remove_stale_temporaries"]


def _is_temporary_of(name: str, target: str) -> bool:
    return name.startswith(f".{target}.") and name.endswith(".tmp")


def _create_temporary(path: str) -> tuple[int, str]:
    """A new, empty ``.NAME.<random>.tmp`` next to ``path``: (file descriptor, its path)."""
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            # O_EXCL: never reuse a name; mode 0o666 is reduced by the umask, as for open()
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files that interrupted writes to ``path`` left behind.

    A temporary file whose writer is still alive (it holds the lock) is left alone.
    Returns the paths removed.
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    try:
        candidates = [n for n in os.listdir(folder) if _is_temporary_of(n, name)]
    except OSError:
        return []
    removed = []
    for candidate in candidates:
        tmp = os.path.join(folder, candidate)
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except OSError:
            continue
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer lives
            os.unlink(tmp)
            removed.append(tmp)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(file)`` on a temporary file, then put it in place of ``path`` atomically.

    If anything fails (or the process is interrupted), ``path`` keeps its old content and
    the temporary file is removed.

    Raises:
        OSError: the file system refused (folder missing or read-only, disk full, …); the
            error's ``filename`` is ``path``.
    """
    path = os.fspath(path)
    try:
        remove_stale_temporaries(path)
        fd, tmp = _create_temporary(path)
        try:
            with os.fdopen(fd, "wb") as f:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # "alive": see remove_stale_temporaries
                write(f)
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the rename shows them
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as e:
        # name the file the caller asked for (a full disk's error names no file at all)
        raise OSError(e.errno, e.strerror or str(e), path) from e
    _fsync_folder(os.path.dirname(os.path.abspath(path)))


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

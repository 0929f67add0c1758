"""Download a named data set once, verify it, and keep it in a local cache.

Every download is checked against a known SHA-256 hash: a truncated transfer, a captive
portal's HTML page or a silently changed upstream file is caught before it can spoil a
training run. Files are written atomically (temporary file + ``os.replace``), so the cache
never holds a partial file, and a checksum mismatch leaves nothing behind.

Example:
    >>> path = download("shakespeare")  # doctest: +SKIP
    >>> text = load_text(path)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from tinylm import environment
from tinylm.atomic_write import atomic_write
from tinylm.data.errors import DownloadError

#: Environment variable that overrides the default cache folder.
CACHE_ENV_VAR = "TINYLM_CACHE"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a known data set lives and what its bytes must hash to.

    Attributes:
        url: HTTP(S) address of the raw file.
        sha256: hex SHA-256 of the exact file contents.
        filename: name of the file inside the cache folder.
        description: one line for humans.
    """

    url: str
    sha256: str
    filename: str
    description: str = ""


#: Data sets that :func:`download` knows by name.
DATASETS: dict[str, DatasetInfo] = {
    "shakespeare": DatasetInfo(
        url=(
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/"
            "data/tinyshakespeare/input.txt"
        ),
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        filename="tinyshakespeare.txt",
        description="tiny-shakespeare: ~1.1 MB of Shakespeare plays (karpathy/char-rnn)",
    ),
}

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_BLOCK = 1 << 16  # read/hash in 64 KiB pieces so large files never sit in memory twice


def default_cache_dir() -> Path:
    """``$TINYLM_CACHE`` if set, else ``~/.cache/tinylm`` (see :mod:`tinylm.environment`)."""
    return environment.cache_dir()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's contents, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def download(
    name: str = "shakespeare",
    cache_dir: str | os.PathLike[str] | None = None,
    url: str | None = None,
    sha256: str | None = None,
    *,
    timeout: float = 30.0,
) -> Path:
    """Fetch a data set into the cache (once) and return the path of the local file.

    Args:
        name: a key of :data:`DATASETS` (e.g. ``"shakespeare"``), or any other simple name
            (letters, digits, ``_.-``) when ``url`` is given.
        cache_dir: folder for downloaded files; default :func:`default_cache_dir`.
        url: override the data set's address (a mirror, or a data set tinylm does not know).
        sha256: override the expected hash. For an unknown data set without ``sha256`` the
            file is not verified (its hash is reported in the error message of any later
            mismatch, and you can pin it by passing it here).
        timeout: seconds to wait for the server before giving up.

    Returns:
        Path of the verified file in the cache folder.

    Raises:
        ValueError: unknown ``name`` without ``url``, or a name unusable as a file name.
        DownloadError: network or HTTP failure, or checksum mismatch (nothing is saved).
    """
    info = DATASETS.get(name)
    if info is None and url is None:
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset {name!r}; known datasets: {known} (or pass url=...)")
    if not _SAFE_NAME.fullmatch(name):
        raise ValueError(f"dataset name {name!r} must be letters, digits, '_', '.' or '-'")
    if url is None:
        assert info is not None  # checked above: unknown names need a url
        url = info.url
    expected = (sha256 or (info.sha256 if info else None) or "").lower() or None
    if info is not None:
        filename = info.filename
    else:
        filename = name + Path(urlparse(url).path).suffix

    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = folder / filename

    # Cache hit: no network at all, as long as the file still has the right contents.
    if target.is_file():
        if expected is None or sha256_file(target) == expected:
            return target
        # A cached file that fails verification is refetched rather than trusted.

    folder.mkdir(parents=True, exist_ok=True)

    def fetch(f: BinaryIO) -> None:
        h = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": "tinylm"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                while block := response.read(_BLOCK):
                    h.update(block)
                    f.write(block)
        except urllib.error.HTTPError as e:
            raise DownloadError(
                f"downloading {name!r} from {url} failed: HTTP {e.code} {e.reason}"
            ) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DownloadError(
                f"downloading {name!r} from {url} failed: {reason} "
                "(no network? behind a proxy? try url=... for a mirror)"
            ) from None
        got = h.hexdigest()
        if expected is not None and got != expected:
            raise DownloadError(
                f"checksum mismatch for {name!r} from {url}: expected sha256 {expected}, "
                f"got {got}; the file was not saved"
            )

    # the file appears only complete and verified; an interrupted download leaves nothing
    atomic_write(target, fetch)
    return target

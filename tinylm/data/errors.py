"""Error types for :mod:`tinylm.data`.

Everything that goes wrong because of a *file* or *data set* (missing file, binary file,
corrupt tokenizer JSON, failed download, checksum mismatch) raises :class:`DataError`.
It subclasses :class:`ValueError`, so ``except ValueError`` keeps working for callers who do
not care about the distinction.
"""

from __future__ import annotations


class DataError(ValueError):
    """A data file or data set is missing, unreadable, corrupt or unsuitable.

    The message is always a single line that names the file (or URL) and says what to do.
    """


class DownloadError(DataError):
    """A download failed: network error, HTTP error status, or checksum mismatch."""

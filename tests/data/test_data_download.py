"""download(): cache, checksum and HTTP errors, against a local server (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from tinylm.data import DATASETS, DownloadError, default_cache_dir, download

PAYLOAD = ("To be, or not to be, that is the question.\n" * 200).encode("utf-8")
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


class LocalServer:
    """Serves a folder over HTTP on 127.0.0.1 from a background thread."""

    def __init__(self, root: Path) -> None:
        def handler(*args, **kwargs):
            return _QuietHandler(*args, directory=str(root), **kwargs)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests = 0
        original = self.httpd.finish_request

        def counting(*args, **kwargs):
            self.requests += 1
            return original(*args, **kwargs)

        self.httpd.finish_request = counting
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.txt").write_bytes(PAYLOAD)
    srv = LocalServer(root)
    yield srv
    srv.stop()


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_download_then_cache_hit(server, cache):
    path = download("mydata", cache_dir=cache, url=f"{server.url}/data.txt", sha256=PAYLOAD_SHA)
    assert path == cache / "mydata.txt"
    assert path.read_bytes() == PAYLOAD
    assert server.requests == 1
    assert [p.name for p in cache.iterdir()] == ["mydata.txt"]  # no temp file left

    server.stop()  # a second call must not touch the network
    again = download("mydata", cache_dir=cache, url=f"{server.url}/data.txt", sha256=PAYLOAD_SHA)
    assert again == path


def test_checksum_mismatch_leaves_nothing(server, cache):
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        download("mydata", cache_dir=cache, url=f"{server.url}/data.txt", sha256="0" * 64)
    assert PAYLOAD_SHA in str(info.value)
    assert list(cache.iterdir()) == []


def test_known_dataset_uses_its_registered_hash(server, cache):
    # A mirror serving different bytes under the name "shakespeare" must be rejected.
    with pytest.raises(DownloadError, match=DATASETS["shakespeare"].sha256):
        download("shakespeare", cache_dir=cache, url=f"{server.url}/data.txt")
    assert list(cache.iterdir()) == []


def test_corrupt_cache_is_refetched(server, cache):
    url = f"{server.url}/data.txt"
    path = download("mydata", cache_dir=cache, url=url, sha256=PAYLOAD_SHA)
    path.write_bytes(b"truncated")
    assert download("mydata", cache_dir=cache, url=url, sha256=PAYLOAD_SHA).read_bytes() == PAYLOAD
    assert server.requests == 2


def test_http_404(server, cache):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("mydata", cache_dir=cache, url=f"{server.url}/missing.txt", sha256=PAYLOAD_SHA)
    assert list(cache.iterdir()) == []


def test_connection_refused(server, cache):
    url = f"{server.url}/data.txt"
    server.stop()
    with pytest.raises(DownloadError, match="failed"):
        download("mydata", cache_dir=cache, url=url, sha256=PAYLOAD_SHA, timeout=5)


def test_unknown_dataset_and_bad_names(cache):
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*shakespeare"):
        download("nope", cache_dir=cache)
    with pytest.raises(ValueError, match="must be letters"):
        download("../evil", cache_dir=cache, url="http://127.0.0.1:1/x")


def test_cache_dir_from_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYLM_CACHE", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    path = download("mydata", url=f"{server.url}/data.txt", sha256=PAYLOAD_SHA)
    assert path == tmp_path / "envcache" / "mydata.txt"
    monkeypatch.delenv("TINYLM_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "tinylm"


def test_registered_hash_matches_reference_copy():
    # Only where a development checkout has the reference copy beside it (the package itself
    # never reads this path).
    reference = Path(__file__).resolve().parents[3] / "shared" / "data" / "tinyshakespeare.txt"
    if not reference.is_file():
        pytest.skip("no local reference copy of tiny-shakespeare")
    digest = hashlib.sha256(reference.read_bytes()).hexdigest()
    assert DATASETS["shakespeare"].sha256 == digest

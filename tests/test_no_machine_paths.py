"""No path of a development machine anywhere in the repository.

The repository stands alone: nothing tracked may point at the folders of the machines it was
written on (the workspace, a shared folder next to the checkout, a home directory). Data
that is not in the repository is fetched into tinylm's cache (``tinylm data download``) or
passed explicitly by the user.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each pattern names one kind of machine path; "~/.cache/tinylm" (a documented default that
# means the reader's own home) is allowed. The folder names are joined here rather than
# written out, so that this file passes the check it makes (a grep of the repository too).
WORK, SHARED, JOBS = "work", "shared", "_".join(("bash", "jobs"))
HOMES = ("home", "Users", "root")
MACHINE_PATHS = {
    "the development workspace": re.compile(rf"(?<![\w.])/{WORK}/"),
    "a folder next to the checkout": re.compile(rf"\.\./{SHARED}\b"),
    "a home directory": re.compile(
        r"(?<![\w.])(" + "|".join(f"/{h}/" for h in HOMES) + r"|[A-Za-z]:\\Users\\)"
    ),
    "a job's temporary folder": re.compile(rf"/tmp/{JOBS}"),
}


def find_machine_paths(path: Path, text: str) -> list[str]:
    """``"file:line: <kind>: <line>"`` for each line of text holding a machine path."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in MACHINE_PATHS.items():
            if pattern.search(line):
                found.append(f"{path}:{number}: {kind}: {line.strip()[:120]}")
    return found


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [Path(p) for p in out.decode().split("\0") if p]


def test_no_tracked_file_holds_a_machine_path() -> None:
    this_file = Path(__file__).resolve().relative_to(ROOT)
    found = []
    files = tracked_files()
    assert len(files) > 50, files  # the listing worked
    for relative in files:
        path = ROOT / relative
        if relative == this_file or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary (figures, checkpoints)
            continue
        found += find_machine_paths(relative, data.decode("utf-8", errors="replace"))
    assert not found, "machine paths in tracked files:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        f"tinylm train --data ../{SHARED}/data/tinyshakespeare.txt",
        f"see /{WORK}/{SHARED}/seeds/INDEX.md",
        f"open('/{HOMES[0]}/alice/tinylm/out')",
        f"open('/{HOMES[2]}/.cache/x')",
        r"C:\Users\bob\data.txt",
        f"cd /tmp/{JOBS}.1000/x",
    ],
)
def test_each_kind_is_caught(line: str) -> None:
    assert find_machine_paths(Path("x.md"), "ok\n" + line)[0].startswith("x.md:2: ")


@pytest.mark.parametrize(
    "line",
    ["cache in ~/.cache/tinylm", f"lessons/{WORK}/ is fine", f"a/../{SHARED}_data", "homework/"],
)
def test_ordinary_paths_pass(line: str) -> None:
    assert find_machine_paths(Path("x.md"), line) == []

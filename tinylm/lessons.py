"""Run the executable lessons in ``lessons/`` and keep their numbers honest.

A lesson is a Markdown file ``lessons/NN_topic.md`` whose ```` ```python ```` fences run in
order, in one namespace, like the cells of a notebook. Lesson code uses four helpers from
this module:

* :func:`steps` — an iteration count: the full one (the numbers in the text) or a small one
  when ``TINYLM_FAST=1`` (set in CI), so every lesson runs in seconds;
* :func:`expect` — compares a computed number with the number the lesson *states* for the
  current mode and raises ``AssertionError`` when they drift apart;
* :func:`expect_below` — the same for "smaller than" claims (errors, differences);
* :func:`plot_path` / :func:`save_figure` — where a figure goes: ``plots/NN_name.png`` in a
  full run (the committed figures are regenerated), ``$TINYLM_PLOTS_DIR`` when that is set
  (the tests point it at a temporary folder), a temporary folder in fast mode otherwise.

And two functions behind the ``tinylm lessons`` command: :func:`list_lessons` and
:func:`run_lesson` (``tinylm lessons run 03``; :func:`cli` parses those arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinylm import environment

__all__ = [
    "FAST",
    "LESSONS_DIR",
    "PLOTS_DIR",
    "REPO_ROOT",
    "CodeFence",
    "LessonError",
    "LessonInfo",
    "cli",
    "code_fences",
    "expect",
    "expect_below",
    "expect_faster",
    "find_lesson",
    "list_lessons",
    "plot_path",
    "run_lesson",
    "run_lesson_file",
    "save_figure",
    "steps",
]

#: True when lessons should run in their small CI configuration (``TINYLM_FAST=1``).
#: :func:`run_lesson` sets it for the duration of one run; helpers read it at call time.
FAST: bool = environment.fast()

#: The repository root: lessons are run from here, so relative paths in them work.
REPO_ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = REPO_ROOT / "lessons"
PLOTS_DIR = REPO_ROOT / "plots"

_LESSON_GLOB = "[0-9][0-9]_*.md"


class LessonError(RuntimeError):
    """A lesson's code failed; the message names the Markdown file, fence and line."""


# ---------------------------------------------------------------------------------------
# Helpers used inside lessons
# ---------------------------------------------------------------------------------------


def steps(full: int, fast: int) -> int:
    """The number of iterations to run: ``full`` normally, ``fast`` when ``FAST`` is set."""
    if full < 1 or fast < 1:
        raise ValueError(f"steps: counts must be positive, got full={full}, fast={fast}")
    return fast if FAST else full


def _mode() -> str:
    return "fast" if FAST else "full"


def expect(
    name: str,
    value: Any,
    *,
    full: Any,
    fast: Any = None,
    rtol: float = 1e-3,
    atol: float = 0.0,
) -> Any:
    """Check a computed ``value`` against the number the lesson states.

    Args:
        name: what the number is, for the message ("final loss").
        value: the number the code just computed (a float, an int, a string or a 0-d
            tensor/array).
        full: the value stated in the lesson's "What you should see" for a full run.
        fast: the value of a ``TINYLM_FAST=1`` run; ``None`` when it equals ``full``
            (numbers that do not depend on the iteration counts).
        rtol, atol: floats pass when |value − expected| ≤ atol + rtol·|expected|. The
            default 1e-3 matches the four significant digits lessons quote; ints, bools
            and strings must match exactly.

    Returns:
        ``value`` (as a Python scalar), so a lesson can write ``loss = expect(...)``.

    Raises:
        AssertionError: naming the quantity, both numbers and the mode.
    """
    expected = full if (fast is None or not FAST) else fast
    if hasattr(value, "item"):  # a Tensor or a 0-d array
        value = value.item()
    if isinstance(expected, str | bool) or (
        isinstance(expected, int) and isinstance(value, int | bool)
    ):
        ok = value == expected
    else:
        value = float(value)
        ok = math.isfinite(value) and abs(value - expected) <= atol + rtol * abs(expected)
    shown = f"{value:.6g}" if isinstance(value, float) else repr(value)
    if not ok:
        raise AssertionError(
            f"lesson number drifted: {name} = {shown}, but the lesson states {expected!r} "
            f"for a {_mode()} run (rtol={rtol}, atol={atol}). Fix the code or the text, "
            "whichever is wrong."
        )
    print(f"[ok] {name} = {shown}  (lesson states {expected!r}, {_mode()} run)")
    return value


def expect_below(name: str, value: Any, limit: float) -> float:
    """Check a claim of the form "``name`` is below ``limit``" (an error, a difference)."""
    if hasattr(value, "item"):
        value = value.item()
    value = float(value)
    if not value < limit:  # also fails for NaN
        raise AssertionError(
            f"lesson claim failed: {name} = {value:.3g}, but the lesson states it is below "
            f"{limit:g} ({_mode()} run)"
        )
    print(f"[ok] {name} = {value:.3g}  (lesson states < {limit:g})")
    return value


def expect_faster(name: str, time_ratio: float, limit: float) -> float:
    """Check a speed claim "``name`` (a time ratio, new / old) is below ``limit``".

    Checked in full runs only. Fast runs (CI) use small arrays on shared, busy cores, where a
    timing says little; there the measured ratio is printed, not asserted. Speed figures that
    matter come from ``tinylm bench``, not from tests.
    """
    time_ratio = float(time_ratio)
    if FAST:
        print(f"[not checked in a fast run] {name} = {time_ratio:.3g} (full run: < {limit:g})")
        return time_ratio
    return expect_below(name, time_ratio, limit)


def plot_path(name: str) -> Path:
    """Where to save the figure ``name`` (``"NN_what.png"``); creates the folder.

    ``plots/<name>`` in a full run; ``$TINYLM_PLOTS_DIR/<name>`` when that variable is set;
    in a fast run without it, a temporary folder, so quick runs never overwrite the
    committed full-run figures.
    """
    if not re.fullmatch(r"\d\d_[A-Za-z0-9_\-]+\.png", name):
        raise ValueError(
            f"plot_path: figure names look like '03_decision_boundary.png', got {name!r}"
        )
    override = environment.plots_dir()
    if override is not None:
        folder = override
    elif FAST:
        folder = Path(tempfile.gettempdir()) / "tinylm_fast_plots"
    else:
        folder = PLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def save_figure(fig: Any, name: str) -> Path:
    """Save a matplotlib figure to :func:`plot_path` ``(name)``, close it, return the path."""
    import matplotlib.pyplot as plt

    path = plot_path(name)
    # A fixed "Software" entry and no timestamp keep re-runs byte-identical where possible.
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    print(f"saved figure {path}")
    return path


# ---------------------------------------------------------------------------------------
# Reading lessons
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeFence:
    """One ```` ```python ```` block: its code and the line (1-based) where the code starts."""

    index: int
    first_line: int
    code: str


@dataclass(frozen=True)
class LessonInfo:
    """What ``tinylm lessons`` lists about one lesson."""

    number: int
    name: str  # file stem, e.g. "03_binary_cross_entropy"
    title: str  # the H1 heading without its number
    path: Path
    minutes: int | None  # from the "Time: N min" line
    prerequisites: str  # from the "Prerequisites: ..." line


def code_fences(markdown: str) -> list[CodeFence]:
    """The ```` ```python ```` fences of a Markdown text, in order (other languages skipped)."""
    fences: list[CodeFence] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = lines[i].strip()
        if opening.startswith("```"):
            language = opening[3:].strip().lower()
            body_start = i + 1
            j = body_start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                raise LessonError(f"unclosed code fence opened on line {i + 1}")
            if language == "python":
                fences.append(
                    CodeFence(len(fences) + 1, body_start + 1, "\n".join(lines[body_start:j]))
                )
            i = j + 1
        else:
            i += 1
    return fences


def _lesson_info(path: Path) -> LessonInfo:
    text = path.read_text(encoding="utf-8")
    heading = next((ln[2:].strip() for ln in text.splitlines() if ln.startswith("# ")), path.stem)
    title = re.sub(r"^\d+\s*[—–-]\s*", "", heading)  # "03 — Title" -> "Title"
    minutes = re.search(r"Time:\s*(?:about\s*)?(\d+)\s*min", text)
    prereq = re.search(r"Prerequisites:\s*([^\n*]+)", text)
    return LessonInfo(
        number=int(path.name[:2]),
        name=path.stem,
        title=title,
        path=path,
        minutes=int(minutes.group(1)) if minutes else None,
        prerequisites=prereq.group(1).strip().rstrip(".") if prereq else "",
    )


def list_lessons(folder: Path | None = None) -> list[LessonInfo]:
    """All lessons (``NN_*.md``) in ``folder`` (default ``lessons/``), by number."""
    folder = LESSONS_DIR if folder is None else Path(folder)
    if not folder.is_dir():
        raise LessonError(
            f"no lessons folder at {folder}: the lessons ship with the source repository, "
            "not with an installed wheel; run tinylm from a clone"
        )
    return [_lesson_info(p) for p in sorted(folder.glob(_LESSON_GLOB))]


def find_lesson(name_or_number: str | int) -> LessonInfo:
    """A lesson by number (``3``, ``"03"``) or by (a prefix of) its file stem."""
    lessons = list_lessons()
    key = str(name_or_number).strip()
    if key.isdigit():
        matches = [info for info in lessons if info.number == int(key)]
    else:
        key = key.removesuffix(".md")
        matches = [info for info in lessons if info.name == key or info.name.startswith(key)]
    if len(matches) != 1:
        available = ", ".join(info.name for info in lessons)
        raise LessonError(f"no single lesson matches {name_or_number!r}; available: {available}")
    return matches[0]


# ---------------------------------------------------------------------------------------
# Running lessons
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _lesson_mode(fast: bool) -> Iterator[None]:
    """Set FAST (and TINYLM_FAST for anything the lesson starts), restore both afterwards."""
    global FAST
    previous_flag, previous_env = FAST, os.environ.get("TINYLM_FAST")
    FAST = fast
    os.environ["TINYLM_FAST"] = "1" if fast else "0"
    try:
        yield
    finally:
        FAST = previous_flag
        if previous_env is None:
            os.environ.pop("TINYLM_FAST", None)
        else:
            os.environ["TINYLM_FAST"] = previous_env


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_lesson_file(path: Path | str, fast: bool) -> dict[str, Any]:
    """Execute every python fence of one Markdown file in order, in one namespace.

    The code runs with the repository root as working directory, ``__name__`` set to
    ``"__lesson__"`` and matplotlib's non-interactive Agg backend. Each fence is compiled
    with its real line numbers, so a traceback points into the Markdown file.

    Returns:
        The namespace the lesson left behind (handy for tests and for poking around).

    Raises:
        LessonError: naming the file, the fence and the line that failed (the original
            exception is chained as its cause).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path).resolve()
    fences = code_fences(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__lesson__", "__file__": str(path)}
    with _lesson_mode(fast), _working_directory(REPO_ROOT):
        for fence in fences:
            # Pad with blank lines so the compiled code's line numbers are the file's.
            source = "\n" * (fence.first_line - 1) + fence.code
            try:
                exec(compile(source, str(path), "exec"), namespace)  # noqa: S102
            except Exception as e:
                line = _failing_line(e, str(path)) or fence.first_line
                raise LessonError(
                    f"{path.name}: python fence {fence.index} (starting on line "
                    f"{fence.first_line}) failed on line {line} in a "
                    f"{'fast' if fast else 'full'} run: {type(e).__name__}: {e}"
                ) from e
            finally:
                plt.close("all")
    return namespace


def _failing_line(error: BaseException, filename: str) -> int | None:
    """The deepest traceback line that lies in the lesson file itself."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def run_lesson(name_or_number: str | int, fast: bool) -> None:
    """Run one lesson top to bottom: ``run_lesson("03", fast=False)``.

    ``fast=False`` reproduces the numbers written in the lesson and regenerates its figures
    under ``plots/``; ``fast=True`` is the small CI configuration.
    """
    info = find_lesson(name_or_number)
    print(f"== {info.name}: {info.title} ({'fast' if fast else 'full'} run)")
    start = time.perf_counter()
    run_lesson_file(info.path, fast)
    print(f"== {info.name} finished in {time.perf_counter() - start:.1f} s")


# ---------------------------------------------------------------------------------------
# `tinylm lessons ...`
# ---------------------------------------------------------------------------------------


def cli(argv: list[str] | None = None) -> int:
    """``tinylm lessons`` (list) and ``tinylm lessons run NN [--fast]``; returns an exit code."""
    parser = argparse.ArgumentParser(prog="tinylm lessons", description="The tinylm course.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="list the lessons (the default)")
    run = sub.add_parser("run", help="run one lesson and regenerate its figures")
    run.add_argument("lesson", help="number (3, 03) or file name (03_binary_cross_entropy)")
    run.add_argument("--fast", action="store_true", help="the small CI configuration")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            run_lesson(args.lesson, fast=args.fast)
            return 0
        for info in list_lessons():
            minutes = f"{info.minutes:>3} min" if info.minutes else "       "
            print(f"{info.number:02d}  {minutes}  {info.title}")
        print("\nrun one with: tinylm lessons run 03   (add --fast for the quick version)")
        return 0
    except LessonError as e:
        print(f"tinylm lessons: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # python -m tinylm.lessons run 03
    raise SystemExit(cli())

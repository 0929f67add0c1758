"""The exercise solutions run: every ```python fence of lessons/solutions/NN_topic.md.

Solutions live beside the lessons, out of the reader's way, one file per lesson, linked from
the end of the lesson's Exercises section. Each runs on its own (fast mode, like the lessons
in CI) and checks its answers with assertions, so a solution cannot silently go stale.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinylm import lessons
from tinylm.lessons import run_lesson_file

SOLUTIONS_DIR = lessons.LESSONS_DIR / "solutions"
SOLUTIONS = sorted(SOLUTIONS_DIR.glob("[0-9][0-9]_*.md"))


def test_lessons_have_solutions() -> None:
    names = {p.name for p in SOLUTIONS}
    for number in range(1, 13):
        lesson = lessons.find_lesson(f"{number:02d}")
        assert lesson.path.name in names, f"no lessons/solutions/{lesson.path.name}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_belongs_to_a_lesson_that_links_it(path: Path) -> None:
    lesson = lessons.LESSONS_DIR / path.name
    assert lesson.is_file(), f"{path.name}: no lesson of that name"
    exercises = lesson.read_text(encoding="utf-8").split("## Exercises", 1)[1]
    assert f"(solutions/{path.name})" in exercises, f"{lesson.name} does not link {path.name}"
    text = path.read_text(encoding="utf-8")
    assert f"(../{path.name}#exercises)" in text, f"{path.name} does not link its lesson"
    assert re.findall(r"^## Exercise \d+", text, re.M), f"{path.name}: no '## Exercise N'"


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYLM_PLOTS_DIR", str(tmp_path))
    run_lesson_file(path, fast=True)

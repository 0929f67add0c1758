"""The lessons' math is written in forms GitHub's Markdown renders.

GitHub renders ``$...$`` and ``$$...$$`` with MathJax, but only after its Markdown parser has
seen the text, so some TeX that is correct on its own does not survive: an escaped ``\\*`` or
``\\_`` inside math (``$\\theta^\\*$``) shows the backslash, a bare ``^*`` can be read as
emphasis, a ``|`` inside math in a table row splits the cell, and an odd number of ``$`` in
a paragraph leaves the rest of it as raw TeX. These tests reject those patterns in every
lesson, solution, lessons/README.md and SOURCES.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinylm import lessons

FILES = (
    sorted(lessons.LESSONS_DIR.glob("[0-9][0-9]_*.md"))
    + sorted(lessons.LESSONS_DIR.glob("solutions/[0-9][0-9]_*.md"))
    + [lessons.LESSONS_DIR / "README.md", lessons.LESSONS_DIR / "SOURCES.md"]
)
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
DISPLAY = re.compile(r"\$\$.*?\$\$", re.S)
INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$(?!\$)", re.S)


def _prose(markdown: str) -> str:
    """The Markdown without code (fences blanked line for line, inline code removed)."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)
    return INLINE_CODE.sub("", text)


def _math(prose: str) -> list[tuple[int, str]]:
    """(line, TeX) of every display and inline formula."""
    found = []
    for match in DISPLAY.finditer(prose):
        found.append((prose.count("\n", 0, match.start()) + 1, match.group(0)))
    no_display = DISPLAY.sub(lambda m: "\n" * m.group(0).count("\n"), prose)
    for match in INLINE.finditer(no_display):
        found.append((no_display.count("\n", 0, match.start()) + 1, match.group(0)))
    return found


# TeX that GitHub's Markdown mangles, with what to write instead.
BAD_TEX = {
    r"\*": (re.compile(r"\\\*"), "write ^{*} (an escaped \\* shows its backslash)"),
    r"\_": (re.compile(r"\\_"), "write _ inside math (an escaped \\_ shows its backslash)"),
    "^*": (re.compile(r"[\^_]\*"), "write ^{*} (a bare * can start emphasis)"),
}


def math_problems(markdown: str) -> list[str]:
    """Every non-rendering pattern of one Markdown text, as "line N: why: TeX"."""
    prose = _prose(markdown)
    problems = []
    for line, tex in _math(prose):
        for why_pattern, why in BAD_TEX.values():
            if why_pattern.search(tex):
                problems.append(f"line {line}: {why}: {tex[:80]}")
    for number, row in enumerate(prose.splitlines(), 1):
        if row.lstrip().startswith("|"):
            for match in INLINE.finditer(row):
                if re.search(r"(?<!\\)\|", match.group(1)):
                    problems.append(
                        f"line {number}: a | inside math splits the table cell (write \\mid or "
                        f"\\lvert): {match.group(0)[:80]}"
                    )
    paragraph_start = 1
    for paragraph in re.split(r"\n[ \t]*\n", prose):
        dollars = len(re.findall(r"(?<!\\)\$", paragraph.replace("$$", "")))
        if dollars % 2:
            problems.append(f"line {paragraph_start}: odd number of $ in the paragraph")
        paragraph_start += paragraph.count("\n") + 2
    return problems


@pytest.mark.parametrize(
    "path", FILES, ids=[str(p.relative_to(lessons.LESSONS_DIR)) for p in FILES]
)
def test_math_renders_on_github(path: Path) -> None:
    problems = math_problems(path.read_text(encoding="utf-8"))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_lessons_have_math() -> None:
    """The check above is not vacuous: the lessons hold hundreds of formulas."""
    count = sum(len(_math(_prose(p.read_text(encoding="utf-8")))) for p in FILES)
    assert count > 300, count


@pytest.mark.parametrize(
    "bad",
    [
        "the optimum $\\theta^\\*$ here",
        "the risk $R^*$ here",
        "a name $x\\_1$ here",
        "| a | $P(y | x)$ |",
        "an open $x + y here",
        "$$\nx^\\*\n$$",
    ],
)
def test_each_bad_pattern_is_caught(bad: str) -> None:
    assert math_problems("text\n\n" + bad + "\n"), bad


@pytest.mark.parametrize(
    "good",
    [
        "the optimum $\\theta^{*}$ and $R^{*}$",
        "| a | $P(y\\mid x)$ |",
        "costs \\$5 and `$x^*$` in code",
        "```python\nprint('$')\n```",
        "$$\n\\sum_i x_i^{*}\n$$",
    ],
)
def test_good_math_passes(good: str) -> None:
    assert math_problems(good) == [], good

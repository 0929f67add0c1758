"""Every citation of a source document in the lessons resolves to lessons/SOURCES.md.

The repository stands alone: a reader follows "001 §5.2" to the entry of SOURCES.md that
says what that section of the (not included) source document contains. New lessons are
linked with ``python -m tinylm.lesson_citations``; these tests fail until they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tinylm import lesson_citations as lc

FILES = lc.lesson_files()
ANCHORS = lc.source_anchors()


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_citation_is_linked_to_an_existing_anchor(path: Path) -> None:
    found = lc.problems(path, ANCHORS)
    assert not found, "run `python -m tinylm.lesson_citations`:\n" + "\n".join(map(str, found))


def test_lessons_cite_the_documents() -> None:
    """The test above cannot pass vacuously: the lessons do hold linked citations."""
    links = [m for p in FILES for m in lc.LINK.finditer(p.read_text(encoding="utf-8"))]
    assert len(links) >= 50, len(links)


def test_sources_has_every_document_and_chapter_once() -> None:
    text = (lc.LESSONS_DIR / lc.SOURCES_FILE).read_text(encoding="utf-8")
    ids = lc.ANCHOR.findall(text)
    assert len(ids) == len(set(ids)), "duplicate anchors in SOURCES.md"
    for doc in ("000", "001", "002", "003", "004"):
        assert doc in ANCHORS, f"SOURCES.md: no anchor for document {doc}"
        for chapter in range(1, 10):
            assert lc.anchor_for(doc, str(chapter)) in ANCHORS, f"{doc} §{chapter} missing"


# The sections the source documents' equation map names (topic -> where it is stated).
EQUATION_MAP_SECTIONS = (
    "000 §4.1 003 §4.1 004 §4.2 000 §4.2 003 §4.2 000 §3.1 004 §3.2 000 §3.2 000 §4.3 000 §5.4 "
    "001 §4.1 001 §4.2 001 §4.3 001 §4.4 001 §2.1 001 §5.2 001 §3.2 002 §4.2 002 §2.1 002 §3.2 "
    "002 §4.3 002 §5.2 003 §4.3 004 §4.1 004 §5"
)


def test_every_section_of_the_equation_map_has_an_entry() -> None:
    for doc, section in re.findall(r"(\d{3}) §([\d.]+)", EQUATION_MAP_SECTIONS):
        assert lc.anchor_for(doc, section) in ANCHORS, f"SOURCES.md lacks {doc} §{section}"


def test_linking_chains_full_names_and_leaves_code_alone() -> None:
    text = (
        "As stated (000 §4.3, §5.4; 001_9e37b42bf89a0dc3.txt §4.1) and\n004\n§3.2.\n"
        "```python\nx = 1  # 001 §4.2\n```\n"
    )
    linked = lc.link_citations(text)
    assert "[000 §4.3](SOURCES.md#000-4-3), [§5.4](SOURCES.md#000-5-4)" in linked
    assert "[001_9e37b42bf89a0dc3.txt §4.1](SOURCES.md#001-4-1)" in linked
    assert "[004\n§3.2](SOURCES.md#004-3-2)." in linked
    assert "# 001 §4.2\n" in linked  # code fence untouched
    assert lc.link_citations(linked) == linked  # idempotent


def test_problems_reports_unlinked_citations_and_missing_anchors(tmp_path: Path) -> None:
    md = tmp_path / "99_x.md"
    md.write_text("See 002 §4.2.\n\nAnd [003 §7.7](SOURCES.md#003-7-7).\n", encoding="utf-8")
    found = lc.problems(md, ANCHORS)
    assert [(p.line, p.why) for p in found] == [
        (3, "no such anchor in SOURCES.md"),
        (1, "citation not linked"),
    ]
    assert lc.main(["--check", str(md)]) == 1


# The four lessons lessons/README.md links before they are merged (issues 20–22).
PLANNED_LESSONS = {"13_lstm.md", "14_inference.md", "15_backprop_by_hand.md", "16_trained_gpt.md"}
MD_LINK = re.compile(r"\]\((?P<file>[\w./-]+\.md)(?:#(?P<anchor>[\w.-]+))?\)")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_github_slug() -> None:
    assert github_slug("Step 2: cross-entropy, fused forward and backward") == (
        "step-2-cross-entropy-fused-forward-and-backward"
    )
    assert github_slug("Minimising R: the training loop of [001 §3.1](SOURCES.md#001-3-1)") == (
        "minimising-r-the-training-loop-of-001-31"
    )


def test_equation_map_table_has_twenty_rows_with_resolving_links() -> None:
    readme = (lc.LESSONS_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where each equation of the source documents is treated", 1)[1]
    rows = re.findall(r"^\| (\d+) \|", section.split("\n## ", 1)[0], re.M)
    assert rows == [str(i) for i in range(1, 21)], rows
    for match in MD_LINK.finditer(readme):
        target = lc.LESSONS_DIR / match["file"]
        if not target.is_file():
            assert match["file"] in PLANNED_LESSONS, f"lessons/README.md links {match['file']}"
            continue
        if match["anchor"] and match["file"] != lc.SOURCES_FILE:
            text = re.sub(
                r"^```.*?^```[ \t]*$", "", target.read_text(encoding="utf-8"), flags=re.S | re.M
            )
            slugs = {github_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
            assert match["anchor"] in slugs, f"{match['file']} has no heading #{match['anchor']}"

"""Citations of the source documents, linked to ``lessons/SOURCES.md``.

A lesson cites a source document by its number and section, e.g. ``001 §5.2`` or
``001_9e37b42bf89a0dc3.txt §4.1``, and a chain such as ``000 §4.3, §5.4`` cites two sections
of one document. Each citation becomes a Markdown link to the anchor ``#NNN-S-s`` (or
``#NNN-S`` for a whole chapter) of ``lessons/SOURCES.md``, which describes that section.

``python -m tinylm.lesson_citations`` links every unlinked citation in ``lessons/*.md``
(idempotent: linked citations are left alone); ``--check`` only reports, exiting 1 when a
citation is unlinked or a link points at an anchor ``SOURCES.md`` lacks. Code fences are
never touched: a citation in a code comment stays plain text.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
SOURCES_FILE = "SOURCES.md"

_SECTION = r"(?P<sec>\d+(?:\.\d+)?)"
# "001 §5.2" or "001_9e37b42bf89a0dc3.txt §5.2"; not when part of a longer word or a link.
CITATION = re.compile(
    r"(?<![\w\[#/.-])(?P<doc>00[0-4])(?P<file>_[0-9a-f]{16}\.txt)?\s+§" + _SECTION + r"(?!\d)"
)
# The sections that follow in a chain: "000 §4.3, §5.4" or "§2.1 and §3.2".
FOLLOWER = re.compile(r"(?P<sep>,\s*|\s+and\s+|,\s+and\s+)§" + _SECTION + r"(?!\d)")
LINK = re.compile(r"\[(?P<text>[^\]]*)\]\(" + re.escape(SOURCES_FILE) + r"#(?P<anchor>[\w.-]+)\)")
ANCHOR = re.compile(r'<a id="(?P<anchor>[\w.-]+)"></a>')
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Problem:
    """A citation that is not linked, or a link whose anchor SOURCES.md lacks."""

    path: Path
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}: {self.text!r}: {self.why}"


def anchor_for(doc: str, section: str) -> str:
    """``("001", "5.2")`` -> ``"001-5-2"``: the SOURCES.md anchor of that section."""
    return f"{doc}-{section.replace('.', '-')}"


def source_anchors(sources: Path | None = None) -> set[str]:
    """Every anchor ``<a id="...">`` defined in SOURCES.md."""
    sources = sources or LESSONS_DIR / SOURCES_FILE
    return set(ANCHOR.findall(sources.read_text(encoding="utf-8")))


def _link(text: str, doc: str, section: str) -> str:
    return f"[{text}]({SOURCES_FILE}#{anchor_for(doc, section)})"


def _link_prose(prose: str) -> str:
    """Link every unlinked citation (and the sections chained after it) in a prose chunk."""
    out, pos = [], 0
    while True:
        link = LINK.search(prose, pos)
        end = link.start() if link else len(prose)
        out.append(_link_plain(prose[pos:end]))
        if link is None:
            return "".join(out)
        out.append(link.group(0))  # already linked: keep as it is
        pos = link.end()


def _link_plain(text: str) -> str:
    out, pos = [], 0
    for match in CITATION.finditer(text):
        if match.start() < pos:  # inside a chain handled already
            continue
        doc = match["doc"]
        out.append(text[pos : match.start()])
        out.append(_link(match.group(0), doc, match["sec"]))
        pos = match.end()
        while follower := FOLLOWER.match(text, pos):
            out.append(follower["sep"] + _link(f"§{follower['sec']}", doc, follower["sec"]))
            pos = follower.end()
    out.append(text[pos:])
    return "".join(out)


def _split_fences(markdown: str) -> list[tuple[bool, str]]:
    """(is_code, chunk) pieces whose concatenation is the markdown."""
    pieces, pos = [], 0
    for fence in FENCE.finditer(markdown):
        pieces.append((False, markdown[pos : fence.start()]))
        pieces.append((True, fence.group(0)))
        pos = fence.end()
    pieces.append((False, markdown[pos:]))
    return pieces


def link_citations(markdown: str) -> str:
    """The markdown with every citation outside code fences linked to SOURCES.md."""
    return "".join(c if code else _link_prose(c) for code, c in _split_fences(markdown))


def problems(path: Path, anchors: set[str]) -> list[Problem]:
    """Unlinked citations and links to missing anchors in one Markdown file."""
    found = []
    markdown = path.read_text(encoding="utf-8")
    offset = 0
    for code, chunk in _split_fences(markdown):
        if not code:
            for link in LINK.finditer(chunk):
                if link["anchor"] not in anchors:
                    line = markdown.count("\n", 0, offset + link.start()) + 1
                    found.append(Problem(path, line, link.group(0), "no such anchor in SOURCES.md"))
            unlinked = LINK.sub(lambda m: " " * len(m.group(0)), chunk)
            for match in CITATION.finditer(unlinked):
                line = markdown.count("\n", 0, offset + match.start()) + 1
                found.append(Problem(path, line, match.group(0), "citation not linked"))
        offset += len(chunk)
    return found


def lesson_files(lessons_dir: Path | None = None) -> list[Path]:
    """The Markdown files whose citations are linked: every lesson and lessons/README.md."""
    lessons_dir = lessons_dir or LESSONS_DIR
    return sorted(lessons_dir.glob("[0-9][0-9]_*.md")) + [lessons_dir / "README.md"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 on problems")
    parser.add_argument("files", nargs="*", type=Path, help="default: every lesson and README")
    args = parser.parse_args(argv)
    anchors = source_anchors()
    files = args.files or lesson_files()
    if not args.check:
        for path in files:
            text = path.read_text(encoding="utf-8")
            linked = link_citations(text)
            if linked != text:
                path.write_text(linked, encoding="utf-8")
                print(f"linked citations in {path.name}")
    found = [p for path in files for p in problems(path, anchors)]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())

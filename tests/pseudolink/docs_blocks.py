"""The command blocks of a Markdown document, as the docs-run test executes them.

A block is a fence opened with ```bash, ```sh or ```console. In a console block only
the lines after a ``$ `` prompt (and their ``\\`` continuations) are commands; the rest
is output. A ```toml block whose first line names a file (``# dp.toml``) is that file: it
is written before the commands that follow read it. A block whose fence follows an
``<!-- illustrative: why -->`` line (blank lines between are allowed) is shown, not run: a
server that blocks, a cron line, a unit file, a production database; the reason after the
colon says which. Fences may be indented (a block inside a list item): the indent is cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("bash", "sh", "console")
ILLUSTRATIVE = "<!-- illustrative"
_MARK = re.compile(r"^<!-- illustrative(?::\s*(.*?))?\s*-->$")
_FENCE = re.compile(r"^(\s*)```(\w+)?\s*$")
_FILE_NAME = re.compile(r"^#\s*([\w.-]+\.toml)\s*$")


@dataclass(frozen=True)
class Block:
    document: str
    #: The line of the opening fence, counted from 1.
    line: int
    language: str
    #: (line number in the document, command text) for each line that runs.
    lines: tuple[tuple[int, str], ...]
    illustrative: bool
    #: For a file block (toml): the file it is, and ``lines`` its content.
    file: str | None = None
    #: Why an illustrative block is not run (the text after ``illustrative:``), or "".
    reason: str = ""


def _commands(language: str, body: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if language != "console":
        return body
    kept, continuing = [], False
    for number, text in body:
        if text.startswith("$ "):
            kept.append((number, text[2:]))
            continuing = text.rstrip().endswith("\\")
        elif continuing:
            kept.append((number, text))
            continuing = text.rstrip().endswith("\\")
    return kept


def unlabelled_commands(path: Path) -> list[int]:
    """The line of each fence without a language whose body runs ``pseudolink``: a command
    block that neither runs nor has its verbs checked, unless labelled ``sh``."""
    found, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        start, i = i, i + 1
        body = []
        while i < len(lines) and not lines[i].lstrip().startswith("```"):
            body.append(lines[i].strip())
            i += 1
        i += 1
        if not opened.group(2) and any(t.startswith(("pseudolink ", "$ pseudolink "))
                                       for t in body):
            found.append(start + 1)
    return found


def blocks(path: Path, name: str | None = None) -> list[Block]:
    """Every bash, sh and console block of ``path``, in order.

    >>> import tempfile
    >>> doc = Path(tempfile.mkdtemp()) / "d.md"
    >>> _ = doc.write_text("<!-- illustrative: blocks -->\\n```sh\\nserve\\n```\\n"
    ...                    "```console\\n$ echo hi\\nhi\\n```\\n"
    ...                    "1. item\\n   ```sh\\n   ls\\n   ```\\n")
    >>> for b in blocks(doc):
    ...     print(b.line, b.illustrative, repr(b.reason), b.lines)
    2 True 'blocks' ((3, 'serve'),)
    5 False '' ((6, 'echo hi'),)
    10 False '' ((11, 'ls'),)
    """
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, language = len(opened.group(1)), (opened.group(2) or "").lower()
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].lstrip().startswith("```"):
            text = lines[i]
            body.append((i + 1, text[indent:] if not text[:indent].strip() else text))
            i += 1
        i += 1
        named = _FILE_NAME.match(body[0][1]) if language == "toml" and body else None
        if language not in LANGUAGES and not named:
            continue
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        mark = _MARK.match(lines[before].strip()) if before >= 0 else None
        found.append(Block(name or path.name, start + 1, language,
                           tuple(body if named else _commands(language, body)), bool(mark),
                           named.group(1) if named else None,
                           (mark.group(1) or "") if mark else ""))
    return found

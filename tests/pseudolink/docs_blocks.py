"""The command blocks of a Markdown document, as the docs-run test executes them.

A block is a fence opened with ```bash, ```sh or ```console. In a console block only
the lines after a ``$ `` prompt (and their ``\\`` continuations) are commands; the rest
is output. A ```toml block whose first line names a file (``# dp.toml``) is that file: it
is written before the commands that follow read it. A block whose fence follows an
``<!-- illustrative -->`` line (blank lines between are allowed) is shown, not run: a
server that blocks, a cron line, a unit file, a production database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LANGUAGES = ("bash", "sh", "console")
ILLUSTRATIVE = "<!-- illustrative -->"
_FENCE = re.compile(r"^```(\w+)?\s*$")
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


def blocks(path: Path, name: str | None = None) -> list[Block]:
    """Every bash, sh and console block of ``path``, in order.

    >>> import tempfile
    >>> doc = Path(tempfile.mkdtemp()) / "d.md"
    >>> _ = doc.write_text("<!-- illustrative -->\\n```sh\\nserve\\n```\\n"
    ...                    "```console\\n$ echo hi\\nhi\\n```\\n")
    >>> [(b.line, b.illustrative, b.lines) for b in blocks(doc)]
    [(2, True, ((3, 'serve'),)), (5, False, ((6, 'echo hi'),))]
    """
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        language = (opened.group(1) or "").lower()
        start = i
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        named = _FILE_NAME.match(body[0][1]) if language == "toml" and body else None
        if language not in LANGUAGES and not named:
            continue
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marked = before >= 0 and lines[before].strip() == ILLUSTRATIVE
        found.append(Block(name or path.name, start + 1, language,
                           tuple(body if named else _commands(language, body)), marked,
                           named.group(1) if named else None))
    return found

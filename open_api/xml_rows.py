"""Rows as XML: one element per row, one child element per column.

A column whose name is a valid XML name becomes the element's name, as the public-data
portal's services do (``<sigungu>강남구</sigungu>``); any other name is written as
``<field name="...">``. Missing values are empty elements. XML 1.0 cannot carry most control
characters at all, even escaped; those are written as U+FFFD (JSON and CSV keep them exact).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from open_api.values import csv_cell

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_NAME = re.compile(r"[^\W\d][\w.\-]*")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Text escaped for XML, characters XML cannot hold replaced.

    >>> xml_safe("a<b & \\x00")
    'a&lt;b &amp; \\ufffd'
    """
    return escape(_NOT_XML.sub("\ufffd", text))


def _field_tags(names: Sequence[str]) -> list[tuple[str, str]]:
    """The opening and closing tag of each column."""
    tags = []
    for name in names:
        if _NAME.fullmatch(name) and not name.lower().startswith("xml"):
            tags.append((f"<{name}>", f"</{name}>"))
        else:
            tags.append((f"<field name={quoteattr(xml_safe(name))}>", "</field>"))
    return tags


def xml_cell(value: Any) -> str:
    return xml_safe(csv_cell(value))


class RowWriter:
    """Writes rows of fixed columns as ``<item>`` (or another) elements."""

    def __init__(self, names: Sequence[str], element: str = "item") -> None:
        self._tags = _field_tags(names)
        self._open, self._close = f"<{element}>", f"</{element}>"

    def row(self, row: Sequence[Any]) -> str:
        cells = "".join(
            f"{start}{xml_cell(value)}{end}"
            for (start, end), value in zip(self._tags, row, strict=True)
        )
        return f"{self._open}{cells}{self._close}"

    def rows(self, rows: Iterable[Sequence[Any]]) -> str:
        return "".join(self.row(row) for row in rows)


def element(name: str, value: Any) -> str:
    """A simple element.

    >>> element("totalCount", 3)
    '<totalCount>3</totalCount>'
    """
    return f"<{name}>{xml_cell(value)}</{name}>"


def xml_stream(
    root: str, attributes: dict[str, str], names: Sequence[str],
    batches: Iterable[Sequence[Sequence[Any]]],
) -> Iterator[bytes]:
    """A whole document streamed: declaration, root element, a chunk per batch of rows."""
    attrs = "".join(f" {key}={quoteattr(xml_safe(value))}" for key, value in attributes.items())
    yield f"{XML_DECLARATION}<{root}{attrs}>".encode()
    writer = RowWriter(names, "row")
    for batch in batches:
        yield writer.rows(batch).encode()
    yield f"</{root}>".encode()

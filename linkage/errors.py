"""The one user-facing error of the linkage subsystem, and its input flavour.

The CLI turns a :class:`LinkageError` into ``error: <message>`` and exit code 2, so
every message names what the user must fix: the file, and where known the row and column.
"""

from __future__ import annotations


class LinkageError(Exception):
    """Bad input or a refused action in linkage: the user can fix it, it is not a bug."""


class InputError(LinkageError):
    """An input file that cannot be used as it is.

    >>> str(InputError("ssis.csv", "column 'rrn' is missing", column="rrn"))
    "ssis.csv, column 'rrn': column 'rrn' is missing"
    """

    def __init__(self, path: object, problem: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        where = [str(path)]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {problem}")
        self.path = str(path)
        self.row = row
        self.column = column

"""The one user-facing error of the linkage subsystem, and its input flavour.

The CLI turns a :class:`LinkageError` into ``error: <message>`` and exit code 2, so
every message names what the user must fix: the file, and where known the row and column.
"""

from __future__ import annotations


class LinkageError(Exception):
    """Bad input or a refused action in linkage: the user can fix it, it is not a bug."""


class SerialMismatch(LinkageError):
    """A link map and payloads that do not fit: linked serials a payload lacks (a payload of
    another prepare run), or link ids that came out twice (a payload repeating a linked
    serial).

    >>> str(SerialMismatch({"ssis": 3})).startswith("the link map names 3 serials of holder 'ssis'")
    True
    >>> str(SerialMismatch({"ssis": 0}, repeated=2))
    '2 link ids would get two rows: a payload repeats a linked serial'
    """

    def __init__(self, missing: dict[str, int], repeated: int = 0) -> None:
        lacking = [(holder, n) for holder, n in missing.items() if n]
        if lacking:
            holder, n = lacking[0]
            message = (f"the link map names {n} serials of holder '{holder}' that its payload "
                       "lacks: a payload of another prepare run?")
        else:
            message = f"{repeated} link ids would get two rows: a payload repeats a linked serial"
        super().__init__(message)
        self.missing, self.repeated = missing, repeated


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

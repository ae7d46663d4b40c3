"""A release's Parquet artifact: verified against its checksum before anything is served.

The sha256 of a file is computed once per version of the file (path, size and modification
time) and remembered with its schema and row count, so a large artifact is hashed once, not on
every request, while a file swapped or edited on disk is checked again. A mismatch is
remembered too: a tampered artifact stays refused until it changes, without rehashing it
on every request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from open_api.connections import cursor
from open_api.errors import ApiError
from open_api.source import Release

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's name for the Parquet column's logical type


@dataclass(frozen=True)
class ArtifactFacts:
    """What the API needs of a verified artifact, read once per version of the file."""

    path: str
    columns: tuple[Column, ...]
    row_count: int
    #: Names this version of the file (path, size, mtime, checksum) for caches.
    version_key: str = ""

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class _Version:
    path: str
    size: int
    mtime_ns: int
    checksum: str


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Artifacts:
    """Verified facts about release artifacts, cached per file version; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[_Version, ArtifactFacts | ApiError] = {}
        self._encodable: dict[tuple[_Version, str], ApiError | None] = {}

    def facts(self, release: Release) -> ArtifactFacts:
        """The artifact's schema and size, or a 503 when it is missing or fails its checksum."""
        version = self._version(release)
        with self._lock:
            known = self._facts.get(version)
        if known is None:
            # Hashing runs outside the lock: two first requests may both hash, neither waits.
            known = self._inspect(release, version)
            with self._lock:
                self._facts[version] = known
        if isinstance(known, ApiError):
            raise known
        return known

    def encoding_problem(self, release: Release, encoding: str) -> ApiError | None:
        """Why the CSV cannot be written in ``encoding``, or None; checked once per file version."""
        facts = self.facts(release)
        key = (self._version(release), encoding)
        with self._lock:
            if key in self._encodable:
                return self._encodable[key]
        problem = _first_unencodable(facts, encoding)
        with self._lock:
            self._encodable[key] = problem
        return problem

    @staticmethod
    def _version(release: Release) -> _Version:
        path = os.path.abspath(release.artifact)
        try:
            stat = os.stat(path)
        except OSError:
            log.error("release %s: artifact %s cannot be read", release.id, path)
            raise ApiError(
                "artifact_unavailable", f"the data of dataset {release.id!r} is not available"
            ) from None
        return _Version(path, stat.st_size, stat.st_mtime_ns, release.checksum.lower())

    @staticmethod
    def _inspect(release: Release, version: _Version) -> ArtifactFacts | ApiError:
        actual = sha256_file(version.path)
        if actual != version.checksum:
            log.error(
                "release %s: artifact %s has sha256 %s but the catalog recorded %s; refusing it",
                release.id, version.path, actual, version.checksum,
            )
            return ApiError(
                "artifact_unavailable",
                f"the data of dataset {release.id!r} failed its integrity check and is withheld",
            )
        with cursor() as con:
            described = con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?)", [version.path]
            ).fetchall()
            (count,) = con.execute(
                "SELECT count(*) FROM read_parquet(?)", [version.path]
            ).fetchone()
        return ArtifactFacts(
            path=version.path,
            columns=tuple(Column(name, str(kind)) for name, kind, *_ in described),
            row_count=int(count),
            version_key=(
                f"{version.path}:{version.size}:{version.mtime_ns}:{version.checksum}"
            ),
        )


def _first_unencodable(facts: ArtifactFacts, encoding: str) -> ApiError | None:
    """The first header or text cell that ``encoding`` cannot represent, as a 400."""
    for column in facts.columns:
        try:
            column.name.encode(encoding)
        except UnicodeEncodeError:
            return _unencodable(encoding, f"the name of column {column.name!r}")
    text_columns = [c.name for c in facts.columns if c.type == "VARCHAR"]
    if not text_columns:
        return None
    from open_api.queries import quote_identifier  # here: queries itself imports this module

    select = ", ".join(quote_identifier(name) for name in text_columns)
    with cursor() as con:
        result = con.execute(f"SELECT {select} FROM read_parquet(?)", [facts.path])
        row_number = 0
        while batch := result.fetchmany(10_000):
            for row in batch:
                row_number += 1
                for name, value in zip(text_columns, row, strict=True):
                    if value is None:
                        continue
                    try:
                        value.encode(encoding)
                    except UnicodeEncodeError as exc:
                        char = value[exc.start]
                        return _unencodable(
                            encoding,
                            f"row {row_number}, column {name!r} (character U+{ord(char):04X})",
                        )
    return None


def _unencodable(encoding: str, where: str) -> ApiError:
    return ApiError(
        "unencodable",
        f"{where} cannot be written in {encoding}; download in UTF-8 instead (bom=true for "
        "spreadsheets)",
    )

"""The manifest a room drops for the airlock's intake, and the status written back.

Both sides read this module: the room writes manifests with ``make_manifest``, the
hub's intake (as root) reads them with ``parse_manifest``, which trusts nothing in
them. Layout inside a researcher's ``outputs/``:

    .airlock/inbox/<ticket>.json    a request the room asks for (the room writes it)
    .airlock/status/<ticket>.json   the intake's answer: the request id and checks, or why not
    .airlock/requests.json          every request of this researcher, as it stands now

The author of a request is never in a manifest: it is whoever owns the room.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath

AIRLOCK_DIR = ".airlock"
INBOX = "inbox"
STATUS = "status"
REQUESTS = "requests.json"
VERSION = 1

#: Limits on what a manifest may ask, so a hostile one costs the intake little.
MAX_MANIFEST_BYTES = 64 * 1024
MAX_FILES = 50
MAX_TEXT = 10_000
MAX_PATH = 1024
KINDS = ("frequency_table", "model", "figure", "text")

TICKET = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")
FIELDS = frozenset({"version", "files", "context", "controls", "kinds"})


class ManifestError(ValueError):
    """A manifest the intake will not file; the message tells the researcher why."""


@dataclass(frozen=True)
class Manifest:
    files: list[str]
    context: str
    controls: str
    kinds: dict[str, str] = field(default_factory=dict)


def new_ticket() -> str:
    """A ticket that sorts by time and cannot collide: ``20260514T101500-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def check_name(name: object) -> str:
    """A path relative to outputs/, without ``..``, ``.`` or empty parts, or an error.

    >>> check_name("tables/tenure.csv")
    'tables/tenure.csv'
    >>> check_name("../catalog.db")
    Traceback (most recent call last):
    ...
    analysis_env.room_side.manifest.ManifestError: '../catalog.db': a file must be named \
relative to outputs/, without '..'
    """
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{name!r}: a file name must be a non-empty string")
    if "\x00" in name or len(name) > MAX_PATH:
        raise ManifestError(f"{name[:80]!r}: not a usable file name")
    path = PurePosixPath(name)
    parts = name.split("/")
    if path.is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise ManifestError(f"{name!r}: a file must be named relative to outputs/, "
                            "without '..'")
    if parts[0] == AIRLOCK_DIR:
        raise ManifestError(f"{name!r}: the airlock's own folder cannot be released")
    return name


def _text(doc: dict, key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"'{key}' must say, in words, what checkers need to know")
    if len(value) > MAX_TEXT:
        raise ManifestError(f"'{key}' is {len(value)} characters; at most {MAX_TEXT}")
    return value


def parse_manifest(data: bytes) -> Manifest:
    """Validate a manifest's bytes; every refusal is a ``ManifestError`` saying why."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"the manifest is {len(data)} bytes; at most {MAX_MANIFEST_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"the manifest is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestError("the manifest must be a JSON object")
    unknown = sorted(set(doc) - FIELDS)
    if unknown:
        hint = (" (the author is whoever owns the room, never the manifest)"
                if {"author", "user", "as"} & set(unknown) else "")
        raise ManifestError(f"unknown field(s) {', '.join(map(repr, unknown))}{hint}")
    if doc.get("version") != VERSION:
        raise ManifestError(f"manifest version {doc.get('version')!r}; this room speaks "
                            f"version {VERSION}")
    files = doc.get("files")
    if not isinstance(files, list) or not files:
        raise ManifestError("'files' must list at least one file of outputs/")
    if len(files) > MAX_FILES:
        raise ManifestError(f"{len(files)} files in one request; at most {MAX_FILES}")
    names = [check_name(name) for name in files]
    if len(set(names)) != len(names):
        raise ManifestError("a file is named twice")
    kinds = doc.get("kinds") or {}
    if not isinstance(kinds, dict):
        raise ManifestError("'kinds' must map file names to kinds")
    for name, kind in kinds.items():
        if name not in names:
            raise ManifestError(f"'kinds' names {name!r}, which is not in 'files'")
        if kind not in KINDS:
            raise ManifestError(f"{name}: kind {kind!r} is not one of {', '.join(KINDS)}")
    return Manifest(names, _text(doc, "context"), _text(doc, "controls"), dict(kinds))


def make_manifest(files: list[str], context: str, controls: str,
                  kinds: dict[str, str] | None = None) -> bytes:
    """The bytes the room drops in the inbox; checked here as the intake will check them."""
    doc = {"version": VERSION, "files": list(files), "context": context,
           "controls": controls, "kinds": dict(kinds or {})}
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    parse_manifest(data)
    return data

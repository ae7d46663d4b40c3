"""The one storage layer every catalog service writes through.

It owns the engine, the reading and writing session factories, the audit signer that
checkpoints each committed chain head, and the workspace root that stored paths are
relative to. Its ``change`` is the only way a service changes something on behalf of
a person: the role check, the change and its audit entry share one transaction, so the
log can never claim a change that did not happen, or miss one that did.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from catalog import audit as audit_log
from catalog.artefacts import local_path, stored_path
from catalog.checkpoints import Anchor, append_checkpoint
from catalog.errors import CatalogError
from catalog.hashchain import jsonable
from catalog.identity import UserInfo
from catalog.roles import PermissionRefused, require

_log = logging.getLogger(__name__)


@dataclass
class Pending:
    """The audit entry a change will write when it commits; the change may refine it."""

    session: Session
    action: str
    details: dict[str, Any] = field(default_factory=dict)


def one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``allowed``, else a CatalogError naming ``what``."""
    if value not in allowed:
        raise CatalogError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value


def json_doc(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A mapping as the database stores it (JSON types only), or a CatalogError."""
    if not isinstance(value, Mapping):
        raise CatalogError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        return jsonable(value)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{what}: {exc}") from None


def user_info(user: Any) -> UserInfo:
    return UserInfo(id=user.id, role=user.role, organisation_id=user.organisation_id,
                    display_name=user.display_name, active=user.active)


def _sqlite_folder(engine: Engine) -> Path | None:
    """The folder of a SQLite catalog file: the workspace root in the standard layout
    (``WORKDIR/catalog.db``), so paths recorded relative to it resolve without being told."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database).parent


def _forget_head(session: Session) -> None:
    session.info.pop(audit_log.HEAD_AFTER_COMMIT, None)


class Storage:
    """Transactions over one catalog database, shared by all of its services.

    With an ``anchor`` (the audit signing key and the checkpoint file) every committed
    audited write appends a signed checkpoint of the chain head it left. With the
    workspace ``root``, files inside it are stored relative to it (issue 24).
    """

    def __init__(self, engine: Engine, *, root: str | Path | None = None,
                 anchor: Anchor | None = None) -> None:
        self.engine = engine
        if root is None:
            root = _sqlite_folder(engine)
        self.root = None if root is None else Path(os.path.abspath(Path(root).expanduser()))
        self.anchor = anchor
        self._writer = sessionmaker(engine, expire_on_commit=False)
        event.listen(self._writer, "after_commit", self._checkpoint_committed)
        event.listen(self._writer, "after_rollback", _forget_head)
        # Readers need no write lock on SQLite (see catalog.database).
        self._reader = sessionmaker(engine.execution_options(catalog_readonly=True),
                                    expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()

    # -- transactions ---------------------------------------------------------------

    @contextmanager
    def change(self, actor: str, action: str, target: str, *,
               permission: str | None = None) -> Iterator[Pending]:
        """A writing transaction that appends its audit entry when it commits.

        With ``permission``, the actor is first checked against the role matrix
        (``catalog.roles.require``) in the same transaction; a refusal is audited.
        """
        try:
            with self._writer() as session, session.begin():
                if permission is not None:
                    require(session, actor, permission)
                pending = Pending(session, action)
                yield pending
                session.flush()
                audit_log.append_entry(session, actor, pending.action, target,
                                       pending.details)
        except PermissionRefused as refused:
            self.audit_refusal(actor, target, refused)
            raise
        except IntegrityError as exc:
            raise CatalogError(f"{action} on {target!r} refused by the database: "
                               f"{exc.orig}") from None
        except OperationalError as exc:
            raise CatalogError(f"{action} on {target!r} failed: {exc.orig}") from None
        except DBAPIError as exc:
            # Anything else the database refused (a failing audit append included):
            # the transaction rolled back, so the change did not happen either.
            raise CatalogError(f"{action} on {target!r} refused by the database, nothing "
                               f"of it recorded: {exc.orig}") from None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A bare writing transaction; the caller appends its own audit entries."""
        try:
            with self._writer() as session, session.begin():
                yield session
        except IntegrityError as exc:
            raise CatalogError(f"refused by the database: {exc.orig}") from None

    @contextmanager
    def guarded(self, target: str) -> Iterator[Session]:
        """A bare writing transaction whose role refusals are audited in one of their own."""
        try:
            with self.write() as session:
                yield session
        except PermissionRefused as refused:
            self.audit_refusal(refused.actor, target, refused)
            raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def audit_refusal(self, actor: str, target: str, refused: PermissionRefused) -> None:
        """Record a refused attempt, in a transaction of its own (the attempt rolled back)."""
        with self._writer() as session, session.begin():
            audit_log.append_entry(session, actor or "<empty>", "access.refused", target,
                                   {"action": refused.action, "reason": str(refused)})

    def require(self, actor: str, action: str) -> UserInfo:
        """The active user ``actor`` if the role matrix lets them ``action``; else refused.

        For entry points that only read (audit export, listings): writers check their
        own permission inside their transaction.
        """
        try:
            with self.read() as session:
                return user_info(require(session, actor, action))
        except PermissionRefused as refused:
            self.audit_refusal(actor, action, refused)
            raise

    # -- paths ----------------------------------------------------------------------

    def stored(self, path: str | Path) -> str:
        """A file's path as the catalog keeps it: relative inside the workspace root."""
        return str(path) if self.root is None else stored_path(path, self.root)

    def local(self, stored: str) -> str:
        """Where a stored path lies now (relative ones follow the workspace root)."""
        return stored if self.root is None else str(local_path(stored, self.root))

    # -- audit checkpoints -------------------------------------------------------------

    def _checkpoint_committed(self, session: Session) -> None:
        committed = session.info.pop(audit_log.HEAD_AFTER_COMMIT, None)
        if committed is None or self.anchor is None:
            return
        try:
            append_checkpoint(self.anchor.path, self.anchor.signer, *committed)
        except (OSError, CatalogError) as exc:
            # The change is committed and cannot be undone here; the entry stays
            # unanchored, which `audit verify` reports, until the next checkpoint.
            _log.error("audit checkpoint for seq %s not written: %s", committed[0], exc)

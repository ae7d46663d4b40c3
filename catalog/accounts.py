"""Organisations, users, passwords and API keys: the accounts service of ``Catalog``.

Every change is administration that the role matrix allows (``user.manage``,
``organisation.manage``, ``apikey.*``), checked inside the change's own transaction,
and recorded in the audit log with its actor. Nobody administers their own account,
except to change their own password.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from catalog import identity
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.identity import ApiKeyCheck, ApiKeyInfo, UserInfo
from catalog.models import ROLES, ApiKey, LoginSession, Organisation, User
from catalog.roles import PermissionRefused, permits, refuse_self
from catalog.storage import Storage, one_of, user_info


class AccountService:
    """Organisations, users, passwords and API keys, over the catalog's storage."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    # -- organisations and users ------------------------------------------------------

    def record_organisation(self, organisation_id: str, *, name: str, actor: str) -> None:
        """Create or rename an organisation (a holder, the key manager, the agency...)."""
        with self._storage.change(actor, "organisation.record", organisation_id,
                                  permission="organisation.manage") as change:
            organisation = change.session.get(Organisation, organisation_id)
            if organisation is None:
                change.session.add(Organisation(id=organisation_id, name=name))
            else:
                organisation.name = name
                change.action = "organisation.update"
            change.details = {"name": name}

    def record_user(self, user_id: str, *, role: str, actor: str,
                    organisation_id: str | None = None, display_name: str = "") -> None:
        """Create a user or change their role; the role decides what they may do."""
        one_of(role, ROLES, f"user {user_id!r}: role")
        with self._storage.change(actor, "user.record", user_id,
                                  permission="user.manage") as change:
            session = change.session
            refuse_self(actor, user_id, "user.manage", "change their own role or record")
            if organisation_id is not None and session.get(Organisation, organisation_id) is None:
                raise CatalogError(f"user {user_id!r}: no organisation {organisation_id!r} "
                                   "in the catalog")
            user = session.get(User, user_id)
            change.details = {"role": role, "organisation_id": organisation_id}
            if user is None:
                session.add(User(id=user_id, role=role, organisation_id=organisation_id,
                                 display_name=display_name))
                return
            change.action = "user.update"
            change.details["previous_role"] = user.role
            user.role, user.organisation_id = role, organisation_id
            user.display_name = display_name or user.display_name

    def user_role(self, user_id: str) -> str | None:
        """The user's role, or None for an unknown or deactivated user."""
        with self._storage.read() as session:
            user = session.get(User, user_id)
            return user.role if user is not None and user.active else None

    # -- users ------------------------------------------------------------------------

    def set_password(self, user_id: str, password: str, *, actor: str) -> None:
        """Store an argon2id hash of a new password (at least 12 characters).

        An administrator sets anyone's; any active user may change their own.
        """
        digest = identity.hash_password(user_id, password)
        own = actor == user_id
        with self._storage.change(actor, "user.set_password", user_id,
                          permission=None if own else "user.manage") as change:
            if own:
                acting = change.session.get(User, actor)
                if acting is None or not acting.active:
                    raise PermissionRefused(f"user.set_password refused: {actor!r} is not an "
                                            "active user of the catalog", actor=actor,
                                            action="user.manage")
            user = change.session.get(User, user_id)
            if user is None:
                raise CatalogError(f"no user {user_id!r} in the catalog")
            user.password_hash = digest

    def authenticate(self, user_id: str, password: str) -> UserInfo | None:
        """The user if the password is theirs and they are active, else None; audited."""
        with self._storage.read() as session:
            user = session.get(User, user_id)
            stored = user.password_hash if user is not None else None
            ok = identity.verify_password(stored, password) and user.active
            info = user_info(user) if ok else None
        self._login_audit(user_id, ok, stored)
        if ok and stored is not None and identity.needs_rehash(stored):
            self.set_password(user_id, password, actor=user_id)
        return info

    def _login_audit(self, user_id: str, ok: bool, stored: str | None) -> None:
        # A failed login names the attempted user: that is what an officer looks for.
        with self._storage.change(user_id or "<empty>", "auth.login" if ok else "auth.login_failed",
                          user_id or "<empty>") as change:
            change.details = {"ok": ok} if ok else {"ok": False,
                                                    "known_user": stored is not None}

    def deactivate_user(self, user_id: str, *, actor: str) -> None:
        """Stop a user from logging in or acting (their sessions end); their history stays."""
        with self._storage.change(actor, "user.deactivate", user_id,
                                  permission="user.manage") as change:
            refuse_self(actor, user_id, "user.manage", "deactivate themselves")
            user = change.session.get(User, user_id)
            if user is None:
                raise CatalogError(f"no user {user_id!r} in the catalog")
            user.active = False
            ended = 0
            for row in change.session.scalars(select(LoginSession).where(
                    LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))):
                row.revoked_at = utcnow()
                ended += 1
            change.details = {"sessions_ended": ended}

    def get_user(self, user_id: str) -> UserInfo | None:
        with self._storage.read() as session:
            user = session.get(User, user_id)
            return None if user is None else user_info(user)

    def list_users(self) -> list[UserInfo]:
        with self._storage.read() as session:
            return [user_info(u) for u in session.scalars(select(User).order_by(User.id))]

    def authorize(self, user_id: str, action: str) -> bool:
        """Whether the active user ``user_id`` may take ``action`` (the role matrix)."""
        user = self.get_user(user_id)
        return user is not None and user.active and permits(user.role, action)

    # -- API keys ---------------------------------------------------------------------

    def issue_api_key(self, owner: str, *, actor: str, expires_at: datetime | None = None,
                      daily_quota: int | None = None,
                      scopes: Sequence[str] = ("open_data",)) -> str:
        """A new key for ``owner``; the returned secret is shown once and never stored."""
        if not owner.strip():
            raise CatalogError("an API key needs an owner")
        if expires_at is not None and expires_at.tzinfo is None:
            raise CatalogError(f"API key for {owner!r}: expires_at needs a time zone")
        if daily_quota is not None and (isinstance(daily_quota, bool) or daily_quota < 1):
            raise CatalogError(f"API key for {owner!r}: daily_quota must be a positive "
                               f"integer, got {daily_quota!r}")
        scope_list = sorted(set(scopes))
        if not scope_list or not all(isinstance(s, str) and s for s in scope_list):
            raise CatalogError(f"API key for {owner!r}: give at least one scope")
        key_id, secret, digest = identity.new_api_key()
        with self._storage.change(actor, "apikey.issue", key_id,
                                  permission="apikey.issue") as change:
            change.session.add(ApiKey(id=key_id, owner=owner, secret_hash=digest,
                                      scopes=scope_list, daily_quota=daily_quota,
                                      expires_at=expires_at, created_by=actor))
            change.details = {"owner": owner, "scopes": scope_list,
                              "daily_quota": daily_quota, "expires_at": expires_at}
        return secret

    def check_api_key(self, secret: str) -> ApiKeyCheck:
        """The status of a presented key: valid, unknown, expired or revoked."""
        key_id = identity.key_id_of(secret) if isinstance(secret, str) else None
        if key_id is None:
            return ApiKeyCheck(status="unknown")
        with self._storage.read() as session:
            key = session.get(ApiKey, key_id)
            if key is None or not identity.digests_match(key.secret_hash, secret):
                return ApiKeyCheck(status="unknown")
            if key.revoked_at is not None:
                status = "revoked"
            elif key.expires_at is not None and key.expires_at <= utcnow():
                status = "expired"
            else:
                status = "valid"
            return ApiKeyCheck(status=status, owner=key.owner, key_id=key.id,
                               daily_quota=key.daily_quota, scopes=tuple(key.scopes),
                               expires_at=key.expires_at)

    def revoke_api_key(self, key_id: str, *, actor: str) -> None:
        with self._storage.change(actor, "apikey.revoke", key_id,
                                  permission="apikey.revoke") as change:
            key = change.session.get(ApiKey, key_id)
            if key is None:
                raise CatalogError(f"no API key {key_id!r} in the catalog")
            if key.revoked_at is not None:
                raise CatalogError(f"API key {key_id!r} was already revoked on "
                                   f"{key.revoked_at:%Y-%m-%d}")
            key.revoked_at, key.revoked_by = utcnow(), actor
            change.details = {"owner": key.owner}

    def list_api_keys(self, owner: str | None = None) -> list[ApiKeyInfo]:
        query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if owner is not None:
            query = query.where(ApiKey.owner == owner)
        with self._storage.read() as session:
            return [ApiKeyInfo(key_id=k.id, owner=k.owner, scopes=tuple(k.scopes),
                               daily_quota=k.daily_quota, expires_at=k.expires_at,
                               created_at=k.created_at, revoked_at=k.revoked_at)
                    for k in session.scalars(query)]

"""Logins, sessions and login throttling: how a person proves who is acting.

A login checks the password (argon2, ``catalog.identity``) and returns a random 256-bit
token; the catalog keeps only the token's SHA-256, so a reader of the database cannot
act as anyone. Sessions expire (8 h by default) and can be revoked at logout.

Failed logins are counted per account and per client address. Past the limit within
the window, that account or address is locked out for a while: a correct password is
refused too, so guessing stops paying. The lockout message says until when.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from catalog import identity
from catalog.accounts import AccountService
from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.identity import UserInfo
from catalog.models import LoginSession, LoginThrottle, User
from catalog.storage import Storage

DEFAULT_SESSION_LIFETIME = timedelta(hours=8)
SESSION_CLIENTS = ("cli", "console", "hub", "api", "portal")


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures, within which window, lock an account or address, and for how long."""

    account_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


class LoginRefused(CatalogError):
    """A login or session refused; ``reason`` is one of the words below, for callers."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        # bad_credentials, locked, not_logged_in, expired, revoked, unknown_user
        self.reason = reason


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _locked_message(what: str, until: datetime) -> str:
    return (f"too many failed logins for {what}: locked out until {until:%Y-%m-%d %H:%M} "
            "UTC; try again then, or ask an administrator")


class SessionService:
    """Logins, sessions, throttling and the first administrator, over the storage."""

    def __init__(self, storage: Storage, accounts: AccountService,
                 throttle_policy: ThrottlePolicy | None = None) -> None:
        self._storage = storage
        self._accounts = accounts
        self.throttle_policy = throttle_policy or ThrottlePolicy()

    # -- throttling -----------------------------------------------------------------

    def _throttle_rows(self, session: Session, user_id: str,
                       address: str | None) -> list[tuple[LoginThrottle | None, str, str, int]]:
        policy = self.throttle_policy
        keys = [("account", user_id, policy.account_failures)]
        if address:
            keys.append(("address", address, policy.address_failures))
        return [(session.get(LoginThrottle, (scope, subject)), scope, subject, limit)
                for scope, subject, limit in keys]

    def check_throttle(self, user_id: str, address: str | None = None) -> None:
        """Raise ``LoginRefused(reason='locked')`` while the account or address is locked."""
        now = utcnow()
        with self._storage.read() as session:
            for row, scope, subject, _limit in self._throttle_rows(session, user_id, address):
                if row is not None and row.locked_until is not None and row.locked_until > now:
                    what = f"account {subject!r}" if scope == "account" else \
                        "this client address"
                    raise LoginRefused(_locked_message(what, row.locked_until), reason="locked")

    def _prune_throttle(self, session: Session, now: datetime) -> None:
        """Forget counts whose window and lockout are over: guessed names do not pile up."""
        stale = now - self.throttle_policy.window
        session.execute(delete(LoginThrottle).where(
            LoginThrottle.window_start < stale,
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now)))

    def record_login_failure(self, user_id: str, address: str | None = None) -> None:
        """Count one failure against the account and the address; lock past the limit."""
        now, policy = utcnow(), self.throttle_policy
        with self._storage.write() as session:
            self._prune_throttle(session, now)
            for row, scope, subject, limit in self._throttle_rows(session, user_id, address):
                if row is None:
                    row = LoginThrottle(scope=scope, subject=subject, failures=0,
                                        window_start=now)
                    session.add(row)
                if row.window_start + policy.window <= now:
                    row.failures, row.window_start = 0, now
                row.failures += 1
                if row.failures >= limit:
                    row.locked_until = now + policy.lockout
                    row.failures, row.window_start = 0, now

    def _clear_account_throttle(self, user_id: str) -> None:
        with self._storage.write() as session:
            row = session.get(LoginThrottle, ("account", user_id))
            if row is not None:
                session.delete(row)

    def check_address(self, address: str | None) -> None:
        """Raise ``LoginRefused`` while a client address is locked (API keys use this)."""
        if not address:
            return
        now = utcnow()
        with self._storage.read() as session:
            row = session.get(LoginThrottle, ("address", address))
            if row is not None and row.locked_until is not None and row.locked_until > now:
                raise LoginRefused(_locked_message("this client address", row.locked_until),
                                   reason="locked")

    def address_locked_until(self, address: str | None) -> datetime | None:
        """When a client address's lockout ends, or None if it is not locked out."""
        if not address:
            return None
        with self._storage.read() as session:
            row = session.get(LoginThrottle, ("address", address))
            if row is not None and row.locked_until is not None and \
                    row.locked_until > utcnow():
                return row.locked_until
        return None

    def record_address_failure(self, address: str | None) -> None:
        """Count one bad credential (an unknown API key, say) against a client address."""
        if not address:
            return
        now, policy = utcnow(), self.throttle_policy
        with self._storage.write() as session:
            self._prune_throttle(session, now)
            row = session.get(LoginThrottle, ("address", address))
            if row is None:
                row = LoginThrottle(scope="address", subject=address, failures=0,
                                    window_start=now)
                session.add(row)
            if row.window_start + policy.window <= now:
                row.failures, row.window_start = 0, now
            row.failures += 1
            if row.failures >= policy.address_failures:
                row.locked_until = now + policy.lockout
                row.failures, row.window_start = 0, now

    def throttled_authenticate(self, user_id: str, password: str,
                               address: str | None = None) -> UserInfo:
        """Check a password under the login throttle (every login form goes through here).

        Raises ``LoginRefused``: ``locked`` while the account or the client address is
        locked out (even for the right password), ``bad_credentials`` otherwise.
        """
        self.check_throttle(user_id, address)
        user = self._accounts.authenticate(user_id, password)
        if user is None:
            self.record_login_failure(user_id, address)
            raise LoginRefused(f"login refused for {user_id!r}: wrong user name or password, "
                               "or the account is deactivated", reason="bad_credentials")
        self._clear_account_throttle(user_id)
        return user

    # -- sessions -------------------------------------------------------------------

    def login(self, user_id: str, password: str, *, client: str = "cli",
              address: str | None = None,
              lifetime: timedelta = DEFAULT_SESSION_LIFETIME) -> str:
        """A new session token for ``user_id`` if the password is theirs; throttled, audited.

        The token is returned once and never stored; keep it like a password.
        """
        if client not in SESSION_CLIENTS:
            raise CatalogError(f"session client {client!r} is not one of "
                               f"{', '.join(SESSION_CLIENTS)}")
        self.throttled_authenticate(user_id, password, address)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._storage.change(user_id, "session.open", user_id) as change:
            change.session.add(LoginSession(token_hash=token_digest(token), user_id=user_id,
                                            client=client, created_at=now,
                                            expires_at=now + lifetime, last_used_at=now))
            change.details = {"client": client, "expires_at": now + lifetime}
        return token

    def session_user(self, token: str | None) -> UserInfo:
        """The active user a session token belongs to; ``LoginRefused`` says why not."""
        if not token:
            raise LoginRefused("not logged in: run `pseudolink login`", reason="not_logged_in")
        now = utcnow()
        with self._storage.write() as session:
            row = session.get(LoginSession, token_digest(token.strip()))
            if row is None:
                raise LoginRefused("not logged in: the session is unknown; run "
                                   "`pseudolink login`", reason="not_logged_in")
            if row.revoked_at is not None:
                raise LoginRefused("session ended (logged out); run `pseudolink login`",
                                   reason="revoked")
            if row.expires_at <= now:
                raise LoginRefused(f"session expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; "
                                   "run `pseudolink login`", reason="expired")
            user = session.get(User, row.user_id)
            if user is None or not user.active:
                raise LoginRefused(f"unknown user {row.user_id!r}: the account is not active "
                                   "in the catalog", reason="unknown_user")
            row.last_used_at = now
            return UserInfo(id=user.id, role=user.role, organisation_id=user.organisation_id,
                            display_name=user.display_name, active=user.active)

    def logout(self, token: str) -> None:
        """End a session; a later use of its token is refused. Unknown tokens are ignored."""
        with self._storage.write() as session:
            row = session.get(LoginSession, token_digest(token.strip()))
            if row is None or row.revoked_at is not None:
                return
            user_id = row.user_id
        with self._storage.change(user_id, "session.close", user_id) as change:
            row = change.session.get(LoginSession, token_digest(token.strip()))
            row.revoked_at = utcnow()

    def end_sessions(self, user_id: str, *, actor: str) -> int:
        """Revoke every open session of a user: their own, or anyone's by an administrator."""
        with self._storage.change(actor, "session.revoke_all", user_id,
                          permission=None if actor == user_id else "user.manage") as change:
            rows = change.session.scalars(select(LoginSession).where(
                LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)))
            count = 0
            for row in rows:
                row.revoked_at = utcnow()
                count += 1
            change.details = {"sessions": count}
        return count

    # -- the first administrator ------------------------------------------------------

    def bootstrap_admin(self, user_id: str, password: str, *, display_name: str = "") -> None:
        """Create the first administrator; refused once the catalog has any user."""
        digest = identity.hash_password(user_id, password)
        with self._storage.change(user_id, "user.bootstrap_admin", user_id) as change:
            if change.session.scalar(select(User.id).limit(1)) is not None:
                raise CatalogError("the catalog already has users: the first administrator "
                                   "is created only once; ask an existing admin to add you")
            change.session.add(User(id=user_id, role="admin", display_name=display_name,
                                    password_hash=digest))
            change.details = {"role": "admin"}

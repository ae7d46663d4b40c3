"""Real people for tests: an administrator bootstrapped once, then users recorded by them.

The catalog checks every administrative action against the role matrix, so tests act
as registered users with the right role, exactly as a deployment does.
"""

from __future__ import annotations

import catalog

ADMIN = "root"
PASSWORD = "correct horse battery staple"


def admin(cat: catalog.Catalog) -> str:
    """The bootstrap administrator ``root``, created if the catalog has none yet."""
    if cat.get_user(ADMIN) is None:
        cat.bootstrap_admin(ADMIN, PASSWORD)
    return ADMIN


def person(cat: catalog.Catalog, user_id: str, role: str, *,
           organisation_id: str | None = None, password: str | None = None) -> str:
    """``user_id`` with ``role`` (recorded by the administrator if missing); returns the id."""
    root = admin(cat)
    if user_id == root:
        return root
    if organisation_id is not None and organisation_id not in _organisations(cat):
        cat.record_organisation(organisation_id, name=organisation_id.upper(), actor=root)
    existing = cat.get_user(user_id)
    if existing is None or existing.role != role:
        cat.record_user(user_id, role=role, organisation_id=organisation_id, actor=root)
    if password is not None:
        cat.set_password(user_id, password, actor=root)
    return user_id


def officer(cat: catalog.Catalog, user_id: str = "po1") -> str:
    return person(cat, user_id, "privacy_officer")


def _organisations(cat: catalog.Catalog) -> set[str]:
    with cat._read() as session:
        from sqlalchemy import select

        from catalog.models import Organisation

        return set(session.scalars(select(Organisation.id)))


def log_in(cat: catalog.Catalog, monkeypatch, user_id: str,  # type: ignore[no-untyped-def]
           role: str | None = None) -> str:
    """Log ``user_id`` in (creating them with ``role`` if given) for CLI commands.

    The session token goes into ``PSEUDOLINK_SESSION``, as automation passes it.
    """
    if user_id == ADMIN:
        admin(cat)
    else:
        person(cat, user_id, role or cat.get_user(user_id).role, password=PASSWORD)
    token = cat.login(user_id, PASSWORD)
    monkeypatch.setenv("PSEUDOLINK_SESSION", token)
    return token

"""The role matrix: which roles may take which action, in one table.

``PERMISSIONS`` is read by the workflow code (every transition and committee action
checks it), by the console (which pages and buttons an officer sees), by the tests
(every role against every action) and by docs/security.md, whose table a test
compares with this one. Change a right here and nowhere else.
"""

from __future__ import annotations

from types import MappingProxyType

from sqlalchemy.orm import Session

from catalog.errors import CatalogError
from catalog.models import ROLES, User

_OFFICER = frozenset({"privacy_officer"})
_OFFICER_OR_ADMIN = frozenset({"privacy_officer", "admin"})

#: action -> roles allowed to take it. Ordered as docs/security.md lists it.
PERMISSIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType({
    # Access requests (DESIGN 6 workflow); see catalog.workflow.TRANSITIONS.
    "request.create": frozenset({"researcher"}),
    "request.submit": frozenset({"researcher"}),
    # The requester's own: redraft (a draft, or a rejected request), take a submission
    # back, draft the renewal of an active grant (catalog.researcher).
    "request.amend": frozenset({"researcher"}),
    "request.withdraw": frozenset({"researcher"}),
    "request.renew": frozenset({"researcher"}),
    "request.start_review": _OFFICER,
    "request.attach_risk_report": _OFFICER,
    "request.approve": _OFFICER,
    "request.reject": _OFFICER,
    "request.activate": _OFFICER_OR_ADMIN,
    "request.revoke": _OFFICER,
    # Nobody: expiry happens by itself at the end date (on access, or by the sweep).
    "request.expire": frozenset(),
    # The take-out (반출) release review committee.
    "committee.appoint": _OFFICER,
    "committee.serve": _OFFICER,
    "committee.vote": _OFFICER,
    "committee.decide": _OFFICER,
    # Releases, budgets and DP bounds.
    "release.record": _OFFICER,
    "release.revoke": _OFFICER,
    "budget.set": _OFFICER,
    "bounds.set": _OFFICER,
    # Linkage projects: each stage by the party that runs it (catalog.projects.STAGES).
    "project.record": frozenset({"holder", "key_manager", "combiner", "admin"}),
    "stage.create": frozenset({"holder", "key_manager", "combiner", "admin"}),
    "stage.accept": frozenset({"holder"}),
    "stage.prepare": frozenset({"holder"}),
    "stage.precheck": frozenset({"key_manager"}),
    "stage.link": frozenset({"key_manager"}),
    "stage.extract": frozenset({"holder"}),
    "stage.review": frozenset({"holder"}),
    "stage.combine": frozenset({"combiner"}),
    "stage.release": _OFFICER,
    # A researcher starts and stops only their own room (catalog.room_stages).
    "stage.room_start": frozenset({"researcher", "privacy_officer", "admin"}),
    "stage.room_stop": frozenset({"researcher", "privacy_officer", "admin"}),
    "stage.airlock_decision": _OFFICER,
    # The airlock out of the secure room (catalog.airlock_states.AIRLOCK): a researcher
    # asks, two officers other than the author check each file, one releases it.
    "airlock.request": frozenset({"researcher"}),
    "airlock.vote": _OFFICER,
    "airlock.release": _OFFICER,
    # Closing destroys this workspace's files of the project; any of its parties may.
    "project.close": frozenset({"holder", "key_manager", "combiner", "privacy_officer",
                                "admin"}),
    "project.retention": _OFFICER_OR_ADMIN,
    "dataset.register": frozenset({"combiner", "privacy_officer", "admin"}),
    "sweep.run": _OFFICER_OR_ADMIN,
    # Identity administration.
    "user.manage": frozenset({"admin"}),
    "organisation.manage": frozenset({"admin"}),
    "apikey.issue": _OFFICER_OR_ADMIN,
    "apikey.revoke": _OFFICER_OR_ADMIN,
    # Operating the workspace (issue 24): an archive holds every secret the workspace
    # holds (sealed), so only an administrator makes one. A restore is recorded under the
    # operating-system account (catalog.health): it runs before anyone can log in there.
    "workspace.backup": frozenset({"admin"}),
    # Oversight.
    "audit.read": _OFFICER_OR_ADMIN,
    "audit.verify": _OFFICER_OR_ADMIN,
    "console.login": _OFFICER_OR_ADMIN,
})

ACTIONS = tuple(PERMISSIONS)

assert all(roles <= set(ROLES) for roles in PERMISSIONS.values()), "unknown role in matrix"


def permits(role: str | None, action: str) -> bool:
    """Whether ``role`` may take ``action``.

    >>> permits("privacy_officer", "request.approve"), permits("researcher", "request.approve")
    (True, False)
    """
    if action not in PERMISSIONS:
        raise CatalogError(f"unknown action {action!r}: not in the role matrix")
    return role in PERMISSIONS[action]


def require(session: Session, actor: str, action: str) -> User:
    """The acting user, if they exist, are active and hold a role allowed to ``action``."""
    user = session.get(User, actor)
    if user is None or not user.active:
        raise PermissionRefused(f"{action} refused: {actor!r} is not an active user "
                                "of the catalog", actor=actor, action=action)
    if not permits(user.role, action):
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise PermissionRefused(f"{action} refused: user {actor!r} has role {user.role!r}; "
                                f"only {allowed} may do this", actor=actor, action=action)
    return user


def refuse_self(actor: str, target_user: str, action: str, what: str) -> None:
    """Nobody administers their own account: no self-promotion, no self-deactivation."""
    if actor == target_user:
        raise PermissionRefused(f"{action} refused: nobody may {what}; ask another "
                                "administrator", actor=actor, action=action)


def matrix_markdown() -> str:
    """The matrix as the Markdown table docs/security.md carries (a test compares them)."""
    header = "| action | " + " | ".join(ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    rows = [f"| `{action}` | " + " | ".join("yes" if role in roles else "-" for role in ROLES)
            + " |" for action, roles in PERMISSIONS.items()]
    return "\n".join([header, rule, *rows])


class PermissionRefused(CatalogError):
    """An action refused by the role matrix (or by ownership or membership rules)."""

    def __init__(self, message: str, *, actor: str, action: str) -> None:
        super().__init__(message)
        self.actor = actor
        self.action = action

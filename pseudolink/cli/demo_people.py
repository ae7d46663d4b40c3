"""The demo's cast: every person registered in the catalog and logged in before acting.

Each step of ``pseudolink demo`` is taken by one of these people, under the id their
login session names (``Catalog.session_user``), never under free text. Their passwords
are random and discarded after the login, so nobody can log in as them afterwards, unless
``PSEUDOLINK_DEMO_PASSWORD`` gives one password for them all: then ``pseudolink login
--user demo-officer`` opens the workspace to explore (the console, the guides' commands).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import catalog

ADMIN = "demo-admin"
OFFICER = "demo-officer"
#: The take-out committee's other members, and the airlock's second checker.
SECOND_OFFICER = "demo-officer-lee"
THIRD_OFFICER = "demo-officer-park"
RESEARCHER = "demo-researcher"
AGENCY_ORG = "demo-agency"
UNIVERSITY_ORG = "demo-university"
KEY_MANAGER = "keymanager"
COMBINER = "agency"
HOLDERS = ("ssis", "building")
#: One password for every demo person, to log in as them after the run (else random).
PASSWORD_ENV = "PSEUDOLINK_DEMO_PASSWORD"

#: (user id, role, organisation, display name); the party operators' ids are their
#: parties' ids, so each linkage stage is recorded under the party that ran it.
CAST = (
    (OFFICER, "privacy_officer", AGENCY_ORG, "Demo privacy officer"),
    (SECOND_OFFICER, "privacy_officer", AGENCY_ORG, "Lee, privacy officer (demo)"),
    (THIRD_OFFICER, "privacy_officer", AGENCY_ORG, "Park, privacy officer (demo)"),
    (RESEARCHER, "researcher", UNIVERSITY_ORG, "Choi, researcher (demo)"),
    ("ssis", "holder", None, "ssis operator (demo)"),
    ("building", "holder", None, "building operator (demo)"),
    (KEY_MANAGER, "key_manager", None, "keymanager operator (demo)"),
    (COMBINER, "combiner", AGENCY_ORG, "agency operator (demo)"),
)
ORGANISATIONS = ((AGENCY_ORG, "Combination agency (demo)"),
                 (UNIVERSITY_ORG, "University research team (demo)"))


@dataclass(frozen=True)
class Cast:
    """The logged-in ids, each read back from its person's session."""

    admin: str
    officer: str
    second_officer: str
    third_officer: str
    researcher: str
    operators: dict[str, str]

    def operator(self, party: str) -> str:
        return self.operators[party]


def _password() -> str:
    return os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(24)


def _log_in(cat: catalog.Catalog, user: str, password: str) -> str:
    return cat.session_user(cat.login(user, password, client="cli")).id


def assemble(cat: catalog.Catalog) -> Cast:
    """Register the demo's organisations and people (again on a rerun) and log each in."""
    admin_password = _password()
    if cat.get_user(ADMIN) is None:
        cat.bootstrap_admin(ADMIN, admin_password, display_name="Demo administrator")
    else:
        # A rerun on the same workspace: the old password may be gone; reset it.
        cat.set_password(ADMIN, admin_password, actor=ADMIN)
    admin = _log_in(cat, ADMIN, admin_password)
    for org_id, name in ORGANISATIONS:
        cat.record_organisation(org_id, name=name, actor=admin)
    logged_in = {}
    for user, role, org, name in CAST:
        known = cat.get_user(user)
        if known is None or known.role != role or known.organisation_id != org:
            cat.record_user(user, role=role, organisation_id=org, display_name=name,
                            actor=admin)
        password = _password()
        cat.set_password(user, password, actor=admin)
        logged_in[user] = _log_in(cat, user, password)
    return Cast(admin=admin, officer=logged_in[OFFICER],
                second_officer=logged_in[SECOND_OFFICER],
                third_officer=logged_in[THIRD_OFFICER], researcher=logged_in[RESEARCHER],
                operators={party: logged_in[party]
                           for party in (*HOLDERS, KEY_MANAGER, COMBINER)})

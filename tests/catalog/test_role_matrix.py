"""The role matrix is enforced for every administrative action, by the library itself.

The policy is written out here by hand, not read from ``catalog.roles.PERMISSIONS``:
if someone widens a right in the code, this table disagrees and the test says so.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import catalog
from catalog.models import ROLES
from tests.accounts import admin, person

#: Who may do what (issue 16). "yes" allowed, "-" refused.
POLICY_TABLE = """
action               holder key_manager combiner privacy_officer researcher consumer admin
organisation.manage  -      -           -        -               -          -        yes
user.manage          -      -           -        -               -          -        yes
apikey.issue         -      -           -        yes             -          -        yes
apikey.revoke        -      -           -        yes             -          -        yes
budget.set           -      -           -        yes             -          -        -
bounds.set           -      -           -        yes             -          -        -
release.record       -      -           -        yes             -          -        -
release.revoke       -      -           -        yes             -          -        -
project.record       yes    yes         yes      -               -          -        yes
project.close        yes    yes         yes      yes             -          -        yes
dataset.register     -      -           yes      yes             -          -        yes
audit.read           -      -           -        yes             -          -        yes
audit.verify         -      -           -        yes             -          -        yes
console.login        -      -           -        yes             -          -        yes
"""


def _policy() -> list[tuple[str, str, bool]]:
    lines = POLICY_TABLE.strip().splitlines()
    roles = lines[0].split()[1:]
    assert sorted(roles) == sorted(ROLES), "the written policy must name every role"
    triples = []
    for line in lines[1:]:
        action, *cells = line.split()
        triples += [(role, action, cell == "yes") for role, cell in zip(roles, cells, strict=True)]
    return triples


POLICY = _policy()


@pytest.fixture
def staff(cat: catalog.Catalog, dataset: str) -> dict[str, str]:
    """One active user per role, plus a helper officer who prepares records to act on."""
    admin(cat)
    users = {role: person(cat, f"u-{role}", role) for role in ROLES}
    person(cat, "po-helper", "privacy_officer")
    return users


def _attempt(cat: catalog.Catalog, action: str, actor: str) -> Callable[[], object]:
    """The library call an entry point makes to take ``action`` as ``actor``."""
    ds = "housing-combined"
    if action == "organisation.manage":
        return lambda: cat.record_organisation("org-new", name="New", actor=actor)
    if action == "user.manage":
        return lambda: cat.record_user("newcomer", role="consumer", actor=actor)
    if action == "apikey.issue":
        return lambda: cat.issue_api_key("dashboard", actor=actor)
    if action == "apikey.revoke":
        secret = cat.issue_api_key("dashboard", actor="po-helper")
        key_id = cat.check_api_key(secret).key_id
        return lambda: cat.revoke_api_key(key_id, actor=actor)
    if action == "budget.set":
        return lambda: cat.set_budget(ds, "cora", 1.0, actor=actor)
    if action == "bounds.set":
        return lambda: cat.set_column_bounds(ds, "link_id", 0, 10, actor=actor)
    if action == "release.record":
        return lambda: cat.record_release(
            "rel-new", dataset_id=ds, form="take_out", title="t", artifact="a.csv",
            checksum="0" * 64, parameters={}, actor=actor)
    if action == "release.revoke":
        cat.record_release("rel-old", dataset_id=ds, form="dp_aggregate", title="t",
                           artifact="a.csv", checksum="0" * 64, parameters={},
                           actor="po-helper")
        return lambda: cat.revoke_release("rel-old", reason="superseded", actor=actor)
    if action == "project.record":
        return lambda: cat.record_project("p-new", purpose="statistics", mode="exact",
                                          spec={}, actor=actor)
    if action == "project.close":
        cat.record_project("p-old", purpose="statistics", mode="exact", spec={},
                           actor="root")
        return lambda: cat.close_project("p-old", actor=actor)
    if action == "dataset.register":
        return lambda: cat.register_dataset(
            "ds-new", title="t", path="/data/new.parquet", columns={"x": "other"},
            project_id=None, lineage={}, actor=actor)
    # Reading and logging in: the check an entry point makes before it shows anything.
    return lambda: cat.require(actor, action)


@pytest.mark.parametrize(("role", "action", "allowed"), POLICY,
                         ids=[f"{r}-{a}-{'allowed' if ok else 'refused'}" for r, a, ok in POLICY])
def test_each_role_may_take_exactly_the_actions_the_policy_grants(
        cat: catalog.Catalog, staff: dict[str, str], role: str, action: str,
        allowed: bool) -> None:
    actor = staff[role]
    attempt = _attempt(cat, action, actor)
    if allowed:
        attempt()
        return
    before = len(cat.audit_entries())
    with pytest.raises(catalog.PermissionRefused, match=f"{action} refused"):
        attempt()
    refused = cat.audit_entries()[before:]
    assert [(e["action"], e["actor"]) for e in refused] == [("access.refused", actor)]


@pytest.mark.parametrize("actor", ["nobody-at-all", ""])
def test_an_unknown_actor_is_refused_every_administrative_action(
        cat: catalog.Catalog, staff: dict[str, str], actor: str) -> None:
    for action in sorted({a for _, a, _ in POLICY}):
        with pytest.raises(catalog.PermissionRefused, match="is not an active user"):
            _attempt(cat, action, actor)()


def test_set_budget_by_nobody_at_all_is_refused_and_changes_nothing(
        cat: catalog.Catalog, staff: dict[str, str]) -> None:
    with pytest.raises(catalog.PermissionRefused):
        cat.set_budget("housing-combined", "cora", 50.0, actor="nobody-at-all")
    assert cat.budget("housing-combined", "cora") is None


def test_a_take_out_release_by_an_unregistered_actor_is_refused(
        cat: catalog.Catalog, staff: dict[str, str]) -> None:
    with pytest.raises(catalog.PermissionRefused):
        cat.record_release("rel-x", dataset_id="housing-combined", form="take_out", title="t",
                           artifact="x.csv", checksum="0" * 64, parameters={},
                           actor="ghost")


def test_a_researcher_cannot_register_a_dataset_or_record_a_project(
        cat: catalog.Catalog, staff: dict[str, str]) -> None:
    researcher = staff["researcher"]
    with pytest.raises(catalog.PermissionRefused, match=r"dataset\.register refused"):
        cat.register_dataset("planted", title="t", path="/data/planted.parquet",
                             columns={"x": "other"}, project_id=None, lineage={},
                             actor=researcher)
    with pytest.raises(catalog.PermissionRefused, match=r"project\.record refused"):
        cat.record_project("housing-2026", purpose="statistics", mode="fuzzy", spec={},
                           actor=researcher)
    assert cat.dataset("planted") is None
    assert cat.project_status("housing-2026").mode == "exact"


def test_an_officer_cannot_promote_themselves(cat: catalog.Catalog,
                                              staff: dict[str, str]) -> None:
    eve = person(cat, "eve", "researcher")
    with pytest.raises(catalog.PermissionRefused):
        cat.record_user("eve", role="privacy_officer", actor=eve)
    officer = staff["privacy_officer"]
    with pytest.raises(catalog.PermissionRefused):
        cat.record_user(officer, role="admin", actor=officer)
    assert cat.get_user("eve").role == "researcher"
    assert cat.get_user(officer).role == "privacy_officer"


def test_an_admin_cannot_change_their_own_role_or_deactivate_themselves(
        cat: catalog.Catalog, staff: dict[str, str]) -> None:
    root = staff["admin"]
    with pytest.raises(catalog.PermissionRefused, match="own role"):
        cat.record_user(root, role="privacy_officer", actor=root)
    with pytest.raises(catalog.PermissionRefused, match="deactivate themselves"):
        cat.deactivate_user(root, actor=root)
    assert cat.get_user(root).role == "admin" and cat.get_user(root).active


def test_anyone_may_change_their_own_password_but_only_an_admin_anothers(
        cat: catalog.Catalog, staff: dict[str, str]) -> None:
    researcher = staff["researcher"]
    cat.set_password(researcher, "my own new passphrase", actor=researcher)
    with pytest.raises(catalog.PermissionRefused):
        cat.set_password(staff["consumer"], "taken over by a peer", actor=researcher)
    cat.set_password(staff["consumer"], "reset by the admin ok", actor=staff["admin"])


def test_a_deactivated_admin_can_no_longer_administer(cat: catalog.Catalog,
                                                      staff: dict[str, str]) -> None:
    second = person(cat, "second-admin", "admin")
    cat.deactivate_user(second, actor=staff["admin"])
    with pytest.raises(catalog.PermissionRefused, match="not an active user"):
        cat.record_user("newcomer", role="researcher", actor=second)


def test_a_researcher_can_never_approve_vote_record_or_revoke_a_release(
        cat: catalog.Catalog, people: dict[str, str]) -> None:
    from tests.catalog.conftest import RISK, make_request

    alice = people["researcher"]
    make_request(cat, "r-own", state="under_review", form="take_out")
    with pytest.raises(catalog.PermissionRefused):
        cat.decide_request("r-own", "approve", reason="mine", actor=alice, risk_report=RISK)
    with pytest.raises(catalog.PermissionRefused):
        cat.vote("r-own", "approve", reason="mine", actor=alice)
    with pytest.raises(catalog.PermissionRefused):
        cat.record_release("r-own-release", dataset_id="housing-combined", form="take_out",
                           title="t", artifact="x.csv", checksum="0" * 64, parameters={},
                           actor=alice)
    cat.record_release("public", dataset_id="housing-combined", form="dp_aggregate",
                       title="t", artifact="x.csv", checksum="0" * 64, parameters={},
                       actor=people["privacy_officer"])
    with pytest.raises(catalog.PermissionRefused):
        cat.revoke_release("public", reason="mine now", actor=alice)


def test_nobody_acts_on_their_own_request_even_after_promotion(
        cat: catalog.Catalog, people: dict[str, str]) -> None:
    from tests.catalog.conftest import make_request

    make_request(cat, "r-mine", state="submitted")
    # The requester is later made an officer: still not a reviewer of their own request.
    cat.record_user("alice", role="privacy_officer", organisation_id="uni-a",
                    actor=people["admin"])
    with pytest.raises(catalog.PermissionRefused, match="own request"):
        cat.start_review("r-mine", actor="alice")
    assert cat.get_request("r-mine").state == "submitted"


def test_failed_logins_for_names_that_do_not_exist_are_forgotten_after_the_window(
        cat: catalog.Catalog) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from catalog.coltypes import utcnow
    from catalog.models import LoginThrottle

    for n in range(5):
        with pytest.raises(catalog.LoginRefused):
            cat.login(f"guess-{n}", "some password guess")
    with cat._write() as session:
        session.execute(update(LoginThrottle).values(
            window_start=utcnow() - cat.throttle_policy.window - timedelta(seconds=1)))
    with pytest.raises(catalog.LoginRefused):
        cat.login("guess-last", "some password guess")
    with cat._read() as session:
        assert session.scalar(select(func.count()).select_from(LoginThrottle)) == 1


def test_only_an_admin_ends_someone_elses_sessions(cat: catalog.Catalog,
                                                   staff: dict[str, str]) -> None:
    from tests.accounts import PASSWORD

    officer = person(cat, "po-victim", "privacy_officer", password=PASSWORD)
    token = cat.login(officer, PASSWORD)
    with pytest.raises(catalog.PermissionRefused):
        cat.end_sessions(officer, actor=staff["researcher"])
    assert cat.session_user(token).id == officer
    assert cat.end_sessions(officer, actor=staff["admin"]) == 1
    with pytest.raises(catalog.LoginRefused, match="session ended"):
        cat.session_user(token)

"""Access requests follow the state machine, and only the right roles move them."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

import catalog
from catalog.coltypes import utcnow
from catalog.models import REQUEST_STATES, ROLES
from catalog.workflow import transition
from tests.catalog.conftest import RISK, ROLE_USERS, make_request


def _attempt(cat: catalog.Catalog, request_id: str, target: str, actor: str) -> None:
    """Ask for the move to ``target`` the way a user would."""
    if target == "submitted":
        cat.submit_request(request_id, actor=actor)
    elif target == "under_review":
        cat.start_review(request_id, actor=actor)
    elif target == "approved":
        cat.decide_request(request_id, "approve", reason="fine", actor=actor, risk_report=RISK)
    elif target == "rejected":
        cat.decide_request(request_id, "reject", reason="no", actor=actor)
    elif target == "active":
        cat.activate_request(request_id, actor=actor)
    elif target == "revoked":
        cat.revoke_request(request_id, reason="breach", actor=actor)
    else:
        raise AssertionError(f"no user action leads to {target}")


USER_TARGETS = ("submitted", "under_review", "approved", "rejected", "active", "revoked")


def test_every_pair_of_states_is_legal_only_if_in_the_table() -> None:
    for source, target in itertools.product(REQUEST_STATES, repeat=2):
        if (source, target) in catalog.TRANSITIONS:
            assert transition(source, target, "r").target == target
        else:
            with pytest.raises(catalog.IllegalTransition, match=f"is {source} and cannot "
                                                               f"become {target}"):
                transition(source, target, "r")


@pytest.mark.parametrize("source", REQUEST_STATES)
def test_every_illegal_transition_is_refused_with_a_clear_error(
        cat: catalog.Catalog, people: dict, source: str) -> None:
    request_id = make_request(cat, f"req-{source}", state=source)
    for target in USER_TARGETS:
        if (source, target) in catalog.TRANSITIONS:
            continue
        before = len(cat.audit_entries())
        actor = "alice" if target == "submitted" else "po1"
        with pytest.raises(catalog.IllegalTransition) as refused:
            _attempt(cat, request_id, target, actor)
        assert f"request {request_id!r} is {source} and cannot become {target}" in str(
            refused.value)
        assert cat.get_request(request_id).state == source
        assert len(cat.audit_entries()) == before


def test_happy_path_is_audited_in_order(cat: catalog.Catalog, people: dict) -> None:
    before = len(cat.audit_entries())
    make_request(cat, "r1", state="active")
    moves = [(e["action"], e["actor"], e["details"].get("to"))
             for e in cat.audit_entries()[before:]]
    assert moves == [
        ("request.create", "alice", None),
        ("request.submit", "alice", "submitted"),
        ("request.start_review", "po1", "under_review"),
        ("request.approve", "po1", "approved"),
        ("request.activate", "po1", "active"),
    ]
    request = cat.get_request("r1")
    assert request.reviews[0]["risk_report"]["k"] == 5
    assert request.reviews[0]["reason"] == "k >= 5"
    assert cat.verify_audit().ok


def test_request_carries_the_five_safes(cat: catalog.Catalog, people: dict) -> None:
    request = cat.get_request(make_request(cat, "r1"))
    assert request.project_id == "housing-2026" and request.purpose == "scientific_research"
    assert request.lawful_basis.startswith("Personal Information Protection Act")
    assert request.researchers == ["alice"]
    assert request.setting == "secure analysis room, Seoul"
    assert (request.dataset_id, request.columns) == ("housing-combined",
                                                     ["ssis__sido", "ssis__benefit_type"])
    assert (request.release_form, request.outputs) == ("secure_room",
                                                       "aggregate tables reviewed before export")


@pytest.mark.parametrize(("change", "message"), [
    ({"columns": ["ssis__rrn"]}, "has no column 'ssis__rrn'"),
    ({"columns": ["link_id", "nope"]}, "has no column 'nope'"),
    ({"researchers": ["cora"]}, "'cora' is not an active researcher"),
    ({"lawful_basis": " "}, "lawful basis must be stated"),
    ({"release_form": "email"}, "release form 'email'"),
])
def test_bad_requests_are_refused_naming_the_problem(cat: catalog.Catalog, people: dict,
                                                     change: dict, message: str) -> None:
    fields = dict(dataset_id="housing-combined", columns=["ssis__sido"],
                  release_form="secure_room", purpose="statistics", lawful_basis="Art. 28-2",
                  researchers=[], setting="room", outputs="tables",
                  ends_at=utcnow() + timedelta(days=3), actor="alice") | change
    with pytest.raises(catalog.CatalogError, match=message):
        cat.create_request("bad", **fields)


def test_direct_identifiers_are_never_requestable(cat: catalog.Catalog, people: dict) -> None:
    cat.register_dataset("with-rrn", title="t", path="/p", columns={"rrn": "direct_identifier",
                                                                    "sido": "quasi_identifier"},
                         project_id=None, lineage={}, actor="agency")
    with pytest.raises(catalog.CatalogError, match="'rrn' is a direct identifier"):
        cat.create_request("r", dataset_id="with-rrn", columns=["rrn"], release_form="take_out",
                           purpose="statistics", lawful_basis="b", researchers=[], setting="s",
                           outputs="o", ends_at=utcnow() + timedelta(days=1), actor="alice")


def test_only_the_requester_submits_their_request(cat: catalog.Catalog, people: dict) -> None:
    make_request(cat, "r1")
    with pytest.raises(catalog.PermissionRefused, match="belongs to 'alice', not 'bob'"):
        cat.submit_request("r1", actor="bob")
    assert cat.audit_entries()[-1]["action"] == "access.refused"


def test_approval_needs_a_risk_report(cat: catalog.Catalog, people: dict) -> None:
    make_request(cat, "r1", state="under_review")
    with pytest.raises(catalog.CatalogError, match="attach the risk report"):
        cat.decide_request("r1", "approve", reason="ok", actor="po1")
    cat.attach_risk_report("r1", RISK, actor="po1")
    cat.decide_request("r1", "approve", reason="ok", actor="po1")
    assert cat.get_request("r1").state == "approved"


def test_a_decision_needs_a_reason(cat: catalog.Catalog, people: dict) -> None:
    make_request(cat, "r1", state="under_review")
    with pytest.raises(catalog.CatalogError, match="reject needs a reason"):
        cat.decide_request("r1", "reject", reason="  ", actor="po1")


# -- the role matrix, through the real workflow -------------------------------------------

#: action -> (state the request must be in, the call that takes the action as ``actor``).
WORKFLOW_ACTIONS = {
    "request.submit": ("draft", lambda c, r, a: c.submit_request(r, actor=a)),
    "request.start_review": ("submitted", lambda c, r, a: c.start_review(r, actor=a)),
    "request.attach_risk_report": ("under_review",
                                   lambda c, r, a: c.attach_risk_report(r, RISK, actor=a)),
    "request.approve": ("under_review", lambda c, r, a: c.decide_request(
        r, "approve", reason="ok", actor=a, risk_report=RISK)),
    "request.reject": ("under_review", lambda c, r, a: c.decide_request(
        r, "reject", reason="no", actor=a)),
    "request.activate": ("approved", lambda c, r, a: c.activate_request(r, actor=a)),
    "request.revoke": ("active", lambda c, r, a: c.revoke_request(r, reason="x", actor=a)),
    "request.create": (None, None),
}


@pytest.mark.parametrize("action", sorted(WORKFLOW_ACTIONS))
def test_role_matrix_each_role_against_each_workflow_action(
        cat: catalog.Catalog, people: dict, action: str) -> None:
    state, call = WORKFLOW_ACTIONS[action]
    for role in ROLES:
        user = ROLE_USERS[role]
        allowed = catalog.permits(role, action)
        if action == "request.create":
            def call(c, r, a):
                return c.create_request(
                    r, dataset_id="housing-combined", columns=["ssis__sido"],
                    release_form="secure_room", purpose="statistics", lawful_basis="b",
                    researchers=[], setting="s", outputs="o",
                    ends_at=utcnow() + timedelta(days=1), actor=a)
            request_id = f"new-{role}"
        else:
            request_id = make_request(cat, f"{action}-{role}", state=state)
        if allowed:
            call(cat, request_id, user)
        else:
            with pytest.raises(catalog.PermissionRefused, match=f"{action} refused"):
                call(cat, request_id, user)
            refusal = cat.audit_entries()[-1]
            assert (refusal["action"], refusal["actor"]) == ("access.refused", user)
        assert cat.authorize(user, action) is allowed


@pytest.mark.parametrize("action", sorted(catalog.PERMISSIONS))
def test_role_matrix_authorize_matches_the_table_for_every_role(
        cat: catalog.Catalog, people: dict, action: str) -> None:
    for role, user in ROLE_USERS.items():
        assert cat.authorize(user, action) is (role in catalog.PERMISSIONS[action])
    cat.deactivate_user("po1", actor="root")
    assert not cat.authorize("po1", action)
    assert not cat.authorize("nobody", action)


def test_a_deactivated_officer_cannot_act(cat: catalog.Catalog, people: dict) -> None:
    make_request(cat, "r1", state="submitted")
    cat.deactivate_user("po1", actor="root")
    with pytest.raises(catalog.PermissionRefused, match="'po1' is not an active user"):
        cat.start_review("r1", actor="po1")


# -- expiry -----------------------------------------------------------------------------

def test_access_lapses_at_the_end_date_on_the_next_check(cat: catalog.Catalog,
                                                         people: dict) -> None:
    make_request(cat, "r1", state="active", days=2)
    [grant] = cat.active_access("alice")
    assert grant.request_id == "r1"
    assert grant.datasets == {"housing-combined": ["ssis__sido", "ssis__benefit_type"]}
    assert cat.active_access("alice", form="take_out") == []
    assert cat.active_access("bob") == []
    # Move the end date into the past, as time passing would.
    from sqlalchemy import update

    from catalog.models import AccessRequest
    with cat._write() as session:
        session.execute(update(AccessRequest).values(ends_at=utcnow() - timedelta(seconds=1)))
    assert cat.active_access("alice") == []
    assert cat.get_request("r1").state == "expired"
    last = cat.audit_entries()[-1]
    assert (last["action"], last["actor"], last["target"]) == (
        "request.expire", "system:expiry", "r1")


def test_sweep_expires_every_lapsed_request_once(cat: catalog.Catalog, people: dict) -> None:
    make_request(cat, "short", state="active", days=1)
    make_request(cat, "long", state="active", days=90)
    later = utcnow() + timedelta(days=2)
    assert cat.expire_due(now=later) == ["short"]
    assert cat.expire_due(now=later) == []
    assert [r.id for r in cat.list_requests(states=["active"])] == ["long"]

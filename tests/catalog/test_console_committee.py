"""The take-out (반출) committee in the console: appoint, vote with reasons, close the vote."""

from __future__ import annotations

import pytest

import catalog
from tests.catalog.conftest import CONSOLE_PASSWORD, RISK, console_login, make_request, open_console

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

OFFICERS = ("po1", "po2", "po3", "po4", "po-conflict")


@pytest.fixture
def console(cat: catalog.Catalog, people: dict, database_url: str,
            monkeypatch: pytest.MonkeyPatch) -> AppTest:
    for user in OFFICERS:
        cat.set_password(user, CONSOLE_PASSWORD, actor="root")
    make_request(cat, "export-1", state="under_review", form="take_out")
    cat.attach_risk_report("export-1", RISK, actor="po1")
    # These tests read the English screens; test_console_language.py reads the Korean ones.
    monkeypatch.setenv("PSEUDOLINK_CONSOLE_LANGUAGE", "en")
    return open_console(database_url, monkeypatch)


def _as(app: AppTest, user: str) -> AppTest:
    if "user" in app.session_state:
        app.sidebar.button(key="logout").click()
        app.run()
    return console_login(app, user)


def _vote(app: AppTest, user: str, vote: str, reason: str) -> AppTest:
    _as(app, user)
    app.radio(key="vote").set_value(vote)
    app.text_area(key="vote_reason").input(reason)
    app.button(key="cast_vote").click()
    return app.run()


def _flash(app: AppTest) -> list[str]:
    return [s.value for s in app.success]


def test_take_out_goes_to_a_committee_not_to_one_officer(console: AppTest) -> None:
    _as(console, "po1")
    assert any("committee" in h.value for h in console.subheader)
    keys = {button.key for button in console.button}
    assert {"approve", "reject"}.isdisjoint(keys) and "appoint" in keys


def test_conflicted_officers_are_not_offered_and_size_is_enforced(
        console: AppTest, cat: catalog.Catalog) -> None:
    _as(console, "po1")
    offered = console.multiselect(key="committee_members").options
    assert "po-conflict" not in offered  # same organisation as the requester
    assert {"po2", "po3", "po4"} <= set(offered)
    console.multiselect(key="committee_members").set_value(["po2", "po3"])
    console.button(key="appoint").click()
    console.run()
    assert any("3 to 7" in e.value for e in console.error)
    assert cat.get_request("export-1").committee == []


def test_committee_appointed_votes_and_is_closed_once_quorate(
        console: AppTest, cat: catalog.Catalog) -> None:
    _as(console, "po1")
    console.multiselect(key="committee_members").set_value(["po2", "po3", "po4", "po5",
                                                            "po6"])
    console.button(key="appoint").click()
    console.run()
    assert _flash(console) == ["Committee of 5 appointed for request export-1."]
    assert cat.get_request("export-1").committee_quorum == 3
    # Not a member: po1 sees the votes but no ballot; closing before quorum is refused.
    assert all(r.key != "vote" for r in console.radio)
    console.button(key="close").click()
    console.run()
    assert any("no quorum yet (0 of 5 voted, 3 needed)" in e.value for e in console.error)

    assert _flash(_vote(console, "po2", "approve", "k = 5 over sido")) == [
        "Vote recorded: approve."]
    assert all(r.key != "vote" for r in console.radio)  # one vote per member
    _vote(console, "po3", "approve", "aggregates only")
    _vote(console, "po4", "reject", "benefit amounts too fine")
    votes = console.dataframe[-1].value
    assert votes[["reviewer", "vote", "reason"]].values.tolist() == [
        ["po2", "approve", "k = 5 over sido"], ["po3", "approve", "aggregates only"],
        ["po4", "reject", "benefit amounts too fine"]]
    assert cat.get_request("export-1").state == "under_review"

    _as(console, "po1")
    console.button(key="close").click()
    console.run()
    summary = "committee approved: 2 approve, 1 reject, 0 abstain of 5 members (quorum 3)"
    assert _flash(console) == [summary]
    request = cat.get_request("export-1")
    assert (request.state, request.state_reason) == ("approved", summary)


def test_a_settled_vote_decides_the_request_at_once(console: AppTest,
                                                   cat: catalog.Catalog) -> None:
    cat.appoint_committee("export-1", ["po2", "po3", "po4"], actor="po1")
    _vote(console, "po2", "reject", "exact ages of children")
    summary = "committee rejected: 0 approve, 2 reject, 0 abstain of 3 members (quorum 2)"
    assert _flash(_vote(console, "po3", "reject", "same as po2")) == [summary]
    assert cat.get_request("export-1").state == "rejected"


def test_an_officer_without_an_organisation_is_not_offered(console: AppTest,
                                                           cat: catalog.Catalog) -> None:
    cat.record_user("po-nowhere", role="privacy_officer", actor="root")
    _as(console, "po1")
    offered = console.multiselect(key="committee_members").options
    assert "po-nowhere" not in offered and "po-conflict" not in offered
    assert {"po2", "po3", "po4"} <= set(offered)

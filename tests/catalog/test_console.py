"""The console's logic, page by page, driven through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import catalog
from catalog.coltypes import utcnow
from tests.catalog.conftest import (
    CONSOLE_PASSWORD,
    RISK,
    console_login,
    make_request,
    open_console,
    tamper,
)

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest


@pytest.fixture
def console(cat: catalog.Catalog, people: dict, database_url: str,
            monkeypatch: pytest.MonkeyPatch) -> AppTest:
    for user in ("po1", "alice", "po2"):
        cat.set_password(user, CONSOLE_PASSWORD, actor="root")
    make_request(cat, "r1", state="under_review")
    cat.attach_risk_report("r1", RISK | {"class_sizes": {"1": 2, "5": 3}}, actor="po1")
    # These tests read the English screens; test_console_language.py reads the Korean ones.
    monkeypatch.setenv("PSEUDOLINK_CONSOLE_LANGUAGE", "en")
    return open_console(database_url, monkeypatch)


def _errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def _page(app: AppTest, page: str) -> AppTest:
    return app.sidebar.radio(key="page").set_value(page).run()


def _charts(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


# -- login ------------------------------------------------------------------------------


def test_console_refuses_wrong_passwords_and_non_officers(console: AppTest) -> None:
    assert "Unknown user or wrong password." in _errors(console_login(console, "po1", "wrong"))
    assert "Role researcher may not use the console." in _errors(console_login(console,
                                                                               "alice"))
    assert "user" not in console.session_state


def test_logging_out_returns_to_the_login_form(console: AppTest) -> None:
    console_login(console, "po1")
    assert console.sidebar.markdown[0].value == "Logged in as **po1**"
    console.sidebar.button(key="logout").click()
    console.run()
    assert "user" not in console.session_state
    assert console.text_input(key="login_user").value == ""


# -- the review queue and a request's detail --------------------------------------------


def test_request_detail_shows_the_five_safes_and_risk_charts(console: AppTest) -> None:
    console_login(console, "po1")
    safes = console.table[0].value
    assert safes.loc["Lawful basis"].iloc[0] == "Personal Information Protection Act art. 28-2"
    assert safes.loc["Setting"].iloc[0] == "secure analysis room, Seoul"
    assert safes.loc["Data"].iloc[0] == "housing-combined: ssis__sido, ssis__benefit_type"
    sizes, risks = _charts(console)
    assert sizes["mark"]["type"] == risks["mark"]["type"] == "bar"
    assert sizes["encoding"]["x"]["title"] == "class size"
    assert risks["encoding"]["x"]["title"] == "risk"
    summary, per_record = console.dataframe[1].value, console.dataframe[2].value
    assert summary["k"].tolist() == [5]
    assert per_record.to_dict("list") == {"risk": [0.2, 1.0], "records": [15, 2],
                                          "above threshold": [False, True]}


def test_officer_starts_the_review_of_a_submitted_request(
        cat: catalog.Catalog, console: AppTest) -> None:
    make_request(cat, "r0", state="submitted")
    console_login(console, "po1")
    console.selectbox(key="request_id").set_value("r0").run()
    console.button(key="start_review").click()
    console.run()
    assert cat.get_request("r0").state == "under_review"
    assert console.subheader[0].value == "Request r0 — under_review"


def test_officer_approves_from_the_queue_with_a_reason(console: AppTest,
                                                       cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    assert console.session_state["user"] == "po1"
    assert console.selectbox(key="request_id").value == "r1"
    assert any("Risk report" in h.value for h in console.subheader)
    console.text_area(key="decision_reason").input("k = 5, no sample uniques in the output")
    console.button(key="approve").click()
    console.run()
    assert [s.value for s in console.success] == ["Request r1 approved."]
    request = cat.get_request("r1")
    assert request.state == "approved"
    assert request.reviews[-1]["reason"] == "k = 5, no sample uniques in the output"


def test_officer_rejects_with_a_reason(console: AppTest, cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    console.text_area(key="decision_reason").input("income is identifying in small districts")
    console.button(key="reject").click()
    console.run()
    assert [s.value for s in console.success] == ["Request r1 rejected."]
    request = cat.get_request("r1")
    assert (request.state, request.state_reason) == (
        "rejected", "income is identifying in small districts")


def test_an_empty_reason_is_shown_as_an_error(console: AppTest, cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    console.button(key="reject").click()
    console.run()
    assert any("reject needs a reason" in e for e in _errors(console))
    assert cat.get_request("r1").state == "under_review"


# -- decisions, releases and their expiry ------------------------------------------------


def _release(cat: catalog.Catalog, release_id: str, days: int) -> None:
    cat.record_release(release_id, dataset_id="housing-combined", form="dp_aggregate",
                       title="Households by sido", artifact="/releases/x.parquet",
                       checksum="0" * 64, parameters={"epsilon": 1.0}, actor="po1",
                       expires_at=utcnow() + timedelta(days=days, hours=1))


def test_decisions_page_activates_then_revokes_access_with_a_reason(
        console: AppTest, cat: catalog.Catalog) -> None:
    make_request(cat, "r2", state="approved")
    console_login(console, "po1")
    _page(console, "Decisions and releases")
    decided = console.dataframe[0].value
    assert decided[["request", "state", "reason"]].values.tolist() == [
        ["r2", "approved", "k >= 5"]]
    console.button(key="activate").click()
    console.run()
    assert [s.value for s in console.success] == ["Request r2 is active."]
    assert cat.get_request("r2").state == "active"
    console.button(key="revoke_request").click()
    console.run()
    assert any("revocation needs a reason" in e for e in _errors(console))
    console.text_input(key="revoke_request_reason").input("results shared outside the room")
    console.button(key="revoke_request").click()
    console.run()
    request = cat.get_request("r2")
    assert (request.state, request.state_reason) == ("revoked",
                                                     "results shared outside the room")
    assert console.dataframe[0].value["state"].tolist() == ["revoked"]


def test_decisions_page_lists_open_releases_with_expiry_and_revokes_one(
        console: AppTest, cat: catalog.Catalog) -> None:
    _release(cat, "households-dp", days=30)
    _release(cat, "benefits-dp", days=2)
    console_login(console, "po1")
    _page(console, "Decisions and releases")
    releases = console.dataframe[-1].value
    assert dict(zip(releases["release"], releases["days left"], strict=True)) == {
        "households-dp": 30, "benefits-dp": 2}
    console.selectbox(key="release_id").set_value("benefits-dp")
    console.text_input(key="revoke_release_reason").input("a small cell slipped through")
    console.button(key="revoke_release").click()
    console.run()
    assert [s.value for s in console.success] == ["Release benefits-dp revoked."]
    assert [r.id for r in cat.open_releases()] == ["households-dp"]
    assert console.dataframe[-1].value["release"].tolist() == ["households-dp"]
    assert cat.audit_entries()[-1]["details"]["reason"] == "a small cell slipped through"


# -- budgets and the audit trail ---------------------------------------------------------


def test_budgets_page_lists_budgets_and_charts_spend_over_time(
        console: AppTest, cat: catalog.Catalog) -> None:
    cat.set_budget("housing-combined", "dash", 1.0, actor="po1")
    cat.spend("housing-combined", "dash", 0.25, query={}, actor="api")
    cat.spend("housing-combined", "dash", 0.5, query={}, actor="api")
    console_login(console, "po1")
    _page(console, "Budgets")
    assert console.dataframe[0].value["remaining"].tolist() == [0.25]
    (chart,) = _charts(console)
    # One line per series with a point per spend (issue 19: a lone spend drew nothing).
    assert chart["mark"] == {"type": "line", "point": True}
    assert chart["encoding"]["x"]["title"] == "time"


def test_audit_page_verifies_the_chain(console: AppTest) -> None:
    console_login(console, "po1")
    _page(console, "Audit trail")
    console.button(key="verify").click()
    console.run()
    # Not "intact": links alone cannot show a rewrite with every hash recomputed (issue 15).
    assert console.success[0].value.startswith("Hash chain consistent:")
    # Newest first: the login, then the session it opened (a console login is a session).
    assert list(console.dataframe[0].value["action"].iloc[:2]) == ["session.open", "auth.login"]


def test_audit_page_names_a_changed_entry(console: AppTest, cat: catalog.Catalog,
                                          database_url: str) -> None:
    console_login(console, "po1")
    changed = cat.audit_entries()[2]["seq"]
    tamper(database_url, "UPDATE audit_log SET actor = 'mallory' WHERE seq = :seq",
           seq=changed)
    _page(console, "Audit trail")
    console.button(key="verify").click()
    console.run()
    assert _errors(console)[0].startswith("Audit log BROKEN")
    assert any(f"entry seq {changed} " in m.value and "(entry changed)" in m.value
               for m in console.markdown)


# -- sessions and throttling --------------------------------------------------------------


def test_a_console_session_ends_when_it_expires(console: AppTest, cat: catalog.Catalog,
                                                database_url: str) -> None:
    from sqlalchemy import update

    from catalog.models import LoginSession

    console_login(console, "po1")
    assert console.session_state["user"] == "po1"
    with cat._write() as session:
        session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    console.run()
    assert "user" not in console.session_state
    assert console.text_input(key="login_user").value == ""
    assert any("session expired" in w.value for w in console.warning)


def test_a_deactivated_officer_is_logged_out_of_the_console(
        console: AppTest, cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    cat.deactivate_user("po1", actor="root")
    console.run()
    assert "user" not in console.session_state


def test_console_locks_an_account_after_repeated_wrong_passwords(console: AppTest,
                                                                 cat: catalog.Catalog) -> None:
    for _ in range(cat.throttle_policy.account_failures):
        assert "Unknown user or wrong password." in _errors(console_login(console, "po1",
                                                                          "wrong guess"))
    # Locked: even the right password is refused now, with the time it ends.
    errors = _errors(console_login(console, "po1"))
    assert any("too many failed logins for account 'po1': locked out until" in e
               for e in errors), errors
    assert "user" not in console.session_state


def test_logging_out_of_the_console_ends_the_catalog_session(console: AppTest,
                                                             cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    token = console.session_state["session"]
    console.sidebar.button(key="logout").click()
    console.run()
    with pytest.raises(catalog.LoginRefused, match="session ended"):
        cat.session_user(token)

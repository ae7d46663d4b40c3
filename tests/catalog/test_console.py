"""The console's logic, driven through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import pytest

import catalog
from catalog.console import APP
from tests.catalog.conftest import RISK, make_request

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

PASSWORD = "officer password 1"


@pytest.fixture
def console(cat: catalog.Catalog, people: dict, database_url: str,
            monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("PSEUDOLINK_DATABASE_URL", database_url)
    for user in ("po1", "alice", "po2"):
        cat.set_password(user, PASSWORD, actor="root")
    make_request(cat, "r1", state="under_review")
    cat.attach_risk_report("r1", RISK | {"class_sizes": {"1": 2, "5": 3}}, actor="po1")
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    return app


def _login(app: AppTest, user: str, password: str = PASSWORD) -> AppTest:
    app.text_input(key="login_user").input(user)
    app.text_input(key="login_password").input(password)
    app.button[0].click()
    return app.run()


def test_console_refuses_wrong_passwords_and_non_officers(console: AppTest) -> None:
    assert "Unknown user or wrong password." in [e.value for e in _login(console, "po1",
                                                                         "wrong").error]
    assert "Role researcher may not use the console." in [
        e.value for e in _login(console, "alice").error]
    assert "user" not in console.session_state


def test_officer_approves_from_the_queue_with_a_reason(console: AppTest,
                                                       cat: catalog.Catalog) -> None:
    _login(console, "po1")
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


def test_an_empty_reason_is_shown_as_an_error(console: AppTest, cat: catalog.Catalog) -> None:
    _login(console, "po1")
    console.button(key="reject").click()
    console.run()
    assert any("reject needs a reason" in e.value for e in console.error)
    assert cat.get_request("r1").state == "under_review"


def test_audit_page_verifies_the_chain(console: AppTest) -> None:
    _login(console, "po1")
    console.sidebar.radio(key="page").set_value("Audit trail").run()
    console.button(key="verify").click()
    console.run()
    assert console.success[0].value.startswith("Audit log intact:")


def test_budgets_page_lists_spends(console: AppTest, cat: catalog.Catalog) -> None:
    cat.set_budget("housing-combined", "dash", 1.0, actor="po1")
    cat.spend("housing-combined", "dash", 0.25, query={}, actor="api")
    _login(console, "po1")
    console.sidebar.radio(key="page").set_value("Budgets").run()
    assert console.dataframe[0].value["remaining"].tolist() == [0.75]

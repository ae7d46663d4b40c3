"""The console reads as officers need (issue 19): Korean first, every column named, failing
risk flagged with its rule, numeric axes, Seoul times, a filterable and exportable audit
trail, and a Reject that survives a refused Approve."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest

import catalog
from catalog.console import views
from catalog.console.text import COLUMNS, TEXT
from tests.catalog.conftest import CONSOLE_PASSWORD, RISK, console_login, make_request, open_console

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

#: k = 1 and every record unique: what an officer must not wave through.
UNSAFE = RISK | {"k": 1, "prosecutor_risk_max": 1.0, "sample_uniques": 2,
                 "class_sizes": {"1": 2, "4": 2}}


@pytest.fixture
def console(cat: catalog.Catalog, people: dict, database_url: str,
            monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv("PSEUDOLINK_CONSOLE_LANGUAGE", raising=False)
    for user in ("po1", "po2"):
        cat.set_password(user, CONSOLE_PASSWORD, actor="root")
    make_request(cat, "r1", state="under_review")
    cat.attach_risk_report("r1", UNSAFE, actor="po1")
    return open_console(database_url, monkeypatch)


def _labels(frame) -> dict[str, str]:
    """The header a person sees for each column of an ``st.dataframe``."""
    config = json.loads(frame.proto.columns or "{}")
    return {name: spec.get("label", name) for name, spec in config.items()}


def _charts(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def _button(app: AppTest, key: str):
    return next(b for b in app.button if b.key == key)


def _page(app: AppTest, page: str) -> AppTest:
    return app.sidebar.radio(key="page").set_value(page).run()


def test_every_phrase_and_column_has_korean_and_english() -> None:
    for key, (ko, en) in {**TEXT, **COLUMNS}.items():
        assert ko and en, key


def test_console_is_korean_by_default_and_switches_to_english(console: AppTest) -> None:
    assert console.title[0].value == "개인정보 보호책임자 콘솔"
    assert console.button[0].label == "로그인"
    console_login(console, "po1")
    assert console.sidebar.markdown[0].value == "**po1** 님으로 로그인"
    assert console.header[0].value == "심사 대기열"
    assert console.subheader[0].value == "요청 r1 — 심사 중"
    console.sidebar.radio(key="lang").set_value("en").run()
    assert console.header[0].value == "Review queue"
    assert console.subheader[0].value == "Request r1 — under_review"


def test_the_chosen_language_survives_logging_out(console: AppTest) -> None:
    console.sidebar.radio(key="lang").set_value("en").run()
    console_login(console, "po1")
    console.sidebar.button(key="logout").click()
    console.run()
    assert console.button[0].label == "Log in"


def test_risk_columns_carry_human_labels_in_both_languages(console: AppTest) -> None:
    console_login(console, "po1")
    summary = _labels(console.dataframe[1])
    assert summary["k"] == "k-익명성"
    assert summary["prosecutor_risk_max"] == "최대 재식별 위험"
    assert _labels(console.dataframe[0])["requester"] == "신청자"
    console.sidebar.radio(key="lang").set_value("en").run()
    assert _labels(console.dataframe[1])["prosecutor_risk_max"] == (
        "Highest re-identification risk")


def test_k_of_one_is_flagged_with_the_rule_and_approve_names_what_fails(
        console: AppTest) -> None:
    console_login(console, "po1")
    errors = [e.value for e in console.error]
    assert any("k-익명성 1 < 5 (기준: k ≥ 5)" in e for e in errors), errors
    assert any("최대 재식별 위험 1 > 0.2 (기준: ≤ 0.2)" in e for e in errors), errors
    approve, reject = _button(console, "approve"), _button(console, "reject")
    assert approve.label.startswith("기준 미달인데 승인: k-익명성 1 < 5")
    assert (approve.proto.type, reject.proto.type) == ("secondary", "primary")
    # The failing cells are coloured on the screen, not only listed.
    styled = console.dataframe[1].proto.arrow_data.styler.styles
    assert "background-color: #fdd" in styled


def test_a_safe_report_keeps_approve_primary(console: AppTest, cat: catalog.Catalog) -> None:
    cat.attach_risk_report("r1", RISK, actor="po1")
    console_login(console, "po1")
    assert _button(console, "approve").label == "승인"
    assert _button(console, "approve").proto.type == "primary"
    assert "위험 기준 충족" in console.info[0].value


def test_a_project_that_tightens_k_is_flagged_by_its_own_rule(
        cat: catalog.Catalog, console: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(cat), "risk_limits",
                        lambda self, _: catalog.RiskThresholds(k=10, prosecutor_risk_max=0.1))
    cat.attach_risk_report("r1", RISK, actor="po1")  # k = 5 meets 5, not 10
    console_login(console, "po1")
    assert any("k-익명성 5 < 10 (기준: k ≥ 10)" in e.value for e in console.error)


def test_reject_is_still_offered_after_a_refused_approve(console: AppTest,
                                                         cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    _button(console, "approve").click()
    console.run()
    assert any("approve needs a reason" in e.value for e in console.error)
    console.text_area(key="decision_reason").input("k = 1: sample uniques in the extract")
    _button(console, "reject").click()
    console.run()
    assert [s.value for s in console.success] == ["요청 r1을(를) 반려했습니다."]
    assert cat.get_request("r1").state == "rejected"


def test_class_sizes_and_risks_are_drawn_on_numeric_axes(console: AppTest) -> None:
    console_login(console, "po1")
    sizes, risks = _charts(console)
    assert sizes["encoding"]["x"]["type"] == risks["encoding"]["x"]["type"] == "quantitative"
    assert sizes["encoding"]["x"]["title"] == "동질집합 크기"


def test_times_are_seoul_wall_clock_without_microseconds(console: AppTest,
                                                         cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    _page(console, "감사 기록")
    shown = console.dataframe[0].value
    newest = datetime.fromisoformat(cat.audit_entries()[-1]["ts"])
    assert shown["ts"].iloc[0] == (newest + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in shown["ts"])
    assert _labels(console.dataframe[0])["ts"] == "시각 (KST)"


def test_audit_trail_filters_by_actor_and_action(console: AppTest) -> None:
    console_login(console, "po1")
    _page(console, "감사 기록")
    console.multiselect(key="audit_actors").set_value(["po1"]).run()
    shown = console.dataframe[0].value
    assert set(shown["actor"]) == {"po1"} and len(shown) >= 2
    console.multiselect(key="audit_actions").set_value(["auth.login"]).run()
    assert console.dataframe[0].value["action"].tolist() == ["auth.login"]


def test_audit_trail_filters_by_seoul_dates(console: AppTest, cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    _page(console, "감사 기록")
    today = views.kst_date(cat.audit_entries()[-1]["ts"])
    console.date_input(key="audit_dates").set_value(
        (today - timedelta(days=3), today - timedelta(days=1))).run()
    assert console.dataframe[0].value.empty


def test_audit_export_is_csv_excel_reads_with_hangul(console: AppTest,
                                                     cat: catalog.Catalog) -> None:
    console_login(console, "po1")
    _page(console, "감사 기록")
    assert console.get("download_button")[0].proto.label == "CSV 내보내기 (Excel용 UTF-8)"
    entries = cat.audit_entries()
    body = views.csv_for_excel(views.audit_table(entries), {"actor": "행위자", "ts": "시각"})
    assert body.startswith(b"\xef\xbb\xbf")
    header, *rows = body.decode("utf-8-sig").splitlines()
    assert header == "seq,시각,행위자,action,target,details"
    assert len(rows) == len(entries)


def test_a_single_spend_is_drawn_as_a_point(console: AppTest, cat: catalog.Catalog) -> None:
    cat.set_budget("housing-combined", "dash", 1.0, actor="po1")
    cat.spend("housing-combined", "dash", 0.25, query={}, actor="api")
    console_login(console, "po1")
    _page(console, "프라이버시 예산")
    (chart,) = _charts(console)
    assert chart["mark"] == {"type": "line", "point": True}
    assert chart["encoding"]["x"]["type"] == "temporal"


def test_take_out_committee_reads_in_korean(console: AppTest, cat: catalog.Catalog) -> None:
    make_request(cat, "export-1", state="under_review", form="take_out")
    cat.attach_risk_report("export-1", RISK, actor="po1")
    cat.appoint_committee("export-1", ["po2", "po3", "po4"], actor="po1")
    cat.vote("export-1", "approve", reason="집계표만 반출", actor="po2")
    console_login(console, "po1")
    console.selectbox(key="request_id").set_value("export-1").run()
    assert "반출 심의위원회" in [h.value for h in console.subheader]
    votes = console.dataframe[-1]
    assert votes.value[["reviewer", "vote"]].values.tolist() == [["po2", "찬성"]]
    assert _labels(votes)["reviewer"] == "위원"

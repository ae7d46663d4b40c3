"""The officers' console shows a project's stages, setup and exchange events as a
timeline, in the officer's language."""

from __future__ import annotations

import pytest

import catalog
from tests.catalog.conftest import CONSOLE_PASSWORD, console_login, open_console

pytest.importorskip("streamlit")


def test_project_timeline_reads_in_korean_and_in_english(cat: catalog.Catalog, people: dict,
                                                         database_url: str,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PSEUDOLINK_CONSOLE_LANGUAGE", raising=False)
    cat.set_password("po1", CONSOLE_PASSWORD, actor="root")
    cat.audit("ssis", "exchange.setup.accepted", "/v1/projects/housing/setup/acceptances/ssis",
              {"kind": "acceptance", "key_version": 1})
    cat.audit("ssis", "exchange.upload.accepted", "/v1/projects/housing/files/" + "a" * 64,
              {"kind": "keys", "recipient": "keymanager"})
    cat.audit("keymanager", "exchange.job.started", "/v1/jobs/1",
              {"task": "link", "project": "housing", "attempt": 1})
    cat.audit("building", "exchange.upload.refused", "/v1/projects/other/files/" + "b" * 64,
              {"kind": "keys"})
    app = console_login(open_console(database_url, monkeypatch), "po1")
    app = app.sidebar.radio(key="page").set_value("프로젝트 진행 기록").run()
    timeline = app.dataframe[0].value
    assert timeline["event"].tolist() == ["수락서·키 조각 접수", "파일 접수", "작업 시작"]
    assert timeline["party or person"].tolist() == ["ssis", "ssis", "keymanager"]
    assert timeline["kind or task"].tolist() == ["acceptance", "keys", "link"]
    app = app.sidebar.radio(key="lang").set_value("en").run()
    app = app.sidebar.radio(key="page").set_value("Project timeline").run()
    assert app.dataframe[0].value["event"].tolist() == [
        "acceptance and key share received", "file received", "job started"]

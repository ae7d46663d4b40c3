"""The researcher portal through FastAPI's TestClient: login, CSRF, ownership, escaping."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import catalog
from catalog.coltypes import utcnow
from catalog.models import LoginSession
from catalog.portal import create_app
from tests.accounts import PASSWORD, person
from tests.catalog.conftest import make_request


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the portal calls catalog methods whose tests run on both backends."""
    return f"sqlite:///{tmp_path / 'workspace' / 'catalog.db'}"


@pytest.fixture
def portal(cat: catalog.Catalog, people: dict, database_url: str):  # type: ignore[no-untyped-def]
    for user in ("alice", "bob"):
        person(cat, user, "researcher", password=PASSWORD)
    person(cat, "po1", "privacy_officer", password=PASSWORD)
    return create_app(database_url, hub_url="http://hub.example/")


def _client(app, user: str | None = None) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, follow_redirects=False)
    if user is not None:
        response = client.post("/login", data={"user": user, "password": PASSWORD,
                                               "csrf": _login_token(client)})
        assert response.status_code == 303, response.text
    return client


def _login_token(client: TestClient) -> str:
    form = client.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)


def _csrf(client: TestClient, path: str = "/requests") -> str:
    page = client.get(path)
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)


def test_pages_need_a_login_and_the_cookie_is_httponly_and_strict(portal) -> None:  # type: ignore[no-untyped-def]
    client = _client(portal)
    assert client.get("/datasets").headers["location"] == "/login"
    refused = client.post("/login", data={"user": "alice", "password": "wrong",
                                          "csrf": _login_token(client)})
    assert refused.status_code == 401 and "wrong user name or password" in refused.text
    assert "pseudolink_portal=" not in refused.headers.get("set-cookie", "")
    ok = client.post("/login", data={"user": "alice", "password": PASSWORD,
                                     "csrf": _login_token(client)})
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/datasets")
    assert page.status_code == 200
    assert client.get("/readyz").json() == {"status": "ready"}
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_login_posted_from_another_site_is_refused(portal) -> None:  # type: ignore[no-untyped-def]
    """Login CSRF: a foreign page must not log the victim in as the attacker."""
    client = _client(portal)
    forged = client.post("/login", data={"user": "alice", "password": PASSWORD,
                                         "csrf": "guessed"})
    assert forged.status_code == 403
    assert "pseudolink_portal=" not in forged.headers.get("set-cookie", "")


def test_an_expired_session_goes_back_to_the_login(portal, cat: catalog.Catalog) -> None:  # type: ignore[no-untyped-def]
    client = _client(portal, "alice")
    with cat._write() as session:
        session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert client.get("/requests").headers["location"] == "/login"


def test_a_form_without_its_csrf_token_is_refused(portal, cat: catalog.Catalog) -> None:  # type: ignore[no-untyped-def]
    make_request(cat, "r1")
    alice = _client(portal, "alice")
    assert alice.post("/requests/r1/submit").status_code == 403
    other = _client(portal, "alice")  # another session of the same person
    stolen = _csrf(other)
    assert alice.post("/requests/r1/submit", data={"csrf": stolen}).status_code == 403
    assert cat.get_request("r1").state == "draft"
    assert alice.post("/requests/r1/submit", data={"csrf": _csrf(alice)}).status_code == 303
    assert cat.get_request("r1").state == "submitted"


def test_a_researcher_neither_sees_nor_touches_anothers_request(portal,  # type: ignore[no-untyped-def]
                                                                 cat: catalog.Catalog) -> None:
    make_request(cat, "alices-study", state="submitted")
    bob = _client(portal, "bob")
    assert "alices-study" not in bob.get("/requests").text
    assert bob.get("/requests/alices-study").status_code == 404
    assert bob.get("/requests/no-such-request").status_code == 404
    token = _csrf(bob)
    for verb in ("withdraw", "submit", "amend"):
        assert bob.post(f"/requests/alices-study/{verb}",
                        data={"csrf": token}).status_code == 404
    assert cat.get_request("alices-study").state == "submitted"


def test_an_officer_is_sent_to_the_console(portal) -> None:  # type: ignore[no-untyped-def]
    officer = _client(portal, "po1")
    for path in ("/datasets", "/requests", "/access", "/requests/new?dataset=housing-combined"):
        page = officer.get(f"{path}{'&' if '?' in path else '?'}lang=en")
        assert page.status_code == 403 and "officers&#x27; console" in page.text


def test_researcher_drafts_submits_withdraws_amends_and_renews(portal,  # type: ignore[no-untyped-def]
                                                               cat: catalog.Catalog) -> None:
    alice = _client(portal, "alice")
    form = alice.get("/requests/new?dataset=housing-combined")
    assert 'value="ssis__sido"' in form.text
    ends = (utcnow() + timedelta(days=90)).date().isoformat()
    fields = {"csrf": _csrf(alice), "dataset": "housing-combined",
              "columns": ["ssis__sido", "ssis__benefit_type"], "purpose": "statistics",
              "lawful_basis": "PIPA art. 28-2", "justification": "housing study",
              "researchers": "bob", "setting": "secure room", "outputs": "tables",
              "release_form": "secure_room", "starts": "", "ends": ends}
    created = alice.post("/requests/new", data=fields)
    assert created.status_code == 303
    request_id = created.headers["location"].split("/")[-1].split("?")[0]
    info = cat.get_request(request_id)
    assert (info.requester_id, info.researchers, info.state) == ("alice", ["alice", "bob"],
                                                                 "draft")
    token = _csrf(alice)
    assert alice.post(f"/requests/{request_id}/submit", data={"csrf": token}).status_code == 303
    assert alice.post(f"/requests/{request_id}/withdraw",
                      data={"csrf": token}).status_code == 303
    amended = alice.post(f"/requests/{request_id}/amend",
                         data={**fields, "columns": ["ssis__sido"], "csrf": token})
    assert amended.status_code == 303
    assert cat.get_request(request_id).columns == ["ssis__sido"]
    # The bad date is one line naming it, and the form keeps what was written.
    bad = alice.post(f"/requests/{request_id}/amend",
                     data={**fields, "ends": "31/12/2027", "csrf": token})
    assert bad.status_code == 400 and "&#x27;31/12/2027&#x27; is not a date" in bad.text
    assert "housing study" in bad.text
    # Renewal of an active grant, before it expires.
    make_request(cat, "granted", state="active", days=20)
    renewed = alice.post("/requests/granted/renew", data={"csrf": token, "ends": ends})
    assert renewed.headers["location"].startswith("/requests/granted-renewal-1")
    assert cat.get_request("granted-renewal-1").state == "draft"


def test_reviewers_reasons_are_shown_on_a_rejected_request(portal,  # type: ignore[no-untyped-def]
                                                           cat: catalog.Catalog) -> None:
    make_request(cat, "r1", state="rejected")
    page = _client(portal, "alice").get("/requests/r1")
    assert "too risky" in page.text and "/requests/r1/amend" in page.text


def test_dictionary_search_shows_classes_lineage_and_approved_uses(portal,  # type: ignore[no-untyped-def]
                                                                   cat: catalog.Catalog) -> None:
    make_request(cat, "r1", state="active")
    alice = _client(portal, "alice")
    page = alice.get("/datasets?q=benefit&lang=en")
    assert "Combined housing data" in page.text and "Quasi-identifier" in page.text
    assert "building" in page.text  # lineage
    assert "Scientific research · Secure room" in page.text
    assert "No dataset matches" in alice.get("/datasets?q=nothing-like-this").text
    korean = alice.get("/datasets?lang=ko")
    assert "데이터 사전" in korean.text and 'lang="ko"' in korean.text


def test_every_page_escapes_what_people_wrote(portal, cat: catalog.Catalog) -> None:  # type: ignore[no-untyped-def]
    evil = '<script>alert("x")</script>'
    cat.register_dataset(
        "evil", title=f"Title {evil}", description=f"About {evil}", path="/data/e.parquet",
        columns={"<b>col</b>": "quasi_identifier"}, project_id=None,
        lineage={"note": evil}, actor="root")
    cat.create_request(
        "r-evil", dataset_id="evil", columns=["<b>col</b>"], release_form="secure_room",
        purpose="statistics", lawful_basis=evil, researchers=[], setting=evil,
        outputs=evil, ends_at=utcnow() + timedelta(days=30), actor="alice",
        justification=evil)
    cat.submit_request("r-evil", actor="alice")
    cat.start_review("r-evil", actor="po1")
    cat.decide_request("r-evil", "reject", reason=evil, actor="po1")
    alice = _client(portal, "alice")
    for path in ("/datasets", "/datasets?q=%3Cscript%3E", "/requests", "/requests/r-evil",
                 "/requests/r-evil/amend", "/requests/new?dataset=evil", "/access"):
        page = alice.get(path)
        assert page.status_code == 200, path
        assert "<script>" not in page.text and "<b>col</b>" not in page.text, path
    assert "&lt;script&gt;" in alice.get("/requests/r-evil").text


def test_take_out_downloads_only_for_its_requester(portal, cat: catalog.Catalog,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    from catalog.takeout import TakeoutOrder

    make_request(cat, "t1", state="approved")  # the committee path is tested elsewhere
    artifact = tmp_path / "t1.age"
    artifact.write_bytes(b"age-encryption.org/v1 ...")
    order = TakeoutOrder(request_id="t1", dataset_id="housing-combined", path="", project_id=None,
                         columns={}, k=5, prosecutor_risk_max=0.2, requester="alice",
                         recipient="age1" + "q" * 58, ends_at=None)
    cat.record_takeout("takeout-t1", order, artifact=str(artifact), checksum="ab" * 32,
                       parameters={"k": 5}, actor="po1")
    alice = _client(portal, "alice")
    assert "/takeouts/takeout-t1" in alice.get("/access").text
    download = alice.get("/takeouts/takeout-t1")
    assert download.status_code == 200 and download.content == artifact.read_bytes()
    bob = _client(portal, "bob")
    assert bob.get("/takeouts/takeout-t1").status_code == 404
    assert "takeout-t1" not in bob.get("/access").text


def test_serve_portal_refuses_a_busy_port_before_announcing_a_url(tmp_path: Path) -> None:
    import socket

    from typer.testing import CliRunner

    import pseudolink.cli  # noqa: F401  (registers every command)
    from pseudolink.cli.app import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "portal", "--port", str(port),
                                          "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2 and "cannot listen" in result.output
    assert "http://" not in result.output


def test_my_access_lists_rooms_and_the_airlock_outbox_of_the_person_only(
        people: dict, cat: catalog.Catalog, database_url: str) -> None:
    from types import SimpleNamespace

    person(cat, "alice", "researcher", password=PASSWORD)
    make_request(cat, "room-1", state="active")
    asked = []

    def outbox(user_id: str) -> list:
        asked.append(user_id)
        files = [SimpleNamespace(name="<b>table</b>.csv")]
        return [SimpleNamespace(id="air-1", state="submitted", files=files,
                                updated_at="2026-12-04T09:00:00+00:00")]

    app = create_app(database_url, hub_url="http://hub.example/", airlock_outbox=outbox)
    alice = _client(app, "alice")
    page = alice.get("/access?lang=en")
    assert asked == ["alice"]
    assert "room-1" in page.text and 'href="http://hub.example/"' in page.text
    assert "air-1" in page.text and "&lt;b&gt;table&lt;/b&gt;.csv" in page.text
    # The language chosen once is kept on the next page.
    assert "Airlock outbox" in alice.get("/access").text

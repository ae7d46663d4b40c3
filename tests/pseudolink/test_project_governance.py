"""Issue 16 through the CLI: every stage recorded, and `project close` leaves nothing behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import catalog
from catalog.identity import HASHING_SETTING
from pseudolink.cli import combine, holder, link, party, project  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import BUILDING_CSV, PASSPHRASE, SPEC, SSIS_CSV, party_keys  # noqa: F401

PROJECT = "housing-test"
PASSWORD = "a long test password"
USERS = {"hana": "holder", "kim": "key_manager", "choi": "combiner", "po1": "privacy_officer"}


@pytest.fixture
def world(tmp_path: Path, party_keys: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    """A workspace with the parties' keys, the spec and both holders' files; returns a runner."""
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.delenv("PSEUDOLINK_DATABASE_URL", raising=False)
    monkeypatch.delenv("PSEUDOLINK_SESSION", raising=False)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    (tmp_path / "building.csv").write_text(BUILDING_CSV, encoding="utf-8")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == code, result.output
        return result.output

    run.work, run.root = work, tmp_path  # type: ignore[attr-defined]
    return run


def _pipeline(run, elsewhere: Path, as_user=lambda user: None) -> dict[str, Path]:
    """Create, accept, prepare, link with the link map outside the workspace, combine."""
    root = run.root
    out = run.work / "exchange"
    as_user("root")
    run("project", "create", "--spec", str(root / "project.toml"))
    as_user("hana")
    for holder_id in ("ssis", "building"):
        run("project", "accept", "--project", PROJECT, "--holder", holder_id, "--yes")
    for holder_id in ("ssis", "building"):
        run("holder", "prepare", "--project", PROJECT, "--holder", holder_id, "--input",
            str(root / f"{holder_id}.csv"), "--out", str(out))
    as_user("kim")
    run("link", "--precheck", "--project", PROJECT, "--keys", str(out / "ssis.keys.age"),
        str(out / "building.keys.age"), "--out", str(elsewhere / "precheck"))
    run("link", "--project", PROJECT, "--keys", str(out / "ssis.keys.age"),
        str(out / "building.keys.age"), "--out", str(elsewhere))
    as_user("choi")
    run("combine", "--project", PROJECT, "--linkmap", str(elsewhere / "linkmap.age"),
        "--payloads", str(out / "ssis.payload.age"), str(out / "building.payload.age"),
        "--out", str(root / "combined.parquet"))
    return {"out": out, "elsewhere": elsewhere, "combined": root / "combined.parquet"}


def _files(*dirs: Path) -> list[str]:
    return sorted(str(p) for d in dirs if d.exists() for p in d.rglob("*") if p.is_file())


def _catalog(run) -> catalog.Catalog:
    return catalog.Catalog.connect(f"sqlite:///{(run.work / 'catalog.db').resolve()}")


def test_link_map_written_elsewhere_is_destroyed_by_close_and_nothing_is_left(world) -> None:
    elsewhere = world.root / "elsewhere"
    made = _pipeline(world, elsewhere)
    assert (elsewhere / "linkmap.age").is_file() and made["combined"].is_file()

    printed = world("project", "close", "--project", PROJECT)

    assert "destruction certificate" in " ".join(printed.split())
    assert _files(made["out"], elsewhere) == []
    assert not made["combined"].exists()
    # What stays in the workspace: the public manifest marked closed (so nothing runs
    # again) and the holders' signed acceptances of it, no data and no key: no project
    # key, share, crosswalk or report.
    left = [Path(p).relative_to(world.work).as_posix()
            for p in _files(world.work / "data", world.work / "keys" / "projects")]
    assert left == [f"data/{PROJECT}/{name}" for name in
                    ("building.accept.json", "project.json", "ssis.accept.json")], left
    with _catalog(world) as cat:
        assert cat.artefacts(PROJECT) == []
        certificate = [e for e in cat.audit_entries()
                       if e["action"] == "project.destruction_certificate"][-1]["details"]
        destroyed = {f["path"]: f["state"] for f in certificate["files"]}
        assert destroyed[str((elsewhere / "linkmap.age").resolve())] == "destroyed"
        assert destroyed[str(made["combined"].resolve())] == "destroyed"
        assert destroyed["exchange/ssis.payload.age"] == "destroyed"
        assert all(len(f["sha256"]) == 64 for f in certificate["files"])
        assert cat.verify_audit().ok


def test_every_stage_is_recorded_under_the_logged_in_person(world, monkeypatch) -> None:
    tokens = {}
    world.work.mkdir(parents=True, exist_ok=True)
    catalog.init_catalog(f"sqlite:///{(world.work / 'catalog.db').resolve()}")
    with _catalog(world) as cat:
        cat.bootstrap_admin("root", PASSWORD)
        for user, role in USERS.items():
            cat.record_user(user, role=role, actor="root")
            cat.set_password(user, PASSWORD, actor="root")
        for user in ("root", *USERS):
            tokens[user] = cat.login(user, PASSWORD)

    def as_user(user: str) -> None:
        monkeypatch.setenv("PSEUDOLINK_SESSION", tokens[user])

    # Nobody logged in: refused before any work, in a catalog that has users.
    refused = world("project", "create", "--spec", str(world.root / "project.toml"), code=2)
    assert "not logged in" in refused
    made = _pipeline(world, world.root / "elsewhere", as_user)
    # A holder may not record a link: refused before the key manager's work starts.
    as_user("hana")
    refused = world("link", "--project", PROJECT, "--keys", str(made["out"] / "ssis.keys.age"),
                    str(made["out"] / "building.keys.age"), "--out",
                    str(world.root / "by-holder"), code=2)
    assert "stage.link refused" in " ".join(refused.split())
    assert not (world.root / "by-holder").exists()

    as_user("po1")
    status = " ".join(world("project", "status", "--project", PROJECT).split())
    for stage in ("create", "prepare", "link", "combine"):
        assert stage in status
    world("project", "close", "--project", PROJECT)
    with _catalog(world) as cat:
        actors = [(e["action"], e["actor"]) for e in cat.audit_entries()
                  if e["target"] == PROJECT and e["action"] != "access.refused"]
    assert ("stage.create", "root") in actors
    assert actors.count(("stage.accept", "hana")) == 2
    assert actors.count(("stage.prepare", "hana")) == 2
    assert ("stage.precheck", "kim") in actors and ("stage.link", "kim") in actors
    assert ("stage.combine", "choi") in actors
    assert actors[-2:] == [("project.close", "po1"),
                           ("project.destruction_certificate", "po1")]
    listed = " ".join(world("project", "list").split())
    assert PROJECT in listed and "closed" in listed

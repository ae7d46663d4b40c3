"""Holders own the project: whoever writes project.json can neither change what a holder
accepted nor learn the project key (issue 14, items 1)."""

from __future__ import annotations

import json
import shutil

import pyrage
import pytest
from typer.testing import CliRunner

import linkage
from pseudolink.cli import holder, project, project_accept  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE, SPEC, SSIS_CSV, party_workspace


def _rewrite_manifest(world) -> None:
    """The agency's attack: identifiers become attributes, the key manager's recipient
    becomes the agency's, so it can read names and open the keys file."""
    path = world.project_dir / "project.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    ssis = data["spec"]["holders"][0]
    for column in ("name", "phone", "birth"):
        del ssis["identifiers"][column]
        ssis["attributes"].append(column)
    agency = data["parties"]["agency"]
    data["parties"]["keymanager"]["age_recipient"] = agency["age_recipient"]
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def test_rewritten_manifest_is_refused_by_the_holder(world):
    _rewrite_manifest(world)
    with pytest.raises(linkage.LinkageError) as refused:
        linkage.prepare(world.project_dir, "ssis", world.root / "ssis.csv", world.exchange,
                        world.keys, PASSPHRASE)
    message = str(refused.value)
    assert "differs from what holder 'ssis' accepted" in message
    assert "holders[0].identifiers.name was removed" in message
    assert "parties.keymanager.age_recipient was" in message
    assert not list(world.exchange.glob("ssis.*"))  # nothing sealed, nothing to send


def test_rewritten_manifest_is_refused_by_the_cli_with_one_error_line(world, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = world.root / "ws"
    shutil.copytree(world.keys, work / "keys")
    shutil.copytree(world.project_dir, work / "data" / "housing-test")
    path = work / "data" / "housing-test" / "project.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["spec"]["holders"][0]["attributes"].append("rrn")
    del data["spec"]["holders"][0]["identifiers"]["rrn"]
    path.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["holder", "prepare", "--project", "housing-test",
                                      "--holder", "ssis", "--input", str(world.root / "ssis.csv"),
                                      "--out", str(world.root / "out"), "--workdir", str(work)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "identifiers.rrn was removed" in result.output
    assert "Traceback" not in result.output and "will send" not in result.output


def test_no_party_but_holders_ever_holds_the_project_key(party_keys, tmp_path, monkeypatch):
    # Every party in its own workspace; project.json, acceptances and shares travel through
    # a shared project folder, as they would through the exchange.
    spaces = {p: party_workspace(party_keys, tmp_path / p, p)
              for p in ("agency", "keymanager", "ssis", "building")}
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    spec = linkage.ProjectSpec.load(tmp_path / "project.toml")
    project_dir = tmp_path / "shared" / spec.id

    # Whoever creates the project seals nothing: there is no secret in its hands to seal.
    def no_secrets(*_args, **_kwargs):
        raise AssertionError("project create encrypted something: it held a secret")

    with monkeypatch.context() as patch:
        patch.setattr(pyrage, "encrypt", no_secrets)
        manifest = linkage.create_project(spec, spaces["agency"], project_dir)
    assert sorted(p.name for p in project_dir.iterdir()) == ["project.json"]
    assert not (spaces["agency"] / "projects").exists()

    with pytest.raises(linkage.LinkageError, match="has not accepted"):
        linkage.prepare(project_dir, "ssis", tmp_path / "none.csv", tmp_path / "out",
                        spaces["ssis"], PASSPHRASE)
    for holder_id in ("ssis", "building"):
        me = linkage.load_party_secret(spaces[holder_id], holder_id, PASSPHRASE)
        linkage.accept_project(manifest, me, spaces[holder_id])

    from linkage.keys.project import load_project_key

    keys = {h: load_project_key(spaces[h], manifest, linkage.load_party_secret(
        spaces[h], h, PASSPHRASE)) for h in ("ssis", "building")}
    assert keys["ssis"] == keys["building"] and len(keys["ssis"]) == 32
    # The key is stored nowhere; the shares open for holders only.
    everything = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(keys["ssis"] in p.read_bytes() for p in everything)
    for party_id in ("agency", "keymanager"):
        secret = linkage.load_party_secret(spaces[party_id], party_id, PASSPHRASE)
        for share in project_dir.glob("*.share.age"):
            with pytest.raises(pyrage.DecryptError):
                pyrage.decrypt(share.read_bytes(), [secret.identity])
        with pytest.raises(linkage.LinkageError):
            load_project_key(spaces[party_id], manifest, secret)


def test_prepare_waits_for_every_holders_acceptance(party_keys, tmp_path):
    spaces = {p: party_workspace(party_keys, tmp_path / p, p) for p in ("ssis", "building")}
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    spec = linkage.ProjectSpec.load(tmp_path / "project.toml")
    manifest = linkage.create_project(spec, spaces["ssis"], tmp_path / "shared")
    linkage.accept_project(manifest, linkage.load_party_secret(spaces["ssis"], "ssis",
                                                               PASSPHRASE), spaces["ssis"])
    with pytest.raises(linkage.LinkageError,
                       match=r"missing the acceptance and key share of building "
                             r"\(expected building.accept.json and building.share.age"):
        linkage.prepare(manifest, "ssis", tmp_path / "ssis.csv", tmp_path / "out",
                        spaces["ssis"], PASSPHRASE)


def test_a_swapped_key_share_is_refused(world, party_keys):
    # The relaying party replaces building's share with one it made itself.
    building = linkage.load_party_public(world.keys, "building")
    ssis = linkage.load_party_public(world.keys, "ssis")
    forged = pyrage.encrypt(b"\0" * 32, [building.recipient(), ssis.recipient()])
    (world.project_dir / "building.share.age").write_bytes(forged)
    with pytest.raises(linkage.LinkageError, match="not the key share holder 'building' signed"):
        linkage.prepare(world.project_dir, "ssis", world.root / "ssis.csv", world.exchange,
                        world.keys, PASSPHRASE)


def test_an_acceptance_signed_by_someone_else_is_refused(world):
    path = world.project_dir / "building.accept.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["accepted_at"] = "2020-01-01T00:00:00+00:00"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(linkage.LinkageError, match="not signed by holder 'building'"):
        linkage.prepare(world.project_dir, "ssis", world.root / "ssis.csv", world.exchange,
                        world.keys, PASSPHRASE)


def test_only_holders_accept_a_project(world):
    agency = linkage.load_party_secret(world.keys, "agency", PASSPHRASE)
    with pytest.raises(linkage.LinkageError, match="only holders accept"):
        linkage.accept_project(world.manifest, agency, world.keys)


def test_accept_shows_the_holders_columns_and_every_fingerprint(tmp_path, party_keys,
                                                                 monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--workdir", str(work)])
        assert result.exit_code == code, result.output
        return result.output

    created = run("project", "create", "--spec", str(tmp_path / "project.toml"))
    assert "no key yet" in created
    shown = " ".join(run("project", "accept", "--project", "housing-test", "--holder",
                         "ssis", "--spec", str(tmp_path / "project.toml"), "--yes").split())
    assert "name as name, rrn as rrn, phone as phone, birth as dob, gender as sex" in shown
    assert "age, sigungu, benefit_type" in shown and "rrn; name+dob+sex" in shown
    for party_id in ("ssis", "building", "keymanager", "agency"):
        public = linkage.load_party_public(work / "keys", party_id)
        assert public.ed25519_public[:16] in shown
    run("project", "accept", "--project", "housing-test", "--holder", "building", "--yes")
    printed = run("holder", "prepare", "--project", "housing-test", "--holder", "ssis",
                  "--input", str(tmp_path / "ssis.csv"), "--out", str(tmp_path / "out"),
                  "--spec", str(tmp_path / "project.toml"))
    flat = " ".join(printed.split())
    assert "ssis.keys.age -> key manager keymanager" in flat
    assert "serial, linkage keys rrn, name+dob+sex" in flat
    assert "ssis.payload.age -> combiner agency" in flat
    assert "serial, age, sigungu, benefit_type" in flat

    # A holder's own copy of the spec that differs from project.json is named and refused.
    own = tmp_path / "own.toml"
    own.write_text(SPEC.replace('"benefit_type"]', '"benefit_type", "income"]'),
                   encoding="utf-8")
    refused = run("project", "accept", "--project", "housing-test", "--holder", "ssis",
                  "--spec", str(own), "--yes", code=2)
    assert "holders[0].attributes" in refused


def test_accept_without_yes_asks_first(tmp_path, party_keys, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    runner = CliRunner()
    runner.invoke(app, ["project", "create", "--spec", str(tmp_path / "project.toml"),
                        "--workdir", str(work)])
    declined = runner.invoke(app, ["project", "accept", "--project", "housing-test",
                                   "--holder", "ssis", "--workdir", str(work)], input="n\n")
    assert declined.exit_code != 0
    assert not list((work / "data").rglob("*.accept.json"))


def test_prepare_names_the_missing_holder_before_printing_any_plan(tmp_path, party_keys,
                                                                   monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    (tmp_path / "project.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "ssis.csv").write_text(SSIS_CSV, encoding="utf-8")
    runner = CliRunner()
    for args in (["project", "create", "--spec", str(tmp_path / "project.toml")],
                 ["project", "accept", "--project", "housing-test", "--holder", "ssis",
                  "--yes"]):
        assert runner.invoke(app, [*args, "--workdir", str(work)]).exit_code == 0
    result = runner.invoke(app, ["holder", "prepare", "--project", "housing-test", "--holder",
                                 "ssis", "--input", str(tmp_path / "ssis.csv"), "--out",
                                 str(tmp_path / "out"), "--workdir", str(work)])
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert flat.startswith("error: project housing-test has no key until every holder")
    assert "key share of building" in flat and "will send" not in flat
    assert not (tmp_path / "out").exists()

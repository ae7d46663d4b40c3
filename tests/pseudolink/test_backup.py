"""`pseudolink backup` and `restore` (issue 24): one encrypted, signed archive of the
workspace that restores elsewhere whole, and is refused when anyone altered or forged it."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from catalog.identity import HASHING_SETTING
from pseudolink.cli import app
from tests.conftest import fresh_postgres_database

runner = CliRunner()
PASSWORD = "correct horse battery staple"
PASSPHRASE = "backup test passphrase"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HASHING_SETTING, "test-only-insecure")
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    for name in ("PSEUDOLINK_SESSION", "PSEUDOLINK_DATABASE_URL", "PSEUDOLINK_WORKDIR",
                 "PSEUDOLINK_PASSPHRASE_FILE"):
        monkeypatch.delenv(name, raising=False)


def _run(*args: str, stdin: str | None = None, code: int = 0, **env: str) -> str:
    result = runner.invoke(app, list(args), input=stdin, env={"COLUMNS": "200", **env})
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def operator(tmp_path: Path) -> tuple[Path, str]:
    """The operator's age identity file and recipient."""
    identity = pyrage.x25519.Identity.generate()
    path = tmp_path / "operator.age-identity"
    path.write_text(f"{identity}\n")
    return path, str(identity.to_public())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A workspace with an administrator logged in, an audit key and a released file."""
    root = tmp_path / "source"
    _run("init", "--workdir", str(root), "--admin", "ada", "--password-stdin",
         stdin=PASSWORD + "\n")
    _run("login", "--user", "ada", "--password-stdin", "--workdir", str(root),
         stdin=PASSWORD + "\n")
    _run("audit", "key", "create", "--workdir", str(root))
    (root / "releases" / "counts.parquet").write_bytes(b"released bytes")
    return root


def archive_digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _backup(source: Path, operator: tuple[Path, str], out: Path) -> Path:
    _run("backup", "--out", str(out), "--to", operator[1], "--workdir", str(source))
    return out


def test_restored_workspace_is_whole_and_its_audit_log_verifies(source, operator, tmp_path):
    archive = _backup(source, operator, tmp_path / "ws.backup")
    assert b"released bytes" not in archive.read_bytes()
    target = tmp_path / "elsewhere" / "ws"
    out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
               str(target), "--public-key", str(source / "keys" / "audit-signing.pub"))
    assert "sqlite -> sqlite" in out
    assert (target / "releases" / "counts.parquet").read_bytes() == b"released bytes"
    assert not (target / "session").exists()  # a login token never travels
    assert (target / "keys").stat().st_mode & 0o777 == 0o700
    assert "audit log intact" in _run("audit", "verify", "--workdir", str(target))
    with sqlite3.connect(target / "catalog.db") as db:
        actions = [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[-1] == "workspace.restore"
    with sqlite3.connect(source / "catalog.db") as db:
        rows = db.execute("SELECT actor, details FROM audit_log "
                          "WHERE action = 'workspace.backup'").fetchall()
    assert len(rows) == 1 and rows[0][0] == "ada"
    assert json.loads(rows[0][1])["archive_sha256"] in archive_digest(archive)
    assert "audit log intact" in _run("audit", "verify", "--workdir", str(source))


def test_backup_needs_a_login(source, operator, tmp_path):
    _run("logout", "--workdir", str(source))
    out = _run("backup", "--out", str(tmp_path / "x"), "--to", operator[1], "--workdir",
               str(source), code=2)
    assert "not logged in" in out
    assert not (tmp_path / "x").exists()


def test_restore_never_overwrites_a_non_empty_workdir(source, operator, tmp_path):
    archive = _backup(source, operator, tmp_path / "ws.backup")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("someone's work")
    out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
               str(target), code=2)
    assert "is not empty" in out
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_altered_archive_is_refused(source, operator, tmp_path):
    archive = _backup(source, operator, tmp_path / "ws.backup")
    data = bytearray(archive.read_bytes())
    data[-100] ^= 1
    archive.write_bytes(bytes(data))
    out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
               str(tmp_path / "t"), code=2)
    assert "cannot decrypt the archive" in out
    assert not (tmp_path / "t").exists()


def _reseal(archive: Path, operator: tuple[Path, str], change) -> None:  # type: ignore[no-untyped-def]
    """Decrypt the archive, let ``change`` edit its members, encrypt it again."""
    identity = pyrage.x25519.Identity.from_str(operator[0].read_text().strip())
    plain = pyrage.decrypt(archive.read_bytes(), [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    change(members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o600
            tar.addfile(info, io.BytesIO(data))
    recipient = pyrage.x25519.Recipient.from_str(operator[1])
    archive.write_bytes(pyrage.encrypt(buffer.getvalue(), [recipient]))


def test_member_changed_by_someone_who_can_open_the_archive_is_refused(source, operator,
                                                                      tmp_path):
    archive = _backup(source, operator, tmp_path / "ws.backup")

    def swap_release(members: dict[str, bytes]) -> None:
        members["workspace/releases/counts.parquet"] = b"other bytes"

    _reseal(archive, operator, swap_release)
    out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
               str(tmp_path / "t"), code=2)
    assert "workspace/releases/counts.parquet differs from the signed manifest" in out
    assert not (tmp_path / "t").exists()


def test_archive_forged_under_another_key_is_refused_against_the_auditors_key(
        source, operator, tmp_path):
    """Anyone can encrypt to the operator's (public) recipient, so a forger can sign a
    whole new manifest with a key of their own: the auditor's public key catches it."""
    archive = _backup(source, operator, tmp_path / "ws.backup")
    forger = Ed25519PrivateKey.generate()

    def forge(members: dict[str, bytes]) -> None:
        import hashlib

        members["workspace/releases/counts.parquet"] = b"other bytes"
        manifest = json.loads(members["manifest.json"])
        for item in manifest["files"]:
            if item["path"] == "workspace/releases/counts.parquet":
                item["sha256"] = hashlib.sha256(b"other bytes").hexdigest()
        manifest["audit_public_key"] = forger.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw).hex()
        body = json.dumps(manifest, sort_keys=True, indent=1).encode()
        members["manifest.json"], members["manifest.sig"] = body, forger.sign(body).hex().encode()

    _reseal(archive, operator, forge)
    out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
               str(tmp_path / "t"), "--public-key", str(source / "keys" / "audit-signing.pub"),
               code=2)
    assert "was not signed by the key in" in out
    assert not (tmp_path / "t").exists()


def test_sqlite_backup_restores_into_postgresql(source, operator, tmp_path):
    archive = _backup(source, operator, tmp_path / "ws.backup")
    target = tmp_path / "pg-ws"
    with fresh_postgres_database("pseudolink_restore") as url:
        out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
                   str(target), "--database-url", url)
        assert "sqlite -> postgresql" in out
        assert "audit log intact" in _run("audit", "verify", "--workdir", str(target))
        assert "workspace healthy" in _run("doctor", "--workdir", str(target))
        # A second restore into the same database is refused: never over a live catalog.
        again = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
                     str(tmp_path / "pg-ws-2"), "--database-url", url, code=2)
        assert "not empty" in again


def test_restore_without_the_workspace_passphrase_writes_nothing(source, operator, tmp_path):
    archive = _backup(source, operator, tmp_path / "ws.backup")
    out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
               str(tmp_path / "t"), code=2, PSEUDOLINK_PASSPHRASE="not the passphrase")
    assert "wrong passphrase" in out
    assert not (tmp_path / "t").exists()
    assert not list(tmp_path.glob(".t.restore-*"))  # the decrypted copy is gone too


def test_postgresql_backup_restores_into_a_new_postgresql_database(operator, tmp_path):
    with fresh_postgres_database("pseudolink_source") as source_url, \
            fresh_postgres_database("pseudolink_target") as target_url:
        root = tmp_path / "pg-source"
        _run("init", "--workdir", str(root), "--database-url", source_url, "--admin", "ada",
             "--password-stdin", stdin=PASSWORD + "\n")
        _run("login", "--user", "ada", "--password-stdin", "--workdir", str(root),
             stdin=PASSWORD + "\n")
        _run("audit", "key", "create", "--workdir", str(root))
        archive = _backup(root, operator, tmp_path / "pg.backup")
        refused = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
                       str(tmp_path / "no-url"), code=2)
        assert "give --database-url" in refused
        target = tmp_path / "pg-target"
        out = _run("restore", str(archive), "--identity", str(operator[0]), "--workdir",
                   str(target), "--database-url", target_url)
        assert "postgresql -> postgresql" in out
        assert target_url.split("/")[-1] in (target / "settings.toml").read_text()
        assert "audit log intact" in _run("audit", "verify", "--workdir", str(target))

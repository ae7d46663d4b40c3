"""Operating a workspace (issue 24): it can move, servers start from anywhere, and
``pseudolink doctor`` names what is wrong with it.

One small demo runs from a "clone" directory with a relative ``--workdir`` (as a
quickstart does); the workspace is then moved elsewhere, and every check below works on
the moved copy (or on a copy of it, when the check damages it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PASSPHRASE = "e2e test passphrase"
DP_RELEASE = "dp-recipients-by-sido-benefit"
ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PSEUDOLINK_PASSPHRASE": PASSPHRASE, "COLUMNS": "200",
           "PYTHONPATH": str(ROOT), **extra}
    env.pop("PSEUDOLINK_WORKDIR", None)
    env.pop("PSEUDOLINK_DATABASE_URL", None)
    return env


def _cli(*args: str, cwd: Path, timeout: float = 300, stdin: str | None = None,
         **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pseudolink", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=_env(**env), timeout=timeout)


@pytest.fixture(scope="module")
def moved(tmp_path_factory) -> Path:
    """A demo workspace made under one directory, then moved to another."""
    base = tmp_path_factory.mktemp("operations")
    clone = base / "clone"
    clone.mkdir()
    # The synthetic privacy gate may (rightly) refuse the synthetic release of one small
    # population; these tests are about operating the workspace, so another seed is tried.
    for seed in ("2026", "7", "11"):
        shutil.rmtree(clone / ".pseudolink", ignore_errors=True)
        # --keep-project: the checks below damage and inspect the project's files.
        result = _cli("demo", "--workdir", ".pseudolink", "--people", "3000", "--seed", seed,
                      "--keep-project", cwd=clone, timeout=900)
        if result.returncode == 0 or "privacy gate" not in result.stderr:
            break
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    target = base / "elsewhere" / "ws"
    target.parent.mkdir()
    shutil.move(clone / ".pseudolink", target)
    shutil.rmtree(clone)
    return target


@pytest.fixture()
def elsewhere(tmp_path) -> Path:
    """A working directory that is neither the workspace nor where it was made."""
    path = tmp_path / "service-cwd"
    path.mkdir()
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_api(workdir: Path, cwd: Path, what: str = "api") -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "serve", what, "--port", str(port),
         "--workdir", str(workdir)],
        cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(server.stderr.read().decode()[-3000:])
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return server, base
        except httpx.TransportError:
            time.sleep(0.3)
    server.terminate()
    raise AssertionError("the API did not start within a minute")


def test_records_are_stored_relative_to_the_workspace(moved):
    with sqlite3.connect(moved / "catalog.db") as db:
        artifacts = [row[0] for row in db.execute("SELECT artifact FROM releases")]
        datasets = [row[0] for row in db.execute("SELECT path FROM datasets")]
    assert artifacts and all(a.startswith("releases/") for a in artifacts), artifacts
    assert datasets and all(p.startswith("data/") for p in datasets), datasets


def test_api_started_from_another_directory_serves_a_moved_workspace(moved, elsewhere):
    server, base = _serve_api(moved, elsewhere)
    try:
        answer = httpx.get(f"{base}/api/3/action/datastore_search",
                           params={"resource_id": DP_RELEASE, "limit": 5}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["records"]
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_exchange_started_from_another_directory_is_ready_on_a_moved_workspace(
        moved, elsewhere):
    server, base = _serve_api(moved, elsewhere, "exchange")
    try:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (moved / "exchange" / "exchange.db").is_file()  # in the workspace, not the cwd
    assert not (elsewhere / ".pseudolink").exists()


def _damaged_copy(moved: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    return copy


def test_doctor_passes_a_healthy_moved_workspace(moved, elsewhere):
    result = _cli("doctor", "--workdir", str(moved), cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "workspace healthy" in result.stdout
    assert "keys readable: 4 parties and the audit signing key" in result.stdout


def test_doctor_names_a_missing_release(moved, elsewhere, tmp_path):
    copy = _damaged_copy(moved, tmp_path)
    (copy / "releases" / f"{DP_RELEASE}.parquet").unlink()
    result = _cli("doctor", "--workdir", str(copy), cwd=elsewhere)
    assert result.returncode == 1
    assert f"release {DP_RELEASE}: releases/{DP_RELEASE}.parquet is missing" in result.stderr
    assert "1 problem(s) found" in result.stderr


def test_doctor_names_a_changed_artefact(moved, elsewhere, tmp_path):
    copy = _damaged_copy(moved, tmp_path)
    with open(copy / "data" / "demo-housing" / "combined.parquet", "ab") as fh:
        fh.write(b"\0")
    result = _cli("doctor", "--workdir", str(copy), cwd=elsewhere)
    assert result.returncode == 1
    assert ("artefact of project demo-housing (combine, combined): "
            "data/demo-housing/combined.parquet has changed") in result.stderr


def test_doctor_names_a_broken_audit_chain(moved, elsewhere, tmp_path):
    copy = _damaged_copy(moved, tmp_path)
    with sqlite3.connect(copy / "catalog.db") as db:
        # The operator with database access: drops the append-only trigger, edits an entry.
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
    result = _cli("doctor", "--workdir", str(copy), cwd=elsewhere)
    assert result.returncode == 1
    assert "audit chain: " in result.stderr and "seq 2" in result.stderr
    assert "audit chain BROKEN" in result.stderr


def test_doctor_names_keys_the_passphrase_does_not_open(moved, elsewhere):
    result = _cli("doctor", "--workdir", str(moved), cwd=elsewhere,
                  PSEUDOLINK_PASSPHRASE="not the workspace passphrase")
    assert result.returncode == 1
    assert "keys not readable with the passphrase given: agency, building" in result.stderr


def _records(workdir: Path, cwd: Path) -> list[dict]:
    server, base = _serve_api(workdir, cwd)
    try:
        answer = httpx.get(f"{base}/api/3/action/datastore_search",
                           params={"resource_id": DP_RELEASE, "limit": 1000}, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]["records"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _logged_in_copy(moved: Path, tmp_path: Path) -> Path:
    """A copy of the demo workspace whose administrator has a password and is logged in."""
    import catalog

    copy = _damaged_copy(moved, tmp_path)
    password = "an operator's long password"
    with catalog.Catalog.connect(f"sqlite:///{copy / 'catalog.db'}") as cat:
        cat.set_password("demo-admin", password, actor="demo-admin")
    login = _cli("login", "--user", "demo-admin", "--password-stdin", "--workdir", str(copy),
                 cwd=tmp_path, stdin=password + "\n")
    assert login.returncode == 0, login.stderr
    return copy


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_demo_backup_restores_elsewhere_and_the_api_answers_as_before(
        moved, elsewhere, tmp_path, database):
    import pyrage

    from tests.conftest import fresh_postgres_database

    source = _logged_in_copy(moved, tmp_path)
    identity = pyrage.x25519.Identity.generate()
    (tmp_path / "operator.key").write_text(f"{identity}\n")
    made = _cli("backup", "--out", str(tmp_path / "demo.backup"), "--to",
                str(identity.to_public()), "--workdir", str(source), cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    restored = tmp_path / "other-host" / "ws"
    with contextlib.ExitStack() as stack:
        extra = []
        if database == "postgresql":
            extra = ["--database-url",
                     stack.enter_context(fresh_postgres_database("pseudolink_restore"))]
        back = _cli("restore", str(tmp_path / "demo.backup"), "--identity",
                    str(tmp_path / "operator.key"), "--workdir", str(restored),
                    "--public-key", str(moved / "keys" / "audit-signing.pub"), *extra,
                    cwd=elsewhere)
        assert back.returncode == 0, back.stdout + back.stderr
        verified = _cli("audit", "verify", "--workdir", str(restored), cwd=elsewhere)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert _cli("doctor", "--workdir", str(restored), cwd=elsewhere).returncode == 0
        assert _records(restored, elsewhere) == _records(moved, elsewhere)

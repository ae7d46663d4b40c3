"""Envelopes opened and sealed in worker processes, side by side (issue 21), keep every
promise of one opened in process: the same tables, the same refusals, nothing decrypted
before the ciphertext matches its signed header."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import linkage
from linkage import age_worker
from linkage.envelope import open_envelopes_to, use_workers
from tests.linkage.conftest import EXPECTED_PAIRS, PASSPHRASE
from tests.linkage.test_envelope import _rewrite
from tests.linkage.test_pipeline import _pairs


@pytest.fixture
def workers(monkeypatch):
    """Every open and seal of two files or more goes to workers, and what they did."""
    monkeypatch.setattr(linkage.envelope, "WORKER_MIN_BYTES", 0)
    monkeypatch.setenv("PSEUDOLINK_THREADS", "2")
    ops: list[str] = []
    real = age_worker.Worker.__init__

    def spy(self, request):
        ops.append(request["op"])
        real(self, request)

    monkeypatch.setattr(age_worker.Worker, "__init__", spy)
    return ops


def _keys_items(world, dest):
    return [(path, "keys", world.manifest.spec.holder_ids, dest / f"{path.name}.parquet")
            for path in world.keys_files()]


def test_pipeline_through_workers_links_and_combines_as_in_process(world, workers):
    world.prepare_all()
    assert workers.count("encrypt") == 4  # each holder's keys and payload
    report = linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys,
                          PASSPHRASE)
    out = world.root / "combined.parquet"
    combined = linkage.combine(world.manifest, world.exchange / "linkmap.age",
                               world.payload_files(), out, world.keys, PASSPHRASE)
    # Two keys files, then the link map and two payloads.
    assert workers.count("decrypt") == 5
    linkmap = linkage.read_envelope(world.exchange / "linkmap.age", world.keys, "agency",
                                    PASSPHRASE, world.manifest)
    assert report.links == 3 and _pairs(world, linkmap) == EXPECTED_PAIRS
    assert combined.rows == 3 and pq.read_table(out).num_rows == 3
    # Sealed in a worker, opened in process (and by any age tool): the same envelope.
    table = linkage.open_envelope(world.exchange / "ssis.keys.age",
                                  linkage.load_party_secret(world.keys, "keymanager",
                                                            PASSPHRASE),
                                  "keys", world.manifest, world.manifest.spec.holder_ids)
    assert table.table.num_rows == 5


def test_worker_refuses_a_rewritten_ciphertext_before_decrypting_it(world, workers):
    world.prepare_all()
    path = world.keys_files()[0]
    # Re-encrypted under the old signed header: the digest differs, so nothing of the new
    # ciphertext may be decrypted (a scratch plaintext would be left for nothing).
    _rewrite(world, path, lambda m, d: (m, d), resign=False)
    opened = []
    real = age_worker.decrypt
    age_worker.decrypt = lambda *a: opened.append(a) or real(*a)  # the in-process path
    try:
        with pytest.raises(linkage.LinkageError, match="does not match its signed header"):
            open_envelopes_to(_keys_items(world, world.root),
                                      linkage.load_party_secret(world.keys, "keymanager",
                                                                PASSPHRASE), world.manifest)
    finally:
        age_worker.decrypt = real
    assert workers.count("decrypt") == 2 and not opened
    assert not (world.root / "ssis.keys.age.parquet").exists()


def test_worker_refuses_altered_data_and_foreign_files(world, workers):
    world.prepare_all()
    keymanager = linkage.load_party_secret(world.keys, "keymanager", PASSPHRASE)
    path = world.keys_files()[0]
    _rewrite(world, path, lambda m, d: (m, d[:-1] + bytes([d[-1] ^ 1])))
    with pytest.raises(linkage.LinkageError, match=r"ssis\.keys\.age: data does not match"):
        open_envelopes_to(_keys_items(world, world.root), keymanager, world.manifest)
    # A file addressed to someone else is refused on its header, before any worker starts.
    before = len(workers)
    items = [(p, "payload", world.manifest.spec.holder_ids, world.root / f"{p.name}.pq")
             for p in world.payload_files()]
    with pytest.raises(linkage.LinkageError, match="addressed to 'agency', not 'keymanager'"):
        open_envelopes_to(items, keymanager, world.manifest)
    assert len(workers) == before


def test_worker_stops_an_oversized_member_and_names_the_file(world, workers):
    world.prepare_all()
    path = world.keys_files()[0]
    _rewrite(world, path, lambda m, d: ({**m, "padding": "x" * (2 << 20)}, d))
    with pytest.raises(linkage.LinkageError,
                       match=r"ssis\.keys\.age: manifest\.json is larger than"):
        open_envelopes_to(_keys_items(world, world.root),
                                  linkage.load_party_secret(world.keys, "keymanager",
                                                            PASSPHRASE), world.manifest)


def test_one_core_or_small_files_stay_in_process(world, monkeypatch):
    world.prepare_all()
    calls = []
    monkeypatch.setattr(age_worker.Worker, "__init__",
                        lambda self, request: calls.append(request))
    monkeypatch.setenv("PSEUDOLINK_THREADS", "2")
    assert not use_workers(world.keys_files())  # a few KiB: not worth it
    monkeypatch.setattr(linkage.envelope, "WORKER_MIN_BYTES", 0)
    monkeypatch.setenv("PSEUDOLINK_THREADS", "1")
    assert not use_workers(world.keys_files())
    linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys, PASSPHRASE)
    assert calls == []


def _stage_with_a_blocked_worker(tmp_path: Path, identity: str = "") -> tuple[subprocess.Popen,
                                                                          int | None]:
    """A stage process whose envelope worker blocks on a FIFO no one writes, as a long
    decryption would run on; returns the stage and the worker's pid (None if none came)."""
    fifo = tmp_path / "never.age"
    os.mkfifo(fifo)
    script = (
        "from linkage import age_worker\n"
        f"age_worker.run({{'op': 'decrypt', 'path': {str(fifo)!r}, 'size': 0, "
        f"'sha256': '0', 'identity': {identity!r}, 'limit': 0, "
        f"'plain_path': {str(tmp_path / 'plain.tar')!r}}})\n")
    stage = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    worker = None
    deadline = time.monotonic() + 20
    while worker is None and time.monotonic() < deadline:
        children = Path(f"/proc/{stage.pid}/task/{stage.pid}/children")
        found = children.read_text().split() if children.exists() else []
        worker = int(found[0]) if found else None
        time.sleep(0.05)
    return stage, worker


def test_the_identity_never_shows_in_a_workers_command_line_or_environment(tmp_path):
    # Anyone on the host can read /proc/PID/cmdline; the identity travels on stdin only.
    marker = "AGE-SECRET-KEY-1NEVERLISTEDINPROC"
    stage, worker = _stage_with_a_blocked_worker(tmp_path, marker)
    try:
        assert worker is not None, "the worker never started"
        time.sleep(0.5)  # past reading its request
        for view in ("cmdline", "environ"):
            assert marker.encode() not in Path(f"/proc/{worker}/{view}").read_bytes(), view
    finally:
        stage.kill()
        stage.wait()


def test_a_worker_dies_with_its_stage_killed_with_9(tmp_path):
    # kill -9 of a stage must not leave a worker decrypting into (or hashing) the scratch
    # the reaper removes: the kernel kills the worker with its parent.
    stage, worker = _stage_with_a_blocked_worker(tmp_path)
    try:
        assert worker is not None, "the worker never started"
        time.sleep(0.5)  # past its start, blocked in the ciphertext check
        os.kill(stage.pid, signal.SIGKILL)
        stage.wait()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
            if Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break  # killed, waiting to be reaped by init
            time.sleep(0.05)
        alive = Path(f"/proc/{worker}").exists() and Path(
            f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        if alive:
            os.kill(worker, signal.SIGKILL)
        assert not alive, "the worker outlived its stage"
    finally:
        stage.kill()


def test_the_identity_goes_to_a_worker_only_after_its_ciphertext_matched(world, tmp_path):
    # A worker started before the keys unlock must not be handed the identity for a file
    # that does not match its signed header: the keys are never even asked for.
    world.prepare_all()
    path = world.keys_files()[0]
    header = linkage.envelope._read_header(path)[1]
    request = {"op": "decrypt", "path": str(path), "size": header.ciphertext_size,
               "sha256": header.ciphertext_sha256, "limit": header.ciphertext_size,
               "plain_path": str(tmp_path / "plain.tar")}
    keymanager = linkage.load_party_secret(world.keys, "keymanager", PASSPHRASE)
    asked: list[bool] = []

    def identity() -> str:
        asked.append(True)
        return str(keymanager.identity)

    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(age_worker.Refused, match="does not match its signed header"):
        age_worker.Worker(request).finish(identity)
    assert asked == [] and not (tmp_path / "plain.tar").exists()
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    answer = age_worker.Worker(request).finish(identity)
    assert asked == [True] and len(answer["members"]) == 2


def test_keys_that_do_not_unlock_stop_the_workers_and_name_the_passphrase(world, workers):
    world.prepare_all()
    with pytest.raises(linkage.LinkageError, match="wrong passphrase"):
        linkage.link(world.manifest, world.keys_files(), world.exchange, world.keys,
                     "not the passphrase at all")
    assert workers.count("decrypt") == 2
    assert not (world.exchange / "linkmap.age").exists()
    # No worker is left waiting for an identity that will never come.
    assert not _live_workers()


def _live_workers() -> list[int]:
    """Pids of this process's envelope workers still running (any of its threads' children)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == os.getpid() and stat[0] != "Z" and \
                    b"age_worker" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found

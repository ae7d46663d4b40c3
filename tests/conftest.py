"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Property tests check what holds, not how fast: Hypothesis's 200 ms deadline per example
# would fail one on a stall of the shared cores (two workers, servers beside them).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
# The suite's Spark JVMs start without a class-data-sharing archive, as they always did, and
# write none into the user's cache; tests/linkage/test_spark_startup.py tries the archive
# in processes of its own.
os.environ.setdefault("PSEUDOLINK_SPARK_ARCHIVE", "off")


def skip_unless_ci(reason: str) -> None:
    """Skip outside CI; under CI=true a missing component is a failure, not a skip."""
    if IN_CI:
        pytest.fail(f"required component missing under CI=true: {reason}")
    pytest.skip(reason)


POSTGRES_ADMIN_URL = os.environ.get(
    "PSEUDOLINK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_postgres_database(prefix: str = "pseudolink_test") -> Iterator[str]:
    """A new PostgreSQL database with a random name, dropped on exit; its URL is yielded.

    Outside CI an unreachable server skips the test; under CI=true it fails it.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    name = f"{prefix}_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        skip_unless_ci(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs two workers), each worker gets a temp directory
    of its own: tests that look for what a killed stage left in the temp directory (scratch,
    Spark's local dirs) must see their own stages' leftovers, not the other worker's. And
    the worker's environment is made a serial run's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    import shutil
    import tempfile

    # xdist hands its workers COLUMNS=80, which Rich's consoles freeze at import; a serial
    # run has none, and tests that pass their own width through the environment rely on it.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
    own = tempfile.mkdtemp(prefix=f"pltest-{worker}-")
    os.environ["TMPDIR"] = own
    os.environ["SPARK_LOCAL_DIRS"] = own
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    config.add_cleanup(lambda: shutil.rmtree(own, ignore_errors=True))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start JVMs (Spark) or a JupyterHub run on one worker, one at a time: two
    standalone clusters or two hubs at once would only compete for the two cores and for
    memory (`--dist loadgroup` keeps a group on one worker)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("spark") or "spark" in item.nodeid.lower() \
                or fixtures & {"spark_cluster", "spark_engine"}:
            item.add_marker(pytest.mark.xdist_group("spark"))
        elif item.nodeid.startswith("tests/analysis_env/test_room_"):
            item.add_marker(pytest.mark.xdist_group("room"))

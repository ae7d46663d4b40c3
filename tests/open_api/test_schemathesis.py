"""Schemathesis against the live API: every operation in /openapi.json, the compatibility
faces included, answers without a server error and as its document says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from open_api import create_app
from tests.conftest import skip_unless_ci
from tests.open_api.conftest import DISTRICTS, LiveServer, write_release

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")


def test_schemathesis_finds_no_server_error_or_schema_violation(source, keys, tmp_path):
    executable = Path(sys.executable).parent / "schemathesis"
    if not executable.exists():
        skip_unless_ci("schemathesis is not installed")
    # Data for the operations to find: ids that fuzzing may well hit ("0", "a") among others.
    for release_id in ("districts", "0", "a"):
        source.add(write_release(tmp_path / f"{release_id}.parquet", DISTRICTS, id=release_id))
    source.add(write_release(tmp_path / "people.parquet", pa.table({"x": [1, 2]})))
    with LiveServer(create_app(source, keys=keys)) as live:
        run = subprocess.run(
            [str(executable), "run", f"{live.url}/openapi.json",
             "--checks", ",".join(CHECKS),
             "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "20"),
             # Not "coverage": schemathesis 4.32 itself fails there with a SystemError in
             # Python 3.11 (AST recursion depth) on some schemas; all its cases had passed.
             "--phases", "examples,fuzzing",
             "--seed", "1", "--workers", "2", "--no-color", "--request-timeout", "30"],
            capture_output=True, text=True, timeout=170,
            cwd=tmp_path,  # its reports and example database stay out of the project
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]

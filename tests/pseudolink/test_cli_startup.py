"""The CLI starts fast: `pseudolink --help` and each verb's help load no heavy library."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "sdv", "torch", "pyspark", "sklearn", "streamlit", "duckdb", "opendp")

_PROBE = """
import sys
sys.argv = ["pseudolink", *sys.argv[1:]]
from pseudolink.cli import main
try:
    main()
except SystemExit:
    pass
print("LOADED", *sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("args", [["--help"], ["link", "--help"], ["holder", "prepare", "--help"],
                                  ["release", "dp", "--help"], ["serve", "api", "--help"]])
def test_help_loads_no_heavy_library(args):
    run = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
                         capture_output=True, text=True, timeout=120)
    loaded = [line for line in run.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded == ["LOADED"], loaded

"""Everything engine-specific lives behind the engine interface (issue 18): outside
``linkage/engines/`` no module of the linkage package imports DuckDB or Spark itself."""

from __future__ import annotations

import ast
from pathlib import Path

import linkage

ENGINE_LIBRARIES = {"duckdb", "pyspark"}


def _engine_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names} & ENGINE_LIBRARIES
    return found


def test_no_module_outside_the_engines_imports_an_engine_library():
    root = Path(linkage.__file__).parent
    importing = {path.relative_to(root).as_posix(): _engine_imports(path)
                 for path in root.rglob("*.py")
                 if "engines" not in path.relative_to(root).parts}
    assert {name for name, found in importing.items() if found} == set()


def test_the_scan_sees_every_way_of_importing(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nimport duckdb as d\nfrom pyspark.sql import functions\n"
                      "def f():\n    import pyspark\n    from . import duckdb\n")
    assert _engine_imports(module) == {"duckdb", "pyspark"}
    module.write_text("import os\nfrom .duckdb import x\n")
    assert _engine_imports(module) == set()

"""A command's plaintext scratch lives in its workspace from the very first run, never in
the shared temp dir: the first `demo` on a fresh workspace used to spill to /tmp."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_FIRST_RUN = """
import sys
from pathlib import Path
from linkage import scratch
from pseudolink.cli.app import ws

space = ws(Path(sys.argv[1]))
print(space.root.exists())
with scratch.private_dir("prepare") as folder:
    print(folder.parent)
"""


def test_scratch_of_a_fresh_workspace_is_inside_it(tmp_path):
    fresh = tmp_path / "new-workspace"
    out = subprocess.run([sys.executable, "-c", _FIRST_RUN, str(fresh)], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    created_early, parent = out.stdout.split()
    # Choosing the workspace creates nothing by itself (a command may still refuse)...
    assert created_early == "False"
    # ...and the first scratch folder goes inside it, 0700, not to /tmp.
    assert Path(parent) == fresh / "scratch"
    assert (fresh / "scratch").stat().st_mode & 0o777 == 0o700

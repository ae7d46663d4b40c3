"""Each researcher's room on disk: the approved extracts read-only, a writable outputs/.

Layout under ``room_root/<user>/`` (owner:group, mode):

    .            root:<uid>  0750   nobody else may enter
    data/        root:<uid>  0550   approved extracts, only the approved columns, 0440
    outputs/     <uid>:<uid> 0700   what the researcher may ask the airlock to release;
                                    outputs/.airlock/ holds requests for the intake
                                    (see ``intake`` and ``analysis_env.room_side``)
    home/        <uid>:<uid> 0700   HOME, Jupyter's runtime files
    .run/        root:<uid>  1770   the sockets of the bridge (see ``bridge``)
    .lab/        root:<uid>  0550   JupyterLab settings overrides: the Airlock menu (``tools``)

The researcher's process runs as ``<uid>``, never root, so file modes hold against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from analysis_env.errors import AnalysisEnvError

#: A researcher's name is one folder under the room root, kept exactly as the catalog
#: has it (case and all): no slash or control character, no leading dot (the room
#: root's own folders start with one).
USERNAME_PATTERN = r"^[^./\x00-\x1f\x7f][^/\x00-\x1f\x7f]*\Z"


def uid_for(hub_dir: Path, uid_base: int, user: str) -> int:
    """A stable uid for ``user``, assigned once and kept in the hub's directory."""
    path = Path(hub_dir) / "uids.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    table = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if user not in table:
        table[user] = uid_base + len(table)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(table, indent=1), encoding="utf-8")
        os.replace(temporary, path)
    return int(table[user])


def own(path: Path, uid: int, gid: int, mode: int) -> None:
    """Owner, group and mode together: in a room they are the access control."""
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def harden_workspace(workspace: Path, room_root: Path) -> None:
    """Let researchers' uids pass through the workspace to their room and nowhere else."""
    workspace = Path(workspace)
    for parent in [room_root, *room_root.parents]:
        if parent == parent.parent:
            break
        if parent.exists() and parent.stat().st_uid == 0:
            # Traverse only (no listing): a path the researcher does not know stays hidden.
            os.chmod(parent, parent.stat().st_mode | 0o011)
        if parent == workspace:
            break
    for name in ("keys", "data", "releases", "logs", "airlock", "hub", "catalog.db"):
        path = workspace / name
        if path.exists():
            os.chmod(path, path.stat().st_mode & 0o700)


def prepare_room(room_root: Path, user: str, uid: int,
                 extracts: dict[str, tuple[Path, list[str]]]) -> Path:
    """Make (or refresh) ``user``'s room with exactly the approved columns of each extract.

    ``extracts`` maps a dataset id to its file and approved columns. Earlier extracts
    are removed first, so a narrowed approval never leaves old columns behind.
    """
    if not re.match(USERNAME_PATTERN, user):
        raise AnalysisEnvError(f"the user name {user!r} cannot name a room (one folder, no "
                               "leading dot)")
    home = Path(room_root) / user
    run = home / ".run"
    for path in (home, home / "data", home / "outputs", home / "home", run):
        path.mkdir(parents=True, exist_ok=True)
    own(home, 0, uid, 0o750)
    own(home / "outputs", uid, uid, 0o700)
    own(home / "home", uid, uid, 0o700)
    own(run, 0, uid, 0o1770)
    data = home / "data"
    os.chmod(data, 0o750)
    for old in data.iterdir():
        old.unlink() if old.is_file() else shutil.rmtree(old)
    manifest = {}
    for dataset_id, (source, columns) in sorted(extracts.items()):
        try:
            table = pq.read_table(source, columns=list(columns))
        except (OSError, KeyError, ValueError) as exc:
            raise AnalysisEnvError(f"dataset {dataset_id!r} at {source}: cannot read the "
                                   f"approved columns {columns}: {exc}") from None
        target = data / f"{dataset_id}.parquet"
        temporary = data / f".{dataset_id}.parquet.tmp"
        pq.write_table(table, temporary)
        own(temporary, 0, uid, 0o440)
        os.replace(temporary, target)
        manifest[target.name] = {"dataset": dataset_id, "columns": list(columns),
                                 "rows": table.num_rows,
                                 "sha256": hashlib.sha256(target.read_bytes()).hexdigest()}
    (data / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False),
                                        encoding="utf-8")
    own(data / "MANIFEST.json", 0, uid, 0o440)
    own(data, 0, uid, 0o550)
    return home

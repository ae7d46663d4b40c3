"""Files the catalog records belong to the workspace, not to the directory a command ran
in (issue 24): stored relative to the root, read back where the workspace lies now."""

from __future__ import annotations

from pathlib import Path

import catalog
from catalog.database import make_engine


def _stored(url: str, table: str, column: str) -> list[str]:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            return [row[0] for row in db.execute(text(f"SELECT {column} FROM {table}"))]
    finally:
        engine.dispose()


def test_release_recorded_inside_the_workspace_follows_the_workspace(
        cat: catalog.Catalog, dataset: str, database_url: str, tmp_path: Path) -> None:
    old, new = tmp_path / "old-ws", tmp_path / "new-ws"
    with catalog.Catalog.connect(database_url, root=old) as at_old:
        info = at_old.record_release(
            "counts", dataset_id=dataset, form="dp_aggregate", title="Counts",
            artifact=str(old / "releases" / "counts.parquet"), checksum="0" * 64,
            parameters={}, actor="officer")
        assert info.artifact == str(old / "releases" / "counts.parquet")
    assert _stored(database_url, "releases", "artifact") == ["releases/counts.parquet"]
    moved = catalog.Catalog.connect(database_url, root=new)
    try:
        assert moved.get_release("counts").artifact == str(new / "releases" / "counts.parquet")
    finally:
        moved.close()


def test_files_outside_the_workspace_keep_their_absolute_path(
        cat: catalog.Catalog, dataset: str, database_url: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared" / "combined.parquet"
    at_root = catalog.Catalog.connect(database_url, root=tmp_path / "ws")
    try:
        at_root.register_dataset("outside", title="Outside", path=str(elsewhere),
                                 columns={"link_id": "other"}, project_id=None, lineage={},
                                 actor="agency")
        assert at_root.dataset("outside").path == str(elsewhere)
    finally:
        at_root.close()
    assert str(elsewhere) in _stored(database_url, "datasets", "path")


def test_a_release_recorded_relative_to_an_old_working_directory_is_named_with_its_file(
        cat: catalog.Catalog, dataset: str, database_url: str, tmp_path: Path) -> None:
    """Before issue 24 a demo run with ``--workdir .pseudolink`` recorded
    ``.pseudolink/releases/...``; doctor says where that file is now."""
    root = tmp_path / "ws"
    (root / "releases").mkdir(parents=True)
    (root / "releases" / "counts.parquet").write_bytes(b"counts")
    cat.record_release("counts", dataset_id=dataset, form="dp_aggregate", title="Counts",
                       artifact=str(root / "releases" / "counts.parquet"), checksum="0" * 64,
                       parameters={}, actor="officer")
    # What an old version wrote: the path as given, relative to the command's directory.
    from sqlalchemy import text

    engine = make_engine(database_url)
    try:
        with engine.begin() as db:
            db.execute(text("UPDATE releases SET artifact = :old WHERE id = 'counts'"),
                       {"old": ".pseudolink/releases/counts.parquet"})
    finally:
        engine.dispose()
    with catalog.Catalog.connect(database_url, root=root) as at_root:
        problems = at_root.file_problems()
    assert problems == [
        "release counts: .pseudolink/releases/counts.parquet is missing; it was recorded "
        "relative to the directory a command ran in, before paths belonged to the workspace; "
        "the file is at releases/counts.parquet: record it again (publish the release again)"]

"""The CLI's half of issue 16: each linkage stage, and the files it wrote, in the catalog.

linkage knows nothing of the catalog, so the commands call :func:`stage_actor` before a
stage (a refused actor does no work) and :func:`record` after it. The actor is the
logged-in user (``pseudolink login``), checked against the stage's row of the role
matrix; only in a workspace whose catalog has no users at all is it the party whose key
the stage unlocked (``party:<id>``), since nobody there can log in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pseudolink.cli.app import fail
from pseudolink.settings import Workspace

#: linkage.envelope writes each sealed file's signed header to ``<file>.sig``.
ENVELOPE_HEADER_SUFFIX = ".sig"


def open_catalog(space: Workspace):  # type: ignore[no-untyped-def]
    """This workspace's catalog, created or upgraded first (a party workspace may lack one)."""
    import catalog

    catalog.init_catalog(space.database_url)
    return catalog.Catalog.connect(space.database_url, root=space.root)


def stage_actor(space: Workspace, stage: str, party: str) -> str:
    """Who runs ``stage`` (an action ``stage.<stage>``, or ``project.close``); exit 2 if refused."""
    import catalog
    from pseudolink.cli.session import acting_user, session_token

    action = stage if "." in stage else f"stage.{stage}"
    if session_token(space) is not None:
        actor = acting_user(space)
        with open_catalog(space) as cat:
            role = cat.user_role(actor)
        if not catalog.permits(role, action):
            allowed = ", ".join(sorted(catalog.PERMISSIONS[action]))
            raise fail(f"{action} refused: user {actor!r} has role {role!r}; only {allowed} "
                       "may do this")
        return actor
    with open_catalog(space) as cat:
        if any(user.active for user in cat.list_users()):
            raise fail("not logged in: run `pseudolink login` (this workspace's catalog has "
                       "users, so every stage is recorded under a person)")
    return f"{catalog.PARTY_ACTOR}{party}"


def with_headers(outputs: Mapping[str, str | Path]) -> dict[str, Path]:
    """The files a stage wrote that exist, each sealed one with its signed header.

    A sealed file's header lies beside it (linkage's envelopes); it names the project
    and its parties, so it lives and dies with its file.
    """
    files = {}
    for label, path in outputs.items():
        if Path(path).is_file():
            files[label] = Path(path)
        elif Path(path).is_dir():
            # A Parquet dataset written by Spark's executors: each part is recorded (and
            # destroyed when the project closes) like a file.
            for part in sorted(Path(path).glob("*.parquet")):
                files[f"{label} {part.name}"] = part
        header = Path(f"{path}{ENVELOPE_HEADER_SUFFIX}")
        if header.is_file():
            files[f"header {label}"] = header
    return files


def record(space: Workspace, manifest: Any, stage: str, actor: str, party: str,
           outputs: Mapping[str, str | Path] | None = None,
           details: Mapping[str, Any] | None = None) -> None:
    """Record the stage and its files (digests, never contents); exit 2 if refused."""
    import catalog

    spec = manifest.spec
    written = with_headers(outputs or {})
    try:
        with open_catalog(space) as cat:
            cat.ensure_project(manifest.id, purpose=spec.purpose, mode=spec.mode,
                               spec=spec.to_dict(), actor=actor)
            cat.record_stage(manifest.id, stage, actor=actor, root=space.root, holder=party,
                             outputs=written, details=details)
    except catalog.CatalogError as exc:
        raise fail(f"{stage} finished, but the catalog did not record it: {exc}") from None


def destroy(space: Workspace, manifest: Any, actor: str) -> dict[str, Any]:
    """Shred every file the catalog lists for the project; the certificate, as audited."""
    import catalog

    spec = manifest.spec
    try:
        with open_catalog(space) as cat:
            cat.ensure_project(manifest.id, purpose=spec.purpose, mode=spec.mode,
                               spec=spec.to_dict(), actor=actor, permission="project.close")
            return cat.destroy_project(manifest.id, actor=actor, root=space.root)
    except catalog.CatalogError as exc:
        raise fail(f"project {manifest.id}: {exc}") from None

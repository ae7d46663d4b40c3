"""``pseudolink doctor``: is this workspace whole, and what to do where it is not (issue 24).

Checks, each finding one line naming the thing and the fix: the catalog reachable and at
the newest schema; every file the catalog recorded (live releases, project artefacts)
present with its digest; the audit chain intact against its signed checkpoints; the keys
readable with the passphrase (when one is given in the environment: doctor never
prompts, so that cron and monitoring can run it); free disk; and which servers answer on
their ports. Exit 0 when nothing is wrong, 1 with the list otherwise (2: a usage error).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, err_console, ws
from pseudolink.settings import Workspace

#: Exit code when the workspace has problems: a finding, not a usage error.
EXIT_UNHEALTHY = 1
#: Below this much free space (or 5 % of the disk) new stages and backups may fail.
MIN_FREE_BYTES = 1 << 30


@dataclass
class Findings:
    """What doctor found: problems fail it, notes do not."""

    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def examine(space: Workspace, *, passphrase: str | None = None,
            ports: dict[str, int] | None = None) -> Findings:
    """Every check on ``space``; never raises for what it finds."""
    import catalog

    found = Findings()
    if not space.root.is_dir():
        found.problems.append(f"no workspace at {space.root}: run `pseudolink init` or "
                              "`pseudolink restore`")
        return found
    try:
        cat = catalog.Catalog.connect(space.database_url, root=space.root.resolve())
    except (catalog.CatalogError, OSError) as exc:
        found.problems.append(f"catalog: {exc}")
    except Exception as exc:  # an unreachable server surfaces as the driver's own error
        found.problems.append(f"catalog cannot be opened ({type(exc).__name__}): check the "
                              "database runs and the workspace's database_url")
    else:
        with cat:
            _catalog_checks(cat, space, found)
    _key_checks(space, passphrase, found)
    _disk_check(space.root, found)
    _port_notes(ports or {}, found)
    return found


def _catalog_checks(cat, space: Workspace, found: Findings) -> None:  # type: ignore[no-untyped-def]
    import catalog

    found.problems.extend(cat.readiness())
    files = cat.recorded_files()
    file_problems = cat.file_problems()
    found.problems.extend(file_problems)
    if not file_problems:
        found.ok.append(f"{len(files)} recorded files present with their digests")
    public = space.keys / "audit-signing.pub"
    source = None
    if public.exists():
        try:
            source = catalog.CheckpointFile(space.audit_checkpoints,
                                            catalog.load_audit_public(public))
        except catalog.CatalogError as exc:
            found.problems.append(f"audit public key: {exc}")
        if source is not None and not source.path.exists():
            found.problems.append(f"audit checkpoints: {source.path} is missing; restore it "
                                  "from a backup or the witness's copy")
            source = None
    verdict = cat.verify_audit(source)
    if not verdict.ok:
        found.problems.extend(f"audit chain: {p}" for p in verdict.problems)
        found.problems.append("audit chain BROKEN: compare with the last backup and a "
                              "witness's checkpoint copy (`pseudolink audit verify`)")
    elif source is None:
        found.problems.append("audit chain NOT ANCHORED: no audit signing key; create one "
                              "with `pseudolink audit key create`")
    elif verdict.unanchored:
        found.notes.append(f"audit chain: {verdict.unanchored} newest entries await a signed "
                           "checkpoint (`pseudolink audit checkpoint`, e.g. from cron)")
    else:
        found.ok.append(f"audit chain intact: {verdict.entries} entries, all checkpointed")


def _key_checks(space: Workspace, passphrase: str | None, found: Findings) -> None:
    parties = sorted(p.name.removesuffix(".secret.key")
                     for p in (space.keys / "parties").glob("*.secret.key"))
    has_audit_key = (space.keys / "audit-signing.key").exists()
    if passphrase is None:
        if parties or has_audit_key:
            found.notes.append("keys not opened: set PSEUDOLINK_PASSPHRASE(_FILE) to check "
                               "that the passphrase still opens them")
        return
    import catalog
    import linkage

    unreadable = []
    for party in parties:
        try:
            linkage.load_party_secret(space.keys, party, passphrase)
        except Exception:  # wrong passphrase, damaged file: both mean "cannot be opened"
            unreadable.append(party)
    if has_audit_key:
        try:
            catalog.load_audit_signer(space.keys, passphrase)
        except Exception:
            unreadable.append("audit signing key")
    if unreadable:
        found.problems.append(f"keys not readable with the passphrase given: "
                              f"{', '.join(unreadable)}; check the passphrase, or restore "
                              "keys/ from a backup")
    else:
        found.ok.append(f"keys readable: {len(parties)} parties"
                        + (" and the audit signing key" if has_audit_key else ""))


def _disk_check(root: Path, found: Findings) -> None:
    usage = shutil.disk_usage(root)
    if usage.free < min(MIN_FREE_BYTES, usage.total // 20) or usage.free < usage.total // 100:
        found.problems.append(f"disk: only {usage.free / 2**30:.1f} GiB free under {root}; "
                              "free space before the next stage or backup")
    else:
        found.ok.append(f"disk: {usage.free / 2**30:.1f} GiB free")


def _port_notes(ports: dict[str, int], found: Findings) -> None:
    import httpx

    for name, port in sorted(ports.items()):
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
        except httpx.HTTPError:
            found.notes.append(f"{name}: nothing answers on port {port}")
            continue
        if answer.status_code == 200:
            found.ok.append(f"{name}: ready on port {port}")
        elif answer.status_code == 503:
            found.problems.append(f"{name} on port {port} is up but not ready; see its log")
        else:
            found.notes.append(f"{name}: port {port} answers, but not as a pseudolink server")


def _passphrase_from_env() -> str | None:
    from linkage.keys.passphrase import read_passphrase_file

    path = os.environ.get("PSEUDOLINK_PASSPHRASE_FILE")
    if path:
        return read_passphrase_file(path)
    return os.environ.get("PSEUDOLINK_PASSPHRASE") or None


@app.command()
def doctor(
    workdir: WorkdirOption = None,
    port: Annotated[list[str] | None, typer.Option(
        "--port", help="A server to ask on loopback, as NAME=PORT (repeatable), e.g. "
        "api=8000; its /readyz must answer.")] = None,
) -> None:
    """Check the workspace: schema, recorded files and digests, audit chain, keys, disk.

    Exit 0 when healthy; 1 with one line per problem and how to fix it.
    """
    from pseudolink.cli.app import fail

    ports = {}
    for item in port or []:
        name, _, number = item.partition("=")
        if not name or not number.isdigit():
            raise fail(f"--port {item!r}: give NAME=PORT, e.g. api=8000")
        ports[name] = int(number)
    try:
        secret = _passphrase_from_env()
    except Exception as exc:
        raise fail(f"PSEUDOLINK_PASSPHRASE_FILE: {exc}") from None
    found = examine(ws(workdir), passphrase=secret, ports=ports)
    for line in found.ok:
        console.print(f"[green]ok[/]       {line}", highlight=False, soft_wrap=True)
    for line in found.notes:
        console.print(f"[yellow]note[/]     {line}", highlight=False, soft_wrap=True)
    for line in found.problems:
        err_console.print(f"[bold red]PROBLEM[/]  {line}", highlight=False, soft_wrap=True)
    if found.problems:
        err_console.print(f"{len(found.problems)} problem(s) found", highlight=False)
        raise typer.Exit(EXIT_UNHEALTHY)
    console.print("workspace healthy", highlight=False)

"""``pseudolink audit``: check, anchor and export the catalog's hash-chained audit log.

The chain alone cannot survive the database's owner, who can recompute every hash;
``audit key create`` makes the signing key the database never holds, ``audit
checkpoint`` (cron, and every catalog process that holds the key, after each write)
signs the chain head into ``logs/audit-checkpoints.jsonl``, and ``audit verify``
checks the chain against every signed line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, err_console, fail, passphrase, ws

#: Exit code when the log is readable but broken: not a usage error, a finding.
EXIT_TAMPERED = 1
#: Exit code when the chain is consistent but entries lack a signed checkpoint: nothing
#: outside the database vouches for them, so they are not called intact.
EXIT_UNANCHORED = 3

group = typer.Typer(help="The catalog's append-only, hash-chained audit log.",
                    no_args_is_help=True)
app.add_typer(group, name="audit")
key_group = typer.Typer(help="The audit signing key (Ed25519, kept out of the database).",
                        no_args_is_help=True)
group.add_typer(key_group, name="key")


@key_group.command("create")
def key_create(workdir: WorkdirOption = None) -> None:
    """Make the workspace's audit signing key and sign the current chain head with it."""
    import catalog

    space = ws(workdir)
    with catalog.Catalog.connect(space.database_url) as cat:
        try:
            space.keys.mkdir(parents=True, exist_ok=True)
            space.keys.chmod(0o700)
            signer = catalog.create_audit_key(space.keys, passphrase(confirm=True))
        except catalog.CatalogError as exc:
            raise fail(str(exc)) from None
        seq, _ = cat.checkpoint_audit(catalog.Anchor(signer, space.audit_checkpoints))
    console.print(f"audit signing key {signer.fingerprint} created in {space.keys}; chain "
                  f"head at seq {seq} signed into {space.audit_checkpoints}. Keep a copy of "
                  "audit-signing.pub (and of the checkpoint file, e.g. on WORM storage) "
                  "away from this host.")


@group.command("checkpoint")
def checkpoint(workdir: WorkdirOption = None) -> None:
    """Sign the current chain head into the append-only checkpoint file (run it from cron)."""
    import catalog

    space = ws(workdir)
    try:
        signer = catalog.load_audit_signer(space.keys, passphrase())
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    with catalog.Catalog.connect(space.database_url) as cat:
        seq, _ = cat.checkpoint_audit(catalog.Anchor(signer, space.audit_checkpoints))
    console.print(f"chain head at seq {seq} signed (key {signer.fingerprint})")


@group.command("verify")
def verify(
    workdir: WorkdirOption = None,
    checkpoints: Annotated[Path | None, typer.Option(
        "--checkpoints", help="Checkpoint file to check against, e.g. a WORM or witness copy "
        "(default: the workspace's logs/audit-checkpoints.jsonl).")] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The audit public key, e.g. an auditor's own copy "
        "(default: the workspace's keys/audit-signing.pub).")] = None,
    by_actor: Annotated[bool, typer.Option(
        "--by-actor", help="Then show who took which actions, each person with their "
                           "role (needs a login with the audit.read right).")] = False,
) -> None:
    """Recompute the hash chain and check it against every signed checkpoint.

    Exit 0 when intact; 1 naming the first changed, deleted, inserted or rewritten
    entry (or the missing tail); 3 when entries come after the last signed checkpoint.
    """
    import catalog

    space = ws(workdir)
    reader = None
    if by_actor:
        from pseudolink.cli.session import acting_user

        reader = acting_user(space)
        with catalog.Catalog.connect(space.database_url) as cat:
            try:
                cat.require(reader, "audit.read")
            except catalog.CatalogError as exc:
                raise fail(str(exc)) from None
    public_path = public_key or space.keys / "audit-signing.pub"
    source = None
    if checkpoints is not None and not public_path.exists():
        raise fail(f"--checkpoints needs the audit public key: no {public_path}; give the "
                   "auditor's copy with --public-key")
    if public_key is not None or public_path.exists():
        try:
            source = catalog.CheckpointFile(checkpoints or space.audit_checkpoints,
                                            catalog.load_audit_public(public_path))
        except catalog.CatalogError as exc:
            raise fail(str(exc)) from None
        if not source.path.exists():
            raise fail(f"no checkpoint file at {source.path}: give the right one with "
                       "--checkpoints (its absence is itself a finding if one was written)")
    with catalog.Catalog.connect(space.database_url) as cat:
        verdict = cat.verify_audit(source)
    if not verdict.ok:
        err_console.print(f"[bold red]audit log BROKEN[/] ({verdict.entries} entries, "
                          f"{len(verdict.problems)} problems):", highlight=False)
        for problem in verdict.problems:
            err_console.print(f"  - {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_TAMPERED)
    if source is None:
        err_console.print(
            f"[bold yellow]audit log NOT ANCHORED[/]: the chain of {verdict.entries} entries "
            "is consistent, but this workspace has no audit signing key, so nothing outside "
            "the database vouches for it (an operator could have rewritten it and recomputed "
            "every hash); create one with `pseudolink audit key create`", highlight=False,
            soft_wrap=True)
        raise typer.Exit(EXIT_UNANCHORED)
    if verdict.unanchored:
        first = (verdict.anchored_seq or 0) + 1
        span = f"seq {first}" if verdict.unanchored == 1 else \
            f"seq {first}..{first + verdict.unanchored - 1}"
        err_console.print(
            f"[bold yellow]audit log NOT ANCHORED[/]: {span} ({verdict.unanchored} of "
            f"{verdict.entries} entries) come after the last signed checkpoint (seq "
            f"{verdict.anchored_seq}); nothing outside the database vouches for them. "
            "Entries up to that checkpoint match it. Once you trust the rest, run "
            "`pseudolink audit checkpoint`.", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_UNANCHORED)
    console.print(f"audit log intact: {verdict.entries} entries, every one covered by a "
                  f"checkpoint signed with key {source.fingerprint}")
    if reader is not None:
        _by_actor(space)


def _by_actor(space) -> None:  # type: ignore[no-untyped-def]
    """Each actor with their role (or 'NOT REGISTERED') and their actions, in log order."""
    from collections import Counter

    from rich.table import Table

    import catalog

    with catalog.Catalog.connect(space.database_url) as cat:
        entries = cat.audit_entries()
        roles = {user.id: user.role for user in cat.list_users()}
    actions: dict[str, Counter] = {}
    for entry in entries:
        actions.setdefault(entry["actor"], Counter())[entry["action"]] += 1
    table = Table("actor", "role", "actions (in the order first taken)")
    for actor, counted in actions.items():
        table.add_row(actor, roles.get(actor, "NOT REGISTERED"), ", ".join(
            f"{action} x{n}" if n > 1 else action for action, n in counted.items()))
    console.print(table)
    strangers = [actor for actor in actions if actor not in roles]
    if strangers:
        err_console.print(f"[bold yellow]actors not registered in the catalog[/]: "
                          f"{', '.join(strangers)}", highlight=False)


@group.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    workdir: WorkdirOption = None,
) -> None:
    """Write every entry as one JSON line, for archiving or an outside auditor.

    Needs a login with the audit.read right (an officer or an administrator).
    """
    import catalog
    from pseudolink.cli.session import acting_user

    reader = acting_user(ws(workdir))
    with catalog.Catalog.connect(ws(workdir).database_url) as cat:
        cat.require(reader, "audit.read")
        count = cat.export_audit(out)
    console.print(f"{count} audit entries written to {out}")

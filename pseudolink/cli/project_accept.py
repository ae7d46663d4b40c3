"""``pseudolink project accept``: a holder checks the project and adds its share of the key.

Whoever ran ``project create`` chose the spec and the parties' keys; the holder is the one
whose people are at stake, so it reads them here on its own premises before anything of
its data is hashed, and signs exactly what it read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli import governance
from pseudolink.cli.app import WorkdirOption, console, fail, passphrase, ws
from pseudolink.cli.project import group


def check_spec_file(manifest, spec_file: Path) -> None:
    """Refuse a manifest whose spec differs from the holder's own copy, naming how."""
    import linkage
    from linkage.keys.acceptance import differences

    own = linkage.ProjectSpec.load(spec_file)
    if own.to_dict() != manifest.spec.to_dict():
        raise linkage.LinkageError(
            f"{manifest.path}: its spec differs from {spec_file}: "
            f"{differences(own.to_dict(), manifest.spec.to_dict())}")


def _fingerprint(public) -> str:
    return f"{public.ed25519_public[:16]}  {public.age_recipient[:16]}…"


def _compared(spec) -> list[str]:
    from linkage.fuzzy import params_for

    return list(params_for(spec).fields)


def outgoing_files(manifest, holder_id: str, out: Path, keys_dir: Path) -> str:
    """What ``holder prepare`` will send, column by column, and to whom; and what stays."""
    from linkage.prepare import output_paths, private_dir

    spec = manifest.spec
    holder = spec.holder(holder_id)
    paths = output_paths(out, holder_id, private_dir(keys_dir, manifest.id))
    km, combiner = manifest.party(spec.key_manager), manifest.party(spec.combiner)
    keys = ("Bloom-filter encodings of " + ", ".join(sorted(_compared(spec)))
            + " and keyed blocking keys"
            if spec.mode == "fuzzy" else
            "linkage keys " + ", ".join(r.name for r in spec.recipes))
    return "\n".join([
        f"{holder_id} will send:",
        f"  {paths['keys'].name} -> key manager {km.id} ({km.ed25519_public[:16]}): "
        f"serial, {keys}",
        f"  {paths['payload'].name} -> combiner {combiner.id} "
        f"({combiner.ed25519_public[:16]}): serial, {', '.join(holder.attributes)}",
        f"and keep, readable by this user only: {paths['crosswalk']} "
        "(row_number, record_id, serial)",
    ])


@group.command("accept")
def accept(
    project: Annotated[str, typer.Option(help="Project id.")],
    holder: Annotated[str, typer.Option(help="This holder's party id.")],
    spec: Annotated[Path | None, typer.Option(
        help="This holder's own copy of the spec (TOML): refuse if project.json differs.")
    ] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Accept without asking (after checking the printout elsewhere).")
    ] = False,
    send: Annotated[str | None, typer.Option(
        "--send", metavar="URL",
        help="Then send the acceptance and key share to every party through this "
             "exchange.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Show the spec and every party's key fingerprint; sign them and add a key share."""
    import linkage

    space = ws(workdir)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        manifest.require_open()
        if spec is not None:
            check_spec_file(manifest, spec)
        mine = manifest.spec.holder(holder)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None

    parsed = manifest.spec
    console.print(f"project [bold]{manifest.id}[/] ({parsed.purpose}, {parsed.mode}), key "
                  f"version {manifest.key_version}, nonce {manifest.nonce[:12]}")
    console.print(f"  {holder}'s identifiers (stay here, only keyed hashes leave): "
                  + ", ".join(f"{column} as {kind}" for column, kind in mine.identifiers.items()))
    console.print(f"  {holder}'s attributes (go to the combiner {parsed.combiner}): "
                  + (", ".join(mine.attributes) or "none"))
    if parsed.mode == "fuzzy":
        from linkage.fuzzy import params_for

        params = params_for(parsed)
        console.print("  compared (Bloom filters): " + ", ".join(params.fields)
                      + "; blocking: " + "; ".join("+".join(r) for r in params.blocking))
        console.print(f"  fuzzy hardening settings: {parsed.fuzzy or 'the defaults'}")
    else:
        console.print("  recipes: " + "; ".join(r.name for r in parsed.recipes))
    parties = Table(title="parties (confirm each fingerprint with that party)")
    for column in ("party", "role", "Ed25519 / age fingerprint"):
        parties.add_column(column)
    for public in manifest.parties.values():
        parties.add_row(public.id, public.role, _fingerprint(public))
    console.print(parties)
    actor = governance.stage_actor(space, "accept", holder)
    if not yes:
        typer.confirm(f"Accept project {manifest.id} as holder {holder}?", abort=True)
    try:
        me = linkage.load_party_secret(space.keys, holder, passphrase())
        signed = linkage.accept_project(manifest, me, space.keys)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    from linkage.keys.acceptance import accept_path, share_path

    directory = Path(manifest.path).parent
    # The share is key material: recorded, so that `project close` destroys it by name.
    governance.record(space, manifest, "accept", actor, holder,
                      {"share": share_path(directory, holder, manifest.key_version)},
                      {"digest": signed.digest})
    if send:
        from linkage.exchange import ExchangeClient, ExchangeError

        try:
            with ExchangeClient(send, me) as client:
                client.send_acceptance(directory, manifest)
        except (linkage.LinkageError, ExchangeError) as exc:
            raise fail(f"accepted, but not sent: {exc}") from None
        console.print(f"accepted (digest {signed.digest[:16]}) and sent to every party "
                      f"through {send}", highlight=False)
        return
    console.print(f"accepted (digest {signed.digest[:16]}); send to every other party:\n"
                  f"  {accept_path(directory, holder, manifest.key_version)}\n"
                  f"  {share_path(directory, holder, manifest.key_version)} (opens for "
                  "holders only)")

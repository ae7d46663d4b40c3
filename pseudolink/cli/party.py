"""``pseudolink party create|export|import``: a party's keys, and swapping public halves.

Parties on separate machines exchange only ``*.public.json`` files: a party exports its own,
and imports the others' before ``project create`` (DESIGN 2: no private key ever moves).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, fail, passphrase, ws

group = typer.Typer(help="This workspace's parties (holder, key manager, combiner).",
                    no_args_is_help=True)
app.add_typer(group, name="party")


@group.command("create")
def create(
    party_id: Annotated[str, typer.Option("--id", help="Party id, as named in project specs.")],
    role: Annotated[str, typer.Option(help="holder | key_manager | combiner")],
    workdir: WorkdirOption = None,
) -> None:
    """Generate the party's keys, encrypted under the workspace passphrase (idempotent)."""
    import linkage

    space = ws(workdir)
    space.keys.mkdir(parents=True, exist_ok=True)
    try:
        public = linkage.create_party(space.keys, party_id, role, passphrase(confirm=True))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    console.print(f"party [bold]{public.id}[/] ({public.role}) ready; share "
                  f"{space.keys / 'parties' / (public.id + '.public.json')} with the other "
                  f"parties\n  age recipient: {public.age_recipient}")


@group.command("export")
def export(
    party_id: Annotated[str, typer.Option("--id", help="The party whose public keys to export.")],
    out: Annotated[str, typer.Option(help="File, or directory (existing, or named with a "
                                          "trailing /) to write ID.public.json to.")],
    workdir: WorkdirOption = None,
) -> None:
    """Write a party's public keys (age recipient, Ed25519 key) for the other parties."""
    import linkage

    space = ws(workdir)
    try:
        public = linkage.load_party_public(space.keys, party_id)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    folder = out.endswith(("/", os.sep)) or Path(out).is_dir()
    target = Path(out) / f"{party_id}.public.json" if folder else Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps(public.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(partial, target)
    console.print(f"public keys of [bold]{party_id}[/] ({public.role}) -> {target}\n"
                  f"  Ed25519 fingerprint to confirm by phone: {public.ed25519_public[:16]}")


@group.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="Another party's ID.public.json.")],
    workdir: WorkdirOption = None,
) -> None:
    """Add another party's public keys to this workspace; a changed key is refused."""
    import linkage

    space = ws(workdir)
    try:
        public = linkage.PartyPublic.from_dict(json.loads(file.read_text(encoding="utf-8")))
        public.recipient()
        public.verifier()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise fail(f"{file}: not a party public key file ({exc})") from None
    try:
        existing = linkage.load_party_public(space.keys, public.id)
    except linkage.LinkageError:
        existing = None
    if existing is not None and existing != public:
        raise fail(f"{file}: party '{public.id}' is already known here with different keys; "
                   "a swapped key is how files get misdirected, so check with that party")
    target = space.keys / "parties" / f"{public.id}.public.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    if existing is None:
        shutil.copyfile(file, target)
    console.print(f"imported [bold]{public.id}[/] ({public.role}); Ed25519 fingerprint "
                  f"{public.ed25519_public[:16]}")

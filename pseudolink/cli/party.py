"""``pseudolink party create``: a party's age identity and Ed25519 signing key."""

from __future__ import annotations

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

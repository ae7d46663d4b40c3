"""``pseudolink init``: create a workspace (DESIGN 4) and its catalog."""

from __future__ import annotations

from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, fail, ws


@app.command()
def init(
    workdir: WorkdirOption = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL for the catalog (default: SQLite in the workspace)."),
    ] = None,
    admin: Annotated[
        str | None,
        typer.Option("--admin", help="Create the first administrator (only while the catalog "
                                     "has no user); the password is prompted for."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the admin's password from stdin.")
    ] = False,
) -> None:
    """Create the workspace directories and bring the catalog schema up to date."""
    from sqlalchemy.engine import make_url

    import catalog

    space = ws(workdir)
    if database_url and make_url(database_url).password:
        # settings.toml is plain text: a password there would sit on disk in the clear.
        raise fail("--database-url must not carry a password: keep it in PGPASSFILE, or give "
                   "the whole URL in PSEUDOLINK_DATABASE_URL instead")
    space.create_dirs()
    if database_url:
        space.settings_file.write_text(f'database_url = "{database_url}"\n', encoding="utf-8")
    catalog.init_catalog(space.database_url)
    url = _redacted(space.database_url)
    console.print(f"workspace ready at [bold]{space.root}[/] (catalog: {url})")
    if admin is not None:
        from pseudolink.cli.login import read_password

        password = read_password(password_stdin, f"Password for {admin}", confirm=True)
        try:
            with catalog.Catalog.connect(space.database_url) as cat:
                cat.bootstrap_admin(admin, password)
        except catalog.CatalogError as exc:
            raise fail(str(exc)) from None
        console.print(f"first administrator {admin} created; run `pseudolink login --user "
                      f"{admin}`", highlight=False)


def _redacted(url: str) -> str:
    """A database URL fit for printing: any password replaced."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

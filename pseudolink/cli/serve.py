"""``pseudolink serve api``: run the open-data API over this workspace's catalog."""

from __future__ import annotations

from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, ws

group = typer.Typer(help="Run the servers: the open-data API.", no_args_is_help=True)
app.add_typer(group, name="serve")


@group.command("api")
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)] = 8000,
    workdir: WorkdirOption = None,
) -> None:
    """Serve released datasets as JSON and CSV (OpenAPI description at /openapi.json)."""
    import open_api

    console.print(f"open-data API on http://{host}:{port}/ (Ctrl+C to stop)", highlight=False)
    open_api.serve(ws(workdir).database_url, host=host, port=port)

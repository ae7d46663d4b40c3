"""``pseudolink serve api``: run the open-data API over this workspace's catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, app, console, ws
from pseudolink.cli.servers import DEFAULT_PORTS, require_free_port, run_child

group = typer.Typer(help="Run the servers: open-data API, officers' console, researcher portal, "
                         "analysis room hub, parties' exchange.",
                    no_args_is_help=True)
app.add_typer(group, name="serve")


@group.command("api")
def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1,
                                      max=65535)] = DEFAULT_PORTS["api"],
    daily_quota: Annotated[int, typer.Option(
        help="Portal calls per key per KST day, for keys without their own quota.", min=1,
    )] = 10_000,
    rate_limit: Annotated[int | None, typer.Option(
        help="Native-face requests per minute per API key (default: no limit).", min=1,
    )] = None,
    anonymous_rate_limit: Annotated[int | None, typer.Option(
        help="Native-face requests per minute per client address without a key.", min=1,
    )] = None,
    redis_url: Annotated[str | None, typer.Option(
        help="Keep quota and rate-limit counters in Redis (redis://127.0.0.1:6379/0), "
        "shared by several servers.", envvar="PSEUDOLINK_REDIS_URL",
    )] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Serve released datasets: native JSON/CSV/XML, the data.go.kr convention and CKAN."""
    import open_api

    config = open_api.ApiConfig(daily_quota=daily_quota, key_per_minute=rate_limit,
                                anonymous_per_minute=anonymous_rate_limit, redis_url=redis_url)
    require_free_port(host, port, "the open-data API")
    console.print(f"open-data API on http://{host}:{port}/ (Ctrl+C to stop)", highlight=False)
    space = ws(workdir)
    # The catalog stores artifacts relative to the workspace: resolve them against it,
    # whatever directory the service was started from (issue 24).
    open_api.serve(space.database_url, host=host, port=port, config=config,
                   root=space.root.resolve())


@group.command("console")
def console_app(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1,
                                      max=65535)] = DEFAULT_PORTS["console"],
    workdir: WorkdirOption = None,
) -> None:
    """Run the privacy officers' console (Streamlit) over this workspace's catalog."""
    import os
    import sys

    from catalog.console import APP

    space = ws(workdir)
    # With PSEUDOLINK_PASSPHRASE set, the console signs each audited write (catalog.Anchor).
    env = {**os.environ, "PSEUDOLINK_DATABASE_URL": space.database_url,
           "PSEUDOLINK_AUDIT_KEYS": str(space.keys),
           "PSEUDOLINK_AUDIT_CHECKPOINTS": str(space.audit_checkpoints),
           "PSEUDOLINK_WORKSPACE_ROOT": str(space.root.resolve())}
    require_free_port(host, port, "the console")
    console.print(f"privacy officers' console on http://{host}:{port}/ (Ctrl+C to stop)",
                  highlight=False)
    # The URL travels in the environment, not argv, so `ps` never shows a password.
    # toolbarMode=viewer hides Streamlit's developer menu (Deploy, Rerun settings).
    raise typer.Exit(run_child(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host,
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"], env=env))


@group.command("portal")
def portal(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1,
                                      max=65535)] = DEFAULT_PORTS["portal"],
    hub_url: Annotated[str, typer.Option(
        help="Where the secure analysis room is, for the researchers' links.")] =
        f"http://127.0.0.1:{DEFAULT_PORTS['hub']}/",
    secure_cookie: Annotated[bool, typer.Option(
        help="Mark the session cookie Secure (when served behind TLS).")] = False,
    workdir: WorkdirOption = None,
) -> None:
    """Run the researcher portal: data dictionary, requests, rooms, take-outs, airlock."""
    import os

    import catalog
    from analysis_env import Airlock
    from catalog.portal import serve as serve_portal

    space = ws(workdir)
    airlock_root = space.root / "airlock"
    # With PSEUDOLINK_PASSPHRASE set, each audited write is signed as it commits (as the
    # console's are); without it, writes wait for the next `pseudolink audit checkpoint`.
    anchor = None
    secret = os.environ.get("PSEUDOLINK_PASSPHRASE")
    if secret and (space.keys / "audit-signing.key").exists():
        anchor = catalog.Anchor(catalog.load_audit_signer(space.keys, secret),
                                space.audit_checkpoints)

    def outbox(user_id: str) -> list:
        if not airlock_root.is_dir():
            return []
        with catalog.Catalog.connect(space.database_url) as cat:
            return Airlock(airlock_root, cat).list(actor=user_id)

    require_free_port(host, port, "the researcher portal")
    console.print(f"researcher portal on http://{host}:{port}/ (Ctrl+C to stop)",
                  highlight=False)
    serve_portal(space.database_url, host=host, port=port, root=str(space.root.resolve()),
                 hub_url=hub_url, airlock_outbox=outbox, secure_cookie=secure_cookie,
                 anchor=anchor)


@group.command("exchange")
def exchange(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.", min=1,
                                      max=65535)] = DEFAULT_PORTS["exchange"],
    database_url: Annotated[str | None, typer.Option(
        envvar="PSEUDOLINK_EXCHANGE_DATABASE_URL",
        help="The exchange's own database (PostgreSQL in production; default SQLite under "
             "WORKDIR/exchange).")] = None,
    files: Annotated[Path | None, typer.Option(
        help="Directory for the envelopes (default WORKDIR/exchange/files).")] = None,
    max_file_size: Annotated[int, typer.Option(
        help="Largest envelope accepted, in bytes.", min=1)] = 64 << 30,
    stalled_after: Annotated[float, typer.Option(
        help="Seconds without a heartbeat after which a worker's job is put back.",
        min=1)] = 30.0,
    workdir: WorkdirOption = None,
) -> None:
    """Run the parties' file exchange: sealed envelopes in, to their recipients only."""
    from pseudolink.cli.exchange import serve_exchange

    serve_exchange(ws(workdir), host, port, database_url, files, max_file_size,
                   stalled_after)


@group.command("hub")
def hub(
    host: Annotated[str | None, typer.Option(
        help="Address to listen on (default: the room's ip setting, or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default: the room's port "
                                                  "setting, or 8100).",
                                             min=1, max=65535)] = None,
    seats: Annotated[int | None, typer.Option(help="Servers at once (default 19).",
                                              min=1)] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Run the secure analysis room (JupyterHub) for researchers with an active approval."""
    import os
    import sys

    from analysis_env.hub import RoomSettings, check_prerequisites, write_config

    space = ws(workdir)
    settings = RoomSettings.load(space.root, space.database_url, ip=host, port=port,
                                 seats=seats)
    check_prerequisites(settings)
    config = write_config(settings)
    env = {**os.environ, "PSEUDOLINK_DATABASE_URL": space.database_url}
    require_free_port(settings.ip, settings.port, "the analysis room")
    console.print(f"secure analysis room on http://{settings.ip}:{settings.port}/ "
                  f"({settings.seats} seats; Ctrl+C to stop)", highlight=False)
    raise typer.Exit(run_child([sys.executable, "-m", "jupyterhub", "-f", str(config)],
                               cwd=settings.hub_dir, env=env))

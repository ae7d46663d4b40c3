"""``pseudolink exchange push|pull|status|register`` and the server behind
``pseudolink serve exchange``: each party's side of the file exchange (issue 17).

A party's requests are signed with its own keys from this workspace; the exchange's
accepted and refused uploads and its downloads go to the exchange host's catalog audit log.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, app, console, fail, passphrase, ws
from pseudolink.settings import Workspace

group = typer.Typer(help="Send and receive sealed files through a pseudolink exchange.",
                    no_args_is_help=True)
app.add_typer(group, name="exchange")

ExchangeOption = Annotated[str, typer.Option(
    "--exchange", envvar="PSEUDOLINK_EXCHANGE_URL",
    help="The exchange's URL (https://exchange.example:8700).")]
AsOption = Annotated[str | None, typer.Option(
    "--as", help="This workspace's party id (default: the only party whose private keys "
                 "it holds).")]
DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", envvar="PSEUDOLINK_EXCHANGE_DATABASE_URL",
    help="The exchange's own database (PostgreSQL in production; default SQLite under "
         "WORKDIR/exchange).")]
#: Stages of a project as the exchange sees them, in order, for the status timeline.
TIMELINE = (("keys", "holders' keys files to the key manager"),
            ("payload", "holders' payloads to the agency"),
            ("linkmap", "link map to the agency"))


def exchange_database(space: Workspace, url: str | None) -> str:
    if url:
        return url
    (space.root / "exchange").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{space.root / 'exchange' / 'exchange.db'}"


def own_party(space: Workspace, as_party: str | None) -> str:
    """The party this workspace acts as: ``--as``, else the only one with private keys."""
    if as_party:
        return as_party
    from linkage.keys.party import SECRET_SUFFIX

    held = sorted(p.name[:-len(SECRET_SUFFIX)]
                  for p in (space.keys / "parties").glob(f"*{SECRET_SUFFIX}"))
    if len(held) != 1:
        raise fail(f"this workspace holds the keys of {len(held)} parties "
                   f"({', '.join(held) or 'none'}); say which with --as")
    return held[0]


def _client(space: Workspace, url: str, party: str):
    import linkage
    from linkage.exchange import ExchangeClient

    return ExchangeClient(url, linkage.load_party_secret(space.keys, party, passphrase()))


@group.command("push")
def push(
    files: Annotated[list[Path], typer.Argument(help="Envelopes to send (their .sig beside "
                                                     "them).")],
    project: Annotated[str, typer.Option(help="Project id.")],
    exchange: ExchangeOption,
    workdir: WorkdirOption = None,
) -> None:
    """Send envelopes to their recipients; a file the exchange holds already is skipped.

    Each file is sent as the party that sealed it (its signed header names it).
    """
    import linkage
    from linkage.exchange import ExchangeError
    from pseudolink.cli.progress import progress_bars

    space = ws(workdir)
    try:
        with progress_bars(transient=True) as progress:
            for path in files:
                sender = _sender(path)
                with _client(space, exchange, sender) as client:
                    pushed = client.push(project, path, progress=lambda done, total, p=path:
                                         progress(f"push {p.name}", done, total))
                state = "sent" if pushed.created else "already at the exchange"
                console.print(f"{path.name}: {pushed.kind} for {pushed.recipient}, {state} "
                              f"(sha256 {pushed.sha256[:12]})", highlight=False)
    except (linkage.LinkageError, ExchangeError, ValueError) as exc:
        raise fail(str(exc)) from None


def _sender(path: Path) -> str:
    from linkage.envelope import header_path
    from linkage.exchange import decode_header, encode_header

    sig = header_path(path)
    if not path.exists():
        raise fail(f"{path}: file not found")
    if not sig.exists():
        raise fail(f"{path}: no signed header {sig.name} beside it; move both files together")
    try:
        return decode_header(encode_header(sig.read_bytes()[:1 << 16]))[1].sender
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"{sig}: not an envelope header ({exc})") from None


@group.command("pull")
def pull(
    project: Annotated[str, typer.Option(help="Project id.")],
    out: Annotated[Path, typer.Option(help="Directory to receive the files into.")],
    exchange: ExchangeOption,
    kind: Annotated[list[str] | None, typer.Option(
        help="Only files of this kind (keys, payload, linkmap, review, decisions); "
             "repeatable.")] = None,
    as_party: AsOption = None,
    workdir: WorkdirOption = None,
) -> None:
    """Receive every file addressed to this party, each checked against the project's
    manifest in this workspace before it takes its name."""
    import linkage
    from linkage.exchange import ExchangeError
    from pseudolink.cli.progress import progress_bars

    space = ws(workdir)
    party = own_party(space, as_party)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        with _client(space, exchange, party) as client, \
                progress_bars(transient=True) as progress:
            pulled = client.pull(project, manifest, out, tuple(kind or ()),
                                 progress=lambda done, total: progress("pull", done, total))
    except (linkage.LinkageError, ExchangeError) as exc:
        raise fail(str(exc)) from None
    for path in pulled:
        console.print(f"received {path}", highlight=False)
    if not pulled:
        console.print("nothing new for " + party)


@group.command("pull-project")
def pull_project(
    project: Annotated[str, typer.Option(help="Project id.")],
    exchange: ExchangeOption,
    as_party: AsOption = None,
    workdir: WorkdirOption = None,
) -> None:
    """Receive the project's project.json and every holder's acceptance and key share
    into this workspace, each checked before it is written.

    A holder then checks the manifest itself (`project accept --spec` compares it with its
    own copy of the spec and shows every party's key fingerprint).
    """
    import linkage
    from linkage.exchange import ExchangeError

    space = ws(workdir)
    party = own_party(space, as_party)
    try:
        with _client(space, exchange, party) as client:
            written = client.pull_setup(project, space.project_dir(project))
    except (linkage.LinkageError, ExchangeError) as exc:
        raise fail(str(exc)) from None
    for path in written:
        console.print(f"received {path}", highlight=False)
    if not written:
        console.print(f"project {project}: nothing new for {party}", highlight=False)


@group.command("status")
def status(
    project: Annotated[str, typer.Option(help="Project id.")],
    exchange: ExchangeOption,
    as_party: AsOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    workdir: WorkdirOption = None,
) -> None:
    """The project's timeline at the exchange: which party has sent which file to whom."""
    import json

    import linkage
    from linkage.exchange import ExchangeError

    space = ws(workdir)
    party = own_party(space, as_party)
    try:
        with _client(space, exchange, party) as client:
            state = client.status(project)
    except (linkage.LinkageError, ExchangeError) as exc:
        raise fail(str(exc)) from None
    if json_out:
        console.print_json(json.dumps(state))
        return
    console.print(timeline(state))
    if state.get("jobs"):
        console.print(jobs_table(state["jobs"]))


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    """Each job's state and attempts, and the last error a person should read."""
    table = Table(title="jobs")
    for column in ("job", "task", "queue", "state", "attempts", "last error"):
        table.add_column(column)
    for job in jobs:
        errors = job.get("errors") or []
        table.add_row(str(job["id"]), job["task"], job["queue"], job["status"],
                      str(job["attempts"]), errors[-1]["error"] if errors else "")
    return table


def timeline(state: dict[str, Any]) -> Table:
    """One row per expected file, in the order the stages need them, done or waiting."""
    from datetime import UTC, datetime

    parties = state["parties"]
    holders = [p for p, role in parties.items() if role == "holder"]
    sent = {(f["kind"], f["sender"]): f for f in state["files"]}
    table = Table(title=f"project {state['project']} at the exchange (you: {state['you']})")
    for column in ("stage", "from", "to", "state", "size", "at"):
        table.add_column(column)
    for kind, label in TIMELINE:
        senders = holders if kind != "linkmap" else \
            [p for p, role in parties.items() if role == "key_manager"]
        for sender in senders:
            row = sent.get((kind, sender))
            if row is None:
                table.add_row(label, sender, "", "[yellow]waiting[/]", "", "")
                continue
            at = datetime.fromtimestamp(row["created_at"], UTC).strftime("%Y-%m-%d %H:%M")
            table.add_row(label, sender, row["recipient"], "[green]at the exchange[/]",
                          f"{row['size']:,}", at)
    return table


@group.command("register")
def register(
    project: Annotated[str, typer.Option(help="Project id (its manifest in this workspace).")],
    database_url: DatabaseOption = None,
    workdir: WorkdirOption = None,
) -> None:
    """On the exchange host: register a project's public manifest (the operator's step).

    Only registered projects' parties can sign requests; re-registering after a key
    rotation updates it, a different project under the same id is refused.
    """
    import linkage
    from linkage.exchange import ExchangeState

    space = ws(workdir)
    try:
        manifest = linkage.ProjectManifest.load(space.project_dir(project))
        ExchangeState(exchange_database(space, database_url)).register(manifest)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    console.print(f"project {manifest.id} registered at the exchange (key version "
                  f"{manifest.key_version}, parties {', '.join(sorted(manifest.parties))})",
                  highlight=False)


def serve_exchange(space: Workspace, host: str, port: int, database_url: str | None,
                   files: Path | None, max_file_size: int, stalled_after: float = 30.0
                   ) -> None:
    """Run the exchange; its audit entries go to this workspace's catalog."""
    import uvicorn

    from linkage.exchange import open_exchange
    from pseudolink.cli.governance import open_catalog
    from pseudolink.cli.servers import require_free_port

    require_free_port(host, port, "the exchange")
    lock = threading.Lock()
    catalog = open_catalog(space)

    def audit(actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        # One writer at a time: SQLite catalogs take one, and the chain is sequential.
        with lock:
            catalog.audit(actor, action, target, details)

    app = open_exchange(exchange_database(space, database_url),
                        files or space.root / "exchange" / "files", audit,
                        max_file_bytes=max_file_size, stalled_after=stalled_after)
    console.print(f"exchange on http://{host}:{port}/ (Ctrl+C to stop)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get(
        "PSEUDOLINK_LOG_LEVEL", "info").lower())


@app.command("worker")
def worker(
    role: Annotated[str, typer.Option(help="key_manager (link) or combiner (combine).")],
    exchange: ExchangeOption,
    as_party: AsOption = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Stop when the queue is empty instead of waiting for work.")] = False,
    wait: Annotated[float, typer.Option(
        help="Seconds a claim waits at the exchange for work; it returns as soon as a job "
             "or a file for this party arrives.", min=0.0, max=30.0)] = 20.0,
    poll: Annotated[float, typer.Option(
        help="Seconds before asking again when the exchange cannot be reached.",
        min=0.1)] = 2.0,
    heartbeat: Annotated[float, typer.Option(help="Seconds between heartbeats.",
                                             min=0.1)] = 5.0,
    workdir: WorkdirOption = None,
) -> None:
    """Run this party's jobs from the exchange with this workspace's keys.

    The key manager's worker links once every holder's keys file is in and sends the link
    map; the agency's combines once the link map and payloads are in, leaving the
    combined table at WORKDIR/data/PROJECT/combined.parquet. While it waits, it fetches
    (and verifies) each input as it lands, so a job starts with only its last one to fetch.
    """
    import linkage
    from linkage.exchange import work

    if role not in ("key_manager", "combiner"):
        raise fail(f"--role must be key_manager or combiner, not {role!r}")
    space = ws(workdir)
    party = own_party(space, as_party)

    def record(job: dict, outputs: dict[str, Path], details: dict) -> None:
        # The stage and every file it left here go to this workspace's catalog, so that
        # `project close` destroys them too.
        from pseudolink.cli import governance

        manifest = linkage.ProjectManifest.load(space.project_dir(job["project"]))
        actor = governance.stage_actor(space, job["task"], party)
        governance.record(space, manifest, job["task"], actor, party, outputs,
                          {**details, "exchange_job": job["id"]})

    try:
        with _client(space, exchange, party) as client:
            work(client, role, space.project_dir, space.keys, passphrase(), once=once,
                 poll=poll, wait=wait, heartbeat=heartbeat, record=record,
                 log=lambda line: console.print(line, highlight=False, soft_wrap=True))
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None

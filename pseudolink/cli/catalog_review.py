"""``pseudolink catalog request risk`` and ``catalog committee appoint|vote|close``: the review.

An officer reviews a request with the risk report of what it asks for: measured by the
catalog on the registered file (the requested columns, classified there), or, for a
take-out, the report of the anonymised extract (``pseudolink risk --json`` on the output
of ``pseudolink anonymize``), since the committee judges what would leave. Every verb
acts as the logged-in person; the catalog checks the role matrix and audits it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, console, fail
from pseudolink.cli.catalog import RequestId, _me, _open, group, requests

committee = typer.Typer(help="The take-out (반출) release review committee.",
                        no_args_is_help=True)
group.add_typer(committee, name="committee")

VOTES = ("approve", "reject", "abstain")


def _load_report(path: Path) -> dict:
    """A risk report written by `pseudolink risk --json` (exit 2 naming the file)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise fail(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise fail(f"{path}: not a JSON risk report ({exc})") from None
    if not isinstance(doc, dict) or "k" not in doc or "class_sizes" not in doc:
        raise fail(f"{path}: not a risk report (no k or class_sizes); write it with "
                   "`pseudolink risk ... --json`")
    return doc


@requests.command("risk")
def request_risk(
    request_id: RequestId,
    report: Annotated[Path | None, typer.Option(
        "--report", help="A risk report from `pseudolink risk --json` (e.g. of the "
                         "anonymised extract); default: measure the requested columns of "
                         "the registered file.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Attach the risk report a request under review is judged by (officers)."""
    import catalog

    actor = _me(workdir)
    try:
        with _open(workdir) as cat:
            if report is None:
                doc = cat.compute_risk_report(request_id, actor=actor)
            else:
                doc = _load_report(report)
                cat.attach_risk_report(request_id, doc, actor=actor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"request {request_id}: risk report attached (k = {doc['k']}, highest "
                  f"prosecutor risk {doc.get('prosecutor_risk_max', float('nan')):.3f})",
                  highlight=False)


@committee.command("appoint")
def committee_appoint(
    request_id: RequestId,
    member: Annotated[list[str], typer.Option(
        "--member", help="An officer to seat (repeat; 3 to 7, none tied to the "
                         "researchers' organisations).")],
    workdir: WorkdirOption = None,
) -> None:
    """Seat the committee of a take-out request under review."""
    import catalog

    actor = _me(workdir)
    try:
        with _open(workdir) as cat:
            cat.appoint_committee(request_id, member, actor=actor)
            info = cat.get_request(request_id)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"request {request_id}: committee {', '.join(info.committee)} seated "
                  f"(quorum {info.committee_quorum})", highlight=False)


@committee.command("vote")
def committee_vote(
    request_id: RequestId,
    vote: Annotated[str, typer.Argument(help="approve, reject or abstain.")],
    reason: Annotated[str, typer.Option(help="Why (recorded with the vote).")],
    workdir: WorkdirOption = None,
) -> None:
    """Cast your vote as a member; the request is decided once the outcome is settled."""
    import catalog

    if vote not in VOTES:
        raise fail(f"vote {vote!r}: one of {', '.join(VOTES)}")
    actor = _me(workdir)
    try:
        with _open(workdir) as cat:
            tally = cat.vote(request_id, vote, reason=reason, actor=actor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"request {request_id}: {tally.summary()}", highlight=False)


@committee.command("close")
def committee_close(request_id: RequestId, workdir: WorkdirOption = None) -> None:
    """Decide on the votes cast so far, once a quorum has voted."""
    import catalog

    actor = _me(workdir)
    try:
        with _open(workdir) as cat:
            tally = cat.close_committee(request_id, actor=actor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"request {request_id}: {tally.summary()}", highlight=False)

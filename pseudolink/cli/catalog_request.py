"""``pseudolink catalog request create|amend|withdraw|renew|show`` (issue 16): a researcher's verbs.

The same catalog functions the researcher portal calls; ``submit`` and ``list`` live in
``pseudolink.cli.catalog`` with the officers' verbs. Dates are days in Asia/Seoul
(``2026-12-31`` ends at the end of that day there); nothing is acted on for anyone but the
logged-in person.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, console, fail
from pseudolink.cli.catalog import RequestId, _me, _open, requests

SEOUL = ZoneInfo("Asia/Seoul")

ColumnsOption = Annotated[list[str] | None, typer.Option(
    "--column", help="A column of the dataset (repeat; direct identifiers are refused).")]
ResearcherOption = Annotated[list[str] | None, typer.Option(
    "--researcher", help="A co-researcher's user id (repeat).")]


def day_end(text: str, option: str) -> datetime:
    """The end of a day in Seoul, as an aware datetime (exit 2 on a malformed date).

    >>> day_end("2026-12-31", "--ends").isoformat()
    '2027-01-01T00:00:00+09:00'
    """
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{option} {text!r}: not a date (YYYY-MM-DD)") from None
    return datetime.combine(day + timedelta(days=1), time(), SEOUL)


def when(moment: datetime | None) -> str:
    """A time as Seoul shows it, or '-'."""
    return f"{moment.astimezone(SEOUL):%Y-%m-%d %H:%M} KST" if moment else "-"


def day_start(text: str, option: str) -> datetime:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{option} {text!r}: not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(), SEOUL)


@requests.command("create")
def request_create(
    request_id: RequestId,
    dataset: Annotated[str, typer.Option(help="The registered dataset's id.")],
    column: ColumnsOption = None,
    form: Annotated[str, typer.Option(
        help="secure_room, take_out, dp_aggregate or synthetic.")] = "secure_room",
    purpose: Annotated[str, typer.Option(
        help="statistics, scientific_research or public_interest_archiving.")] = "",
    lawful_basis: Annotated[str, typer.Option(help="The legal ground (PIPA article).")] = "",
    setting: Annotated[str, typer.Option(help="Where the data is used (safe settings).")] = "",
    outputs: Annotated[str, typer.Option(help="What leaves, and how it is checked.")] = "",
    ends: Annotated[str, typer.Option(help="Last day of use, YYYY-MM-DD (Seoul).")] = "",
    starts: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    researcher: ResearcherOption = None,
    project: Annotated[str | None, typer.Option(help="The linkage project.")] = None,
    justification: Annotated[str, typer.Option(help="Why the data is needed.")] = "",
    workdir: WorkdirOption = None,
) -> None:
    """Draft an access request with its Five Safes (submit it with `request submit`)."""
    actor = _me(workdir)
    if not ends:
        raise fail("--ends is required: the last day the data may be used")
    with _open(workdir) as cat:
        cat.create_request(
            request_id, dataset_id=dataset, columns=column or [], release_form=form,
            purpose=purpose, lawful_basis=lawful_basis, researchers=researcher or [],
            setting=setting, outputs=outputs, ends_at=day_end(ends, "--ends"),
            starts_at=day_start(starts, "--starts") if starts else None, actor=actor,
            project_id=project, justification=justification)
    console.print(f"request {request_id} drafted; submit it with "
                  f"`pseudolink catalog request submit {request_id}`", highlight=False)


@requests.command("amend")
def request_amend(
    request_id: RequestId,
    column: ColumnsOption = None,
    form: Annotated[str | None, typer.Option(help="A new release form.")] = None,
    purpose: Annotated[str | None, typer.Option(help="A new lawful purpose.")] = None,
    lawful_basis: Annotated[str | None, typer.Option(help="A new legal ground.")] = None,
    setting: Annotated[str | None, typer.Option(help="A new setting.")] = None,
    outputs: Annotated[str | None, typer.Option(help="New outputs and their checks.")] = None,
    ends: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    starts: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    researcher: ResearcherOption = None,
    justification: Annotated[str | None, typer.Option(help="A new justification.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Change a draft, or redraft a rejected request; only what is given changes."""
    actor = _me(workdir)
    changes: dict[str, Any] = {k: v for k, v in {
        "columns": column, "release_form": form, "purpose": purpose,
        "lawful_basis": lawful_basis, "setting": setting, "outputs": outputs,
        "researchers": researcher, "justification": justification}.items() if v}
    if ends:
        changes["ends_at"] = day_end(ends, "--ends")
    if starts:
        changes["starts_at"] = day_start(starts, "--starts")
    with _open(workdir) as cat:
        info = cat.amend_request(request_id, actor=actor, **changes)
    console.print(f"request {request_id} amended ({', '.join(sorted(changes)) or 'redrafted'}); "
                  f"it is {info.state}", highlight=False)


@requests.command("withdraw")
def request_withdraw(
    request_id: RequestId,
    reason: Annotated[str, typer.Option(help="Why (shown to the officers).")] = "",
    workdir: WorkdirOption = None,
) -> None:
    """Take a submitted request back to draft before it is decided."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.withdraw_request(request_id, actor=actor, reason=reason)
    console.print(f"request {request_id} withdrawn to draft", highlight=False)


@requests.command("renew")
def request_renew(
    request_id: RequestId,
    ends: Annotated[str, typer.Option(help="New last day, YYYY-MM-DD (Seoul).")],
    new_id: Annotated[str | None, typer.Option(
        "--as-id", help="Id of the renewal (default: REQUEST-renewal-N).")] = None,
    justification: Annotated[str, typer.Option(help="Why more time is needed.")] = "",
    workdir: WorkdirOption = None,
) -> None:
    """Draft the renewal of an approved or active request, before it expires."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        if new_id is None:
            taken = {r.id for r in cat.my_requests(actor)}
            n = 1
            while f"{request_id}-renewal-{n}" in taken:
                n += 1
            new_id = f"{request_id}-renewal-{n}"
        cat.renew_request(request_id, new_id, ends_at=day_end(ends, "--ends"), actor=actor,
                          justification=justification)
    console.print(f"renewal {new_id} of {request_id} drafted; submit it with "
                  f"`pseudolink catalog request submit {new_id}`", highlight=False)


@requests.command("show")
def request_show(request_id: RequestId, workdir: WorkdirOption = None) -> None:
    """One request: its Five Safes, state and the reviewers' reasons."""
    import catalog

    me = _me(workdir)
    with _open(workdir) as cat:
        role = cat.user_role(me)
        # Officers review and administrators activate: they read any request.
        if catalog.permits(role, "request.start_review") or \
                catalog.permits(role, "request.activate"):
            info = cat.get_request(request_id)
        else:
            info = cat.request_for(request_id, me)
    table = Table("field", "value", show_header=False)
    for label, value in (
            ("request", info.id), ("state", info.state), ("dataset", info.dataset_id),
            ("columns", ", ".join(info.columns)), ("release form", info.release_form),
            ("purpose", info.purpose), ("lawful basis", info.lawful_basis),
            ("researchers", ", ".join(info.researchers)), ("setting", info.setting),
            ("outputs", info.outputs), ("starts", when(info.starts_at)),
            ("ends", when(info.ends_at)), ("state reason", info.state_reason or "-")):
        table.add_row(label, escape(value))
    console.print(table)
    for review in info.reviews:
        console.print(f"{when(review['at'])} {review['decision']} by {review['reviewer']}: "
                      f"{review['reason']}", highlight=False, markup=False)

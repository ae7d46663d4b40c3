"""``pseudolink catalog``: users, organisations, API keys, access requests and expiry.

Every action is taken as the person logged in with ``pseudolink login`` (no free-text
``--as``): the catalog checks their role against its role matrix and audits it under
their id. Reading lists needs a login with the matching right too.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, app, console, fail, ws
from pseudolink.cli.session import acting_user

group = typer.Typer(help="The catalog: people, keys, access requests, expiry.",
                    no_args_is_help=True)
app.add_typer(group, name="catalog")
users = typer.Typer(help="Users and their roles.", no_args_is_help=True)
orgs = typer.Typer(help="Organisations.", no_args_is_help=True)
keys = typer.Typer(help="API keys for the open-data and DP APIs.", no_args_is_help=True)
requests = typer.Typer(help="Access requests and their workflow.", no_args_is_help=True)
group.add_typer(users, name="user")
group.add_typer(orgs, name="org")
group.add_typer(keys, name="apikey")
group.add_typer(requests, name="request")

ReasonOption = Annotated[str, typer.Option(help="Why (recorded in the audit log).")]

RequestId = Annotated[str, typer.Argument(help="The access request's id.")]
UserId = Annotated[str, typer.Argument(help="The user's id (their login name).")]
#: The scopes an API key may carry: the open-data faces, and DP queries.
API_KEY_SCOPES = ("open_data", "dp_query")
#: An access request's states (catalog.models.REQUEST_STATES, checked by a test).
REQUEST_STATES = ("draft", "submitted", "under_review", "approved", "rejected", "active",
                  "expired", "revoked")


def _me(workdir) -> str:  # type: ignore[no-untyped-def]
    """The logged-in person (exit 2 when nobody is)."""
    return acting_user(ws(workdir))


def _open(workdir):  # type: ignore[no-untyped-def]
    import catalog

    space = ws(workdir)
    return catalog.Catalog.connect(space.database_url, root=space.root)


@group.command("expire")
def expire(workdir: WorkdirOption = None) -> None:
    """Expire every active access past its end date (run daily from cron or a timer)."""
    with _open(workdir) as cat:
        expired = cat.expire_due()
    console.print(f"{len(expired)} access request(s) expired"
                  + (f": {', '.join(expired)}" if expired else ""), highlight=False)


# -- organisations and users -------------------------------------------------------------

@orgs.command("add")
def org_add(organisation_id: Annotated[str, typer.Argument(help="The organisation's id.")],
            name: Annotated[str, typer.Option(help="Its name, as people know it.")],
            workdir: WorkdirOption = None) -> None:
    """Create or rename an organisation."""
    me = _me(workdir)
    with _open(workdir) as cat:
        cat.record_organisation(organisation_id, name=name, actor=me)
    console.print(f"organisation {organisation_id} recorded", highlight=False)


@users.command("add")
def user_add(
    user_id: UserId,
    role: Annotated[str, typer.Option(help="holder, key_manager, combiner, privacy_officer, "
                                           "researcher, consumer or admin.")],
    org: Annotated[str | None, typer.Option("--org", help="Organisation id.")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    workdir: WorkdirOption = None,
) -> None:
    """Create a user or change their role."""
    me = _me(workdir)
    with _open(workdir) as cat:
        cat.record_user(user_id, role=role, organisation_id=org, display_name=name,
                        actor=me)
    console.print(f"user {user_id} recorded with role {role}", highlight=False)


@users.command("password")
def user_password(user_id: UserId, workdir: WorkdirOption = None) -> None:
    """Set a user's password (PSEUDOLINK_USER_PASSWORD, else a hidden prompt)."""
    me = _me(workdir)
    password = os.environ.get("PSEUDOLINK_USER_PASSWORD") or typer.prompt(
        f"New password for {user_id}", hide_input=True, confirmation_prompt=True)
    with _open(workdir) as cat:
        cat.set_password(user_id, password, actor=me)
    console.print(f"password of {user_id} set (stored as an argon2id hash)", highlight=False)


@users.command("deactivate")
def user_deactivate(user_id: UserId, workdir: WorkdirOption = None) -> None:
    """Stop a user from logging in or acting."""
    me = _me(workdir)
    with _open(workdir) as cat:
        cat.deactivate_user(user_id, actor=me)
    console.print(f"user {user_id} deactivated", highlight=False)


@users.command("list")
def user_list(workdir: WorkdirOption = None) -> None:
    """Every user, their role, organisation and whether they may act."""
    me = _me(workdir)
    with _open(workdir) as cat:
        cat.require(me, "user.manage")
        found = cat.list_users()
    table = Table("user", "role", "organisation", "active")
    for user in found:
        table.add_row(user.id, user.role, user.organisation_id or "", str(user.active))
    console.print(table)


# -- API keys -----------------------------------------------------------------------------

@keys.command("issue")
def key_issue(
    owner: Annotated[str, typer.Argument(
        help="Who the key is for (a person, an organisation or a service).")],
    days: Annotated[int | None, typer.Option(help="Valid for this many days.")] = None,
    quota: Annotated[int | None, typer.Option(help="Requests per day.")] = None,
    scope: Annotated[list[str] | None, typer.Option(
        help=f"What the key may do (repeatable): {' or '.join(API_KEY_SCOPES)} "
             "(default open_data).")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Issue a key; the secret is printed this once and is not stored."""
    unknown = sorted(set(scope or []) - set(API_KEY_SCOPES))
    if unknown:
        raise fail(f"--scope {', '.join(unknown)}: not a scope; choose from "
                   f"{', '.join(API_KEY_SCOPES)}")
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    me = _me(workdir)
    with _open(workdir) as cat:
        secret = cat.issue_api_key(owner, actor=me, expires_at=expires,
                                   daily_quota=quota, scopes=scope or ["open_data"])
    console.print("API key (shown once; store it now):", highlight=False)
    typer.echo(secret)


@keys.command("revoke")
def key_revoke(key_id: Annotated[str, typer.Argument(
                   help="The key's id (`apikey list`), not its secret.")],
               workdir: WorkdirOption = None) -> None:
    """Revoke a key: every request with it is refused from now on."""
    me = _me(workdir)
    with _open(workdir) as cat:
        cat.revoke_api_key(key_id, actor=me)
    console.print(f"API key {key_id} revoked", highlight=False)


@keys.command("list")
def key_list(workdir: WorkdirOption = None) -> None:
    """Every API key: owner, scopes, quota, expiry, revocation (never a secret)."""
    me = _me(workdir)
    with _open(workdir) as cat:
        cat.require(me, "apikey.issue")
        found = cat.list_api_keys()
    table = Table("key id", "owner", "scopes", "quota/day", "expires", "revoked")
    for key in found:
        table.add_row(key.key_id, key.owner, ",".join(key.scopes), str(key.daily_quota or "-"),
                      f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "-",
                      f"{key.revoked_at:%Y-%m-%d}" if key.revoked_at else "-")
    console.print(table)


# -- access requests ------------------------------------------------------------------

@requests.command("list")
def request_list(
    state: Annotated[list[str] | None, typer.Option(
        help=f"Only these states (repeatable): {', '.join(REQUEST_STATES)}.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Access requests: an officer sees the queue, a researcher their own."""
    unknown = sorted(set(state or []) - set(REQUEST_STATES))
    if unknown:
        raise fail(f"--state {', '.join(unknown)}: not a state; choose from "
                   f"{', '.join(REQUEST_STATES)}")
    me = _me(workdir)
    with _open(workdir) as cat:
        found = cat.list_requests(states=state)
        # A researcher sees their own requests only (issue 16), officers the queue.
        if cat.user_role(me) == "researcher":
            found = [r for r in found if me == r.requester_id or me in r.researchers]
    table = Table("request", "state", "form", "dataset", "requester", "ends")
    for r in found:
        table.add_row(r.id, r.state, r.release_form, r.dataset_id, r.requester_id,
                      f"{r.ends_at:%Y-%m-%d}" if r.ends_at else "-")
    console.print(table)


@requests.command("submit")
def request_submit(request_id: RequestId, workdir: WorkdirOption = None) -> None:
    """Submit your draft for review (it can no longer be amended)."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.submit_request(request_id, actor=actor)
    console.print(f"request {request_id} submitted", highlight=False)


@requests.command("review")
def request_review(request_id: RequestId, workdir: WorkdirOption = None) -> None:
    """Take a submitted request under review."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.start_review(request_id, actor=actor)
    console.print(f"request {request_id} under review", highlight=False)


@requests.command("approve")
def request_approve(request_id: RequestId, reason: ReasonOption,
                    workdir: WorkdirOption = None) -> None:
    """Approve (the risk report must already be attached)."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.decide_request(request_id, "approve", reason=reason, actor=actor)
    console.print(f"request {request_id} approved", highlight=False)


@requests.command("reject")
def request_reject(request_id: RequestId, reason: ReasonOption,
                   workdir: WorkdirOption = None) -> None:
    """Reject a request under review, with the reason the researcher will read."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.decide_request(request_id, "reject", reason=reason, actor=actor)
    console.print(f"request {request_id} rejected", highlight=False)


@requests.command("activate")
def request_activate(request_id: RequestId, workdir: WorkdirOption = None) -> None:
    """Open an approved request's access (room grant or take-out) from its start date."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.activate_request(request_id, actor=actor)
    console.print(f"request {request_id} active", highlight=False)


@requests.command("revoke")
def request_revoke(request_id: RequestId, reason: ReasonOption,
                   workdir: WorkdirOption = None) -> None:
    """End an active access now (its room grant stops within a minute)."""
    actor = _me(workdir)
    with _open(workdir) as cat:
        cat.revoke_request(request_id, reason=reason, actor=actor)
    console.print(f"request {request_id} revoked", highlight=False)

"""The privacy officers' console: log in, review requests, decide, watch budgets and audit.

Run by ``pseudolink serve console`` (``streamlit run`` on this file). The catalog URL comes
from ``PSEUDOLINK_DATABASE_URL``. The same accounts as the CLI: a login is a catalog
session (hashed token, expiry, revocation), throttled per account and per client address.
Every run re-checks the session, so an expired, revoked or deactivated login is sent back
to the form. Every page checks the user against the role matrix; every decision goes
through the catalog, which checks it again and audits it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

import catalog
from catalog.coltypes import utcnow
from catalog.console import charts, views
from catalog.console.text import LANGUAGES, VOTES, column, default_language, event, say, state
from catalog.sessions import DEFAULT_SESSION_LIFETIME

#: The newest audit entries shown on screen; the CSV export carries every match.
AUDIT_ROWS = 500


@st.cache_resource
def _catalog(url: str) -> catalog.Catalog:
    # The workspace root (from `serve console`): stored dataset paths are relative to it.
    return catalog.Catalog.connect(url, anchor=_audit_anchor(),
                                   root=os.environ.get("PSEUDOLINK_WORKSPACE_ROOT") or None)


def _audit_anchor() -> catalog.Anchor | None:
    """The audit signing key, so that each decision's head is signed as it commits.

    ``serve console`` names the workspace's key folder and checkpoint file; the key opens
    only with ``PSEUDOLINK_PASSPHRASE``. Without them the console still works, and its
    writes wait for the next ``pseudolink audit checkpoint`` (verify says NOT ANCHORED).
    """
    keys = os.environ.get("PSEUDOLINK_AUDIT_KEYS")
    path = os.environ.get("PSEUDOLINK_AUDIT_CHECKPOINTS")
    passphrase = os.environ.get("PSEUDOLINK_PASSPHRASE")
    if not (keys and path and passphrase) or not (Path(keys) / "audit-signing.key").exists():
        return None
    return catalog.Anchor(catalog.load_audit_signer(Path(keys), passphrase), Path(path))


def _client_address() -> str | None:
    """The browser's address as Streamlit saw it (behind a proxy: the proxy's)."""
    try:
        address = st.context.ip_address
    except Exception:  # bare mode (AppTest) has no request context
        return None
    return address if isinstance(address, str) and address else None


def _session_lifetime() -> timedelta:
    hours = os.environ.get("PSEUDOLINK_SESSION_HOURS", "").strip()
    return timedelta(hours=float(hours)) if hours else DEFAULT_SESSION_LIFETIME


def _lang() -> str:
    return st.session_state.get("lang", default_language())


def _t(key: str, **values: object) -> str:
    return say(key, _lang(), **values)


def _labels(*names: str) -> dict[str, str]:
    """Column labels for ``st.dataframe``: the data keeps its names, the screen reads these."""
    return {name: column(name, _lang()) for name in names}


def _table(frame, **kwargs) -> None:
    st.dataframe(frame, hide_index=True, column_config=_labels(*frame.columns), **kwargs)


def _states(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(state=[state(s, _lang()) for s in frame["state"]])


def _clear_session() -> None:
    """Forget the login, not the language the person chose."""
    lang = st.session_state.get("lang")
    st.session_state.clear()
    if lang is not None:
        st.session_state["lang"] = lang


def _login(cat: catalog.Catalog) -> None:
    st.title(_t("title"))
    if notice := st.session_state.pop("login_notice", None):
        st.warning(notice)
    with st.form("login"):
        user_id = st.text_input(_t("user"), key="login_user")
        password = st.text_input(_t("password"), type="password", key="login_password")
        submitted = st.form_submit_button(_t("log_in"))
    if submitted:
        try:
            token = cat.login(user_id.strip(), password, client="console",
                              address=_client_address(), lifetime=_session_lifetime())
        except catalog.LoginRefused as refused:
            st.error(_t("bad_credentials") if refused.reason == "bad_credentials"
                     else str(refused))
            return
        user = cat.session_user(token)
        if not catalog.permits(user.role, "console.login"):
            cat.logout(token)
            st.error(_t("role_refused", role=user.role))
            return
        st.session_state["session"] = token
        st.session_state["user"] = user.id
        st.rerun()


def _current_user(cat: catalog.Catalog) -> str | None:
    """The user of this browser session's catalog session, if still valid and allowed."""
    token = st.session_state.get("session")
    if token is None:
        return None
    try:
        user = cat.session_user(token)
    except catalog.LoginRefused as refused:
        _clear_session()
        st.session_state["login_notice"] = _t("logged_out", reason=refused)
        return None
    if not cat.authorize(user.id, "console.login"):
        _clear_session()
        return None
    return user.id


def _decision_form(cat: catalog.Catalog, request: catalog.RequestInfo, user: str) -> None:
    if request.state == "submitted" and cat.authorize(user, "request.start_review") \
            and st.button(_t("start_review"), key="start_review"):
        cat.start_review(request.id, actor=user)
        st.rerun()
    if request.state != "under_review":
        return
    if request.risk_report is None and cat.authorize(user, "request.attach_risk_report") \
            and st.button(_t("compute_risk"), key="compute_risk"):
        cat.compute_risk_report(request.id, actor=user)
        st.rerun()
    if request.release_form == "take_out":
        _committee(cat, request, user)
        return
    if not cat.authorize(user, "request.approve"):
        return
    failing = _failures(cat, request)
    reason = st.text_area(_t("reason"), key="decision_reason")
    left, right = st.columns(2)
    # Approve is the easy click only when the report meets the thresholds; otherwise it
    # names what fails, and Reject becomes the primary action.
    approve = left.button(_t("approve_despite", failures=", ".join(failing)) if failing
                          else _t("approve"), key="approve",
                          type="secondary" if failing else "primary")
    reject = right.button(_t("reject"), key="reject",
                          type="primary" if failing else "secondary")
    # Both buttons are drawn before either acts, so a refused Approve (no reason, say)
    # leaves Reject on the screen.
    for clicked, decision in ((approve, "approve"), (reject, "reject")):
        if clicked:
            try:
                cat.decide_request(request.id, decision, reason=reason, actor=user)
            except catalog.CatalogError as exc:
                st.error(str(exc))
                return
            done = {"approve": "flash_approved", "reject": "flash_rejected"}[decision]
            st.session_state["flash"] = _t(done, id=request.id)
            st.rerun()


def _failures(cat: catalog.Catalog, request: catalog.RequestInfo) -> list[str]:
    """What in the request's risk report misses its thresholds, in the reader's words."""
    if not request.risk_report:
        return []
    limits = cat.risk_limits(request.id)
    return [_t("fail_k" if f.rule == "k" else "fail_risk",
               value=f.value if not isinstance(f.value, float) else f"{f.value:g}",
               limit=f.limit)
            for f in views.threshold_failures(request.risk_report, limits)]


def _committee(cat: catalog.Catalog, request: catalog.RequestInfo, user: str) -> None:
    st.subheader(_t("committee"))
    if not request.committee:
        if cat.authorize(user, "committee.appoint"):
            users = cat.list_users()
            named = {request.requester_id, *request.researchers}
            # The catalog refuses any other choice; offering it would only invite an error.
            tied = {u.organisation_id for u in users if u.id in named}
            officers = [u.id for u in users
                        if u.active and u.role == "privacy_officer" and u.id not in named
                        and u.organisation_id is not None and u.organisation_id not in tied]
            members = st.multiselect(_t("members_pick"), officers, key="committee_members")
            if st.button(_t("appoint"), key="appoint"):
                cat.appoint_committee(request.id, members, actor=user)
                st.session_state["flash"] = _t("flash_appointed", n=len(members),
                                               id=request.id)
                st.rerun()
        else:
            st.info(_t("no_committee"))
        return
    st.write(_t("members", members=", ".join(request.committee),
                quorum=request.committee_quorum))
    votes = views.votes_table(request.votes)
    _table(votes.assign(vote=[_vote_label(v) for v in votes["vote"]]))
    if user in request.committee and all(v["reviewer"] != user for v in request.votes):
        vote = st.radio(_t("your_vote"), ["approve", "reject", "abstain"], key="vote",
                        horizontal=True, format_func=lambda v: _vote_label(v))
        reason = st.text_area(_t("vote_reason"), key="vote_reason")
        if st.button(_t("cast_vote"), key="cast_vote"):
            counted = cat.vote(request.id, vote, reason=reason, actor=user)
            st.session_state["flash"] = (counted.summary(counted.verdict)
                                         if counted.verdict is not None
                                         else _t("flash_voted", vote=_vote_label(vote)))
            st.rerun()
    if cat.authorize(user, "committee.decide") and st.button(_t("close_vote"), key="close"):
        counted = cat.close_committee(request.id, actor=user)
        st.session_state["flash"] = counted.summary()
        st.rerun()


def _vote_label(vote: str) -> str:
    ko, en = VOTES[vote]
    return ko if _lang() == "ko" else en


def _risk_report(cat: catalog.Catalog, request: catalog.RequestInfo) -> None:
    report = request.risk_report or {}
    limits = cat.risk_limits(request.id)
    st.subheader(_t("risk_report"))
    summary = pd.DataFrame([views.risk_summary(report)]).round(4)
    failing = views.threshold_failures(report, limits)
    flagged = {"k" if f.rule == "k" else "prosecutor_risk_max" for f in failing}
    # A failing value is red on the screen; the rule it misses is named just below.
    st.dataframe(summary.style.map(
        lambda _: "background-color: #fdd; color: #a00; font-weight: bold",
        subset=[c for c in summary.columns if c in flagged]),
        hide_index=True, column_config={
            name: st.column_config.NumberColumn(label, format="plain")  # 1, not 1.000000
            for name, label in _labels(*summary.columns).items()})
    if failing:
        st.error(_t("fails_heading", failures="; ".join(_failures(cat, request))))
    else:
        st.info(_t("thresholds_met", k=limits.k, risk=limits.prosecutor_risk_max))
    sizes = views.class_size_table(report)
    risks = views.risk_per_record_table(report | {"threshold": limits.prosecutor_risk_max})
    left, right = st.columns(2)
    left.caption(_t("class_sizes_caption"))
    left.altair_chart(charts.class_sizes(sizes, limits.k, column("class size", _lang()),
                                         column("classes", _lang())))
    right.caption(_t("risk_caption", limit=limits.prosecutor_risk_max))
    right.altair_chart(charts.risk_per_record(risks, column("risk", _lang()),
                                              column("records", _lang())))
    _table(risks)


def _queue(cat: catalog.Catalog, user: str) -> None:
    st.header(_t("page_queue"))
    queue = cat.review_queue()
    _table(_states(views.queue_table(queue)))
    if not queue:
        st.info(_t("nothing_waits"))
        return
    chosen = st.selectbox(_t("request"), [r.id for r in queue], key="request_id")
    request = cat.get_request(chosen)
    st.subheader(_t("request_heading", id=request.id, state=state(request.state, _lang())))
    period = (_t("until", date=views.kst_date(request.ends_at).isoformat())
              if request.ends_at else "-")
    st.table({_t("project"): f"{request.project_id or '-'} ({request.purpose})",
              _t("lawful_basis"): request.lawful_basis,
              _t("people"): ", ".join(request.researchers)
              + f" ({request.requester_organisation or _t('no_organisation')})",
              _t("setting"): request.setting,
              _t("data"): f"{request.dataset_id}: {', '.join(request.columns)}",
              _t("outputs"): f"{request.release_form}: {request.outputs}",
              _t("period"): period})
    if request.risk_report:
        _risk_report(cat, request)
    _decision_form(cat, request, user)


def _decided(cat: catalog.Catalog, user: str) -> None:
    st.header(_t("decided_heading"))
    decided = cat.list_requests(states=["approved", "rejected", "active", "expired",
                                        "revoked"])
    _table(_states(views.queue_table(decided).assign(
        reason=[r.state_reason or "" for r in decided])))
    _manage_access(cat, [r for r in decided if r.state in ("approved", "active")], user)
    st.subheader(_t("open_releases"))
    releases = cat.open_releases()
    _table(views.release_table(releases, utcnow()))
    if releases and cat.authorize(user, "release.revoke"):
        chosen = st.selectbox(_t("release"), [r.id for r in releases], key="release_id")
        reason = st.text_input(_t("revoke_release_reason"), key="revoke_release_reason")
        if st.button(_t("revoke_release"), key="revoke_release"):
            cat.revoke_release(chosen, reason=reason, actor=user)
            st.session_state["flash"] = _t("flash_release_revoked", id=chosen)
            st.rerun()


def _manage_access(cat: catalog.Catalog, requests: list[catalog.RequestInfo],
                   user: str) -> None:
    """Activate an approved request, or revoke an active one before its end date."""
    may_activate = cat.authorize(user, "request.activate")
    may_revoke = cat.authorize(user, "request.revoke")
    if not requests or not (may_activate or may_revoke):
        return
    st.subheader(_t("manage"))
    chosen = st.selectbox(_t("request"), [r.id for r in requests], key="manage_request")
    request = next(r for r in requests if r.id == chosen)
    if request.state == "approved" and may_activate \
            and st.button(_t("activate"), key="activate"):
        cat.activate_request(chosen, actor=user)
        st.session_state["flash"] = _t("flash_active", id=chosen)
        st.rerun()
    if request.state == "active" and may_revoke:
        reason = st.text_input(_t("revoke_reason"), key="revoke_request_reason")
        if st.button(_t("revoke_access"), key="revoke_request"):
            cat.revoke_request(chosen, reason=reason, actor=user)
            st.session_state["flash"] = _t("flash_revoked", id=chosen)
            st.rerun()


def _budgets(cat: catalog.Catalog) -> None:
    st.header(_t("budgets_heading"))
    found = cat.list_budgets()
    _table(pd.DataFrame([{"dataset": b.dataset_id, "consumer": b.consumer,
                          "total": b.epsilon_total, "spent": b.epsilon_spent,
                          "remaining": b.remaining} for b in found],
                        columns=["dataset", "consumer", "total", "spent", "remaining"]))
    if found:
        labels = [f"{b.dataset_id} / {b.consumer}" for b in found]
        chosen = found[labels.index(st.selectbox(_t("budget"), labels, key="budget"))]
        ledger = cat.budget_ledger(chosen.dataset_id, chosen.consumer)
        if ledger:
            st.caption(_t("spend_caption"))
            st.altair_chart(charts.spend(views.spend_over_time(ledger, chosen.epsilon_total),
                                         _labels("spent", "remaining"),
                                         column("time", _lang())))


def _audit(cat: catalog.Catalog, user: str) -> None:
    st.header(_t("audit_heading"))
    if st.button(_t("verify"), key="verify"):
        cat.require(user, "audit.verify")
        verdict = cat.verify_audit()
        if verdict.ok:
            # Links only: a rewrite with every hash recomputed passes this; the signed
            # checkpoints, outside the database, are checked by `pseudolink audit verify`.
            st.success(_t("chain_ok", n=verdict.entries))
        else:
            st.error(_t("chain_broken", n=len(verdict.problems)))
            for problem in verdict.problems:
                st.write(f"- {problem}")
    cat.require(user, "audit.read")
    entries = cat.audit_entries()
    who, what, when = st.columns(3)
    actors = who.multiselect(_t("filter_actor"), sorted({e["actor"] for e in entries}),
                             key="audit_actors")
    actions = what.multiselect(_t("filter_action"), sorted({e["action"] for e in entries}),
                               key="audit_actions")
    days = [views.kst_date(e["ts"]) for e in entries] or [utcnow().date()]
    dates = when.date_input(_t("filter_dates"), (min(days), max(days)), key="audit_dates")
    # While a person has picked only the first day of a range, show from that day on.
    span = ((dates[0], dates[-1] if len(dates) > 1 else max(days))
            if isinstance(dates, tuple | list) and dates else None)
    table = views.audit_table(entries, actors=actors, actions=actions, dates=span)
    st.caption(_t("audit_shown", n=len(table), shown=min(len(table), AUDIT_ROWS)))
    _table(table.head(AUDIT_ROWS).drop(columns="details"))
    st.download_button(_t("export_csv"), views.csv_for_excel(table, _labels(*table.columns)),
                       file_name="audit-trail.csv", mime="text/csv", key="audit_csv")


def _timeline(cat: catalog.Catalog, user: str) -> None:
    st.header(_t("page_timeline"))
    cat.require(user, "audit.read")
    entries = cat.audit_entries()
    projects = sorted({p for e in entries if (p := views.project_of(e))})
    if not projects:
        st.info(_t("no_timeline"))
        return
    project = st.selectbox(_t("project"), projects, key="timeline_project")
    timeline = views.project_timeline(entries, project)
    _table(timeline.assign(at=[views.kst(t) for t in timeline["at"]],
                           event=[event(e, _lang()) for e in timeline["event"]]))


def _language_switch() -> None:
    """Korean unless the person (or ``PSEUDOLINK_CONSOLE_LANGUAGE``) chose English."""
    st.session_state.setdefault("lang", default_language())
    st.sidebar.radio(say("language", "ko"), list(LANGUAGES), format_func=LANGUAGES.get,
                     key="lang", horizontal=True)


def main() -> None:
    st.set_page_config(page_title="pseudolink · privacy officers", layout="wide")
    # Streamlit's "Press Enter to submit form" hint is English only: hide it; the buttons
    # say what they do in the page's language.
    st.html("<style>[data-testid='InputInstructions']{display:none}</style>")
    _language_switch()
    url = os.environ.get("PSEUDOLINK_DATABASE_URL")
    if not url:
        st.error(_t("no_database"))
        return
    cat = _catalog(url)
    user = _current_user(cat)
    if user is None:
        st.session_state.pop("user", None)
        st.session_state.pop("session", None)
        _login(cat)
        return
    st.sidebar.write(_t("logged_in_as", user=user))
    if st.sidebar.button(_t("log_out"), key="logout"):
        cat.logout(st.session_state["session"])
        _clear_session()
        st.rerun()
    pages = {_t("page_queue"): lambda: _queue(cat, user),
             _t("page_decided"): lambda: _decided(cat, user),
             _t("page_budgets"): lambda: _budgets(cat),
             _t("page_timeline"): lambda: _timeline(cat, user),
             _t("page_audit"): lambda: _audit(cat, user)}
    if st.session_state.get("page") not in pages:  # the language changed under it
        st.session_state.pop("page", None)
    page = st.sidebar.radio(_t("page"), list(pages), key="page")
    if flash := st.session_state.pop("flash", None):
        st.success(flash)
    try:
        pages[page]()
    except catalog.CatalogError as exc:
        st.error(str(exc))


# Streamlit runs this file as __main__; importing it (doctest collection) does nothing.
if __name__ == "__main__":
    main()

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

import streamlit as st

import catalog
from catalog.coltypes import utcnow
from catalog.console import views
from catalog.sessions import DEFAULT_SESSION_LIFETIME


@st.cache_resource
def _catalog(url: str) -> catalog.Catalog:
    return catalog.Catalog.connect(url, anchor=_audit_anchor())


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


def _login(cat: catalog.Catalog) -> None:
    st.title("Privacy officers' console")
    if notice := st.session_state.pop("login_notice", None):
        st.warning(notice)
    with st.form("login"):
        user_id = st.text_input("User", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        try:
            token = cat.login(user_id.strip(), password, client="console",
                              address=_client_address(), lifetime=_session_lifetime())
        except catalog.LoginRefused as refused:
            st.error("Unknown user or wrong password." if refused.reason == "bad_credentials"
                     else str(refused))
            return
        user = cat.session_user(token)
        if not catalog.permits(user.role, "console.login"):
            cat.logout(token)
            st.error(f"Role {user.role} may not use the console.")
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
        st.session_state.clear()
        st.session_state["login_notice"] = f"Logged out: {refused}"
        return None
    if not cat.authorize(user.id, "console.login"):
        st.session_state.clear()
        return None
    return user.id


def _decision_form(cat: catalog.Catalog, request: catalog.RequestInfo, user: str) -> None:
    if request.state == "submitted" and cat.authorize(user, "request.start_review") \
            and st.button("Start review", key="start_review"):
        cat.start_review(request.id, actor=user)
        st.rerun()
    if request.state != "under_review":
        return
    if request.risk_report is None and cat.authorize(user, "request.attach_risk_report") \
            and st.button("Compute risk report", key="compute_risk"):
        cat.compute_risk_report(request.id, actor=user)
        st.rerun()
    if request.release_form == "take_out":
        _committee(cat, request, user)
        return
    if not cat.authorize(user, "request.approve"):
        return
    reason = st.text_area("Reason for the decision", key="decision_reason")
    approve, reject = st.columns(2)
    for column, decision, label, done in ((approve, "approve", "Approve", "approved"),
                                          (reject, "reject", "Reject", "rejected")):
        if column.button(label, key=decision, type="primary" if decision == "approve"
                         else "secondary"):
            cat.decide_request(request.id, decision, reason=reason, actor=user)
            st.session_state["flash"] = f"Request {request.id} {done}."
            st.rerun()


def _committee(cat: catalog.Catalog, request: catalog.RequestInfo, user: str) -> None:
    st.subheader("Release review committee (반출)")
    if not request.committee:
        if cat.authorize(user, "committee.appoint"):
            users = cat.list_users()
            named = {request.requester_id, *request.researchers}
            # The catalog refuses any other choice; offering it would only invite an error.
            tied = {u.organisation_id for u in users if u.id in named}
            officers = [u.id for u in users
                        if u.active and u.role == "privacy_officer" and u.id not in named
                        and u.organisation_id is not None and u.organisation_id not in tied]
            members = st.multiselect("Members (3 to 7, none from any researcher's organisation)",
                                     officers, key="committee_members")
            if st.button("Appoint committee", key="appoint"):
                cat.appoint_committee(request.id, members, actor=user)
                st.session_state["flash"] = (f"Committee of {len(members)} appointed for "
                                             f"request {request.id}.")
                st.rerun()
        else:
            st.info("No committee yet: an officer appoints one.")
        return
    st.write(f"Members: {', '.join(request.committee)}; quorum {request.committee_quorum}")
    st.dataframe(views.votes_table(request.votes), hide_index=True)
    if user in request.committee and all(v["reviewer"] != user for v in request.votes):
        vote = st.radio("Your vote", ["approve", "reject", "abstain"], key="vote",
                        horizontal=True)
        reason = st.text_area("Reason for your vote", key="vote_reason")
        if st.button("Cast vote", key="cast_vote"):
            counted = cat.vote(request.id, vote, reason=reason, actor=user)
            st.session_state["flash"] = (counted.summary(counted.verdict)
                                         if counted.verdict is not None
                                         else f"Vote recorded: {vote}.")
            st.rerun()
    if cat.authorize(user, "committee.decide") and st.button("Close the vote", key="close"):
        counted = cat.close_committee(request.id, actor=user)
        st.session_state["flash"] = counted.summary()
        st.rerun()


def _risk_report(report: dict) -> None:
    st.subheader("Risk report")
    st.dataframe([views.risk_summary(report)], hide_index=True)
    sizes = views.class_size_table(report)
    risks = views.risk_per_record_table(report)
    left, right = st.columns(2)
    left.caption("Equivalence-class sizes (classes per size)")
    left.bar_chart(sizes, x="class size", y="classes")
    right.caption(f"Risk per record (threshold {report.get('threshold')})")
    right.bar_chart(risks, x="risk", y="records")
    st.dataframe(risks, hide_index=True)


def _queue(cat: catalog.Catalog, user: str) -> None:
    st.header("Review queue")
    queue = cat.review_queue()
    st.dataframe(views.queue_table(queue), hide_index=True)
    if not queue:
        st.info("Nothing awaits review.")
        return
    chosen = st.selectbox("Request", [r.id for r in queue], key="request_id")
    request = cat.get_request(chosen)
    st.subheader(f"Request {request.id} — {request.state}")
    st.table({"Project": f"{request.project_id or '-'} ({request.purpose})",
              "Lawful basis": request.lawful_basis,
              "People": ", ".join(request.researchers)
              + f" ({request.requester_organisation or 'no organisation'})",
              "Setting": request.setting,
              "Data": f"{request.dataset_id}: {', '.join(request.columns)}",
              "Outputs": f"{request.release_form}: {request.outputs}",
              "Period": f"until {request.ends_at:%Y-%m-%d}" if request.ends_at else "-"})
    if request.risk_report:
        _risk_report(request.risk_report)
    _decision_form(cat, request, user)


def _decided(cat: catalog.Catalog, user: str) -> None:
    st.header("Decisions, releases and expiry")
    decided = cat.list_requests(states=["approved", "rejected", "active", "expired",
                                        "revoked"])
    st.dataframe(views.queue_table(decided).assign(
        reason=[r.state_reason or "" for r in decided]), hide_index=True)
    _manage_access(cat, [r for r in decided if r.state in ("approved", "active")], user)
    st.subheader("Open releases")
    releases = cat.open_releases()
    st.dataframe(views.release_table(releases, utcnow()), hide_index=True)
    if releases and cat.authorize(user, "release.revoke"):
        chosen = st.selectbox("Release", [r.id for r in releases], key="release_id")
        reason = st.text_input("Reason for revoking the release", key="revoke_release_reason")
        if st.button("Revoke release", key="revoke_release"):
            cat.revoke_release(chosen, reason=reason, actor=user)
            st.session_state["flash"] = f"Release {chosen} revoked."
            st.rerun()


def _manage_access(cat: catalog.Catalog, requests: list[catalog.RequestInfo],
                   user: str) -> None:
    """Activate an approved request, or revoke an active one before its end date."""
    may_activate = cat.authorize(user, "request.activate")
    may_revoke = cat.authorize(user, "request.revoke")
    if not requests or not (may_activate or may_revoke):
        return
    st.subheader("Activate or revoke access")
    chosen = st.selectbox("Request", [r.id for r in requests], key="manage_request")
    request = next(r for r in requests if r.id == chosen)
    if request.state == "approved" and may_activate \
            and st.button("Activate access", key="activate"):
        cat.activate_request(chosen, actor=user)
        st.session_state["flash"] = f"Request {chosen} is active."
        st.rerun()
    if request.state == "active" and may_revoke:
        reason = st.text_input("Reason for revoking access", key="revoke_request_reason")
        if st.button("Revoke access", key="revoke_request"):
            cat.revoke_request(chosen, reason=reason, actor=user)
            st.session_state["flash"] = f"Request {chosen} revoked."
            st.rerun()


def _budgets(cat: catalog.Catalog) -> None:
    st.header("Privacy budgets")
    found = cat.list_budgets()
    st.dataframe([{"dataset": b.dataset_id, "consumer": b.consumer, "total": b.epsilon_total,
                   "spent": b.epsilon_spent, "remaining": b.remaining} for b in found],
                  hide_index=True)
    if found:
        labels = [f"{b.dataset_id} / {b.consumer}" for b in found]
        chosen = found[labels.index(st.selectbox("Budget", labels, key="budget"))]
        ledger = cat.budget_ledger(chosen.dataset_id, chosen.consumer)
        if ledger:
            st.line_chart(views.spend_over_time(ledger, chosen.epsilon_total), x="time",
                          y=["spent", "remaining"])


def _audit(cat: catalog.Catalog, user: str) -> None:
    st.header("Audit trail")
    if st.button("Verify the hash chain", key="verify"):
        cat.require(user, "audit.verify")
        verdict = cat.verify_audit()
        if verdict.ok:
            # Links only: a rewrite with every hash recomputed passes this; the signed
            # checkpoints, outside the database, are checked by `pseudolink audit verify`.
            st.success(f"Hash chain consistent: {verdict.entries} entries, every link "
                       "holds. Only `pseudolink audit verify`, against the signed "
                       "checkpoints, can call the log intact.")
        else:
            st.error(f"Audit log BROKEN: {len(verdict.problems)} problem(s).")
            for problem in verdict.problems:
                st.write(f"- {problem}")
    cat.require(user, "audit.read")
    entries = cat.audit_entries()[-200:][::-1]
    st.dataframe([{k: e[k] for k in ("seq", "ts", "actor", "action", "target")}
                  for e in entries], hide_index=True)


def _timeline(cat: catalog.Catalog, user: str) -> None:
    st.header("Project timeline")
    cat.require(user, "audit.read")
    entries = cat.audit_entries()
    projects = sorted({p for e in entries if (p := views.project_of(e))})
    if not projects:
        st.info("No linkage stage or exchange event recorded yet.")
        return
    project = st.selectbox("Project", projects, key="timeline_project")
    st.dataframe(views.project_timeline(entries, project), hide_index=True)


def main() -> None:
    st.set_page_config(page_title="pseudolink · privacy officers", layout="wide")
    url = os.environ.get("PSEUDOLINK_DATABASE_URL")
    if not url:
        st.error("Set PSEUDOLINK_DATABASE_URL (pseudolink serve console does).")
        return
    cat = _catalog(url)
    user = _current_user(cat)
    if user is None:
        st.session_state.pop("user", None)
        st.session_state.pop("session", None)
        _login(cat)
        return
    st.sidebar.write(f"Logged in as **{user}**")
    if st.sidebar.button("Log out", key="logout"):
        cat.logout(st.session_state["session"])
        st.session_state.clear()
        st.rerun()
    page = st.sidebar.radio("Page", ["Review queue", "Decisions and releases", "Budgets",
                                     "Project timeline", "Audit trail"], key="page")
    if flash := st.session_state.pop("flash", None):
        st.success(flash)
    try:
        {"Review queue": lambda: _queue(cat, user),
         "Decisions and releases": lambda: _decided(cat, user),
         "Budgets": lambda: _budgets(cat),
         "Project timeline": lambda: _timeline(cat, user),
         "Audit trail": lambda: _audit(cat, user)}[page]()
    except catalog.CatalogError as exc:
        st.error(str(exc))


# Streamlit runs this file as __main__; importing it (doctest collection) does nothing.
if __name__ == "__main__":
    main()

"""The researcher portal's routes: log in, browse the dictionary, draft, submit, follow.

Every route reads or changes the catalog through the same ``Catalog`` methods the CLI
calls, as the logged-in person: the role matrix and the workflow refuse what is not
theirs, and the portal shows the refusal as one line. Only researchers see the pages; an
officer who logs in is sent to the console.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)

import catalog
from catalog.portal import pages
from catalog.portal.auth import (
    COOKIE,
    LANG_COOKIE,
    LOGIN_COOKIE,
    cookie_options,
    csrf_ok,
    csrf_token,
    session_cookie,
)
from catalog.portal.text import SEOUL, language, word

#: Pages load nothing but themselves: no script at all, styles inline, forms to self.
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
          "frame-ancestors 'none'; base-uri 'none'")

#: ``(user_id) -> the user's airlock requests``; wired by ``pseudolink serve portal``,
#: since the catalog does not import the analysis room.
OutboxReader = Callable[[str], Sequence[Any]]


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _day(text: str, *, end: bool) -> datetime | None:
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise catalog.CatalogError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day + timedelta(days=1) if end else day, time(), SEOUL)


def create_app(database_url: str, *, root: str | None = None, hub_url: str = "/hub/",
               airlock_outbox: OutboxReader | None = None,
               secure_cookie: bool = False, anchor: catalog.Anchor | None = None) -> FastAPI:
    """The portal over one catalog; ``secure_cookie`` when served behind TLS.

    With an ``anchor`` (the audit signing key) each audited write signs the chain head it
    leaves, as the console's do.
    """
    cat = catalog.Catalog.connect(database_url, root=root, anchor=anchor)
    app = FastAPI(title="pseudolink researcher portal", docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.middleware("http")
    async def headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(_Refused)
    async def refused(_request: Request, exc: _Refused) -> Response:
        return exc.response

    def lang_of(request: Request) -> str:
        return language(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))

    def page(request: Request, title: str, body: str, *, status: int = 200,
             user: str | None = None, token: str | None = None,
             error: str | None = None) -> HTMLResponse:
        lang = lang_of(request)
        message = word("done", lang) if request.query_params.get("done") else None
        response = HTMLResponse(pages.layout(title, body, lang=lang, user=user,
                                             csrf=csrf_token(token) if token else None,
                                             message=message, error=error),
                                status_code=status)
        if request.query_params.get("lang") in ("ko", "en"):
            response.set_cookie(LANG_COOKIE, lang, samesite="strict", httponly=True,
                                secure=secure_cookie, path="/")
        return response

    def researcher(request: Request) -> tuple[catalog.UserInfo, str]:
        """The logged-in researcher and their token; otherwise the login or console page."""
        token = session_cookie(request)
        try:
            user = cat.session_user(token)
        except catalog.LoginRefused:
            raise _Refused(RedirectResponse("/login", status_code=303)) from None
        if user.role != "researcher":
            raise _Refused(page(request, word("officer_title", lang_of(request)),
                                pages.officer_page(lang_of(request)), status=403,
                                user=user.id, token=token))
        return user, token

    def posted(request: Request, token: str, form_csrf: str | None) -> None:
        if not csrf_ok(token, form_csrf):
            raise _Refused(HTMLResponse("error: the form's CSRF token is missing or wrong; "
                                        "reload the page", status_code=403))

    # -- logging in ------------------------------------------------------------------------

    def login_page(request: Request, *, status: int = 200,
                   error: str | None = None) -> HTMLResponse:
        nonce = secrets.token_urlsafe(24)
        response = page(request, word("login", lang_of(request)),
                        pages.login_page(lang_of(request), nonce), status=status, error=error)
        response.set_cookie(LOGIN_COOKIE, nonce, **cookie_options(secure_cookie))  # type: ignore[arg-type]
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> HTMLResponse:
        return login_page(request)

    @app.post("/login")
    def login(request: Request, user: str = Form(""), password: str = Form(""),
              csrf: str = Form("")) -> Response:
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not (nonce and csrf and secrets.compare_digest(nonce, csrf)):
            return login_page(request, status=403,
                              error="the login form expired or came from elsewhere; "
                                    "log in again")
        address = request.client.host if request.client else None
        try:
            token = cat.login(user.strip(), password, client="portal", address=address)
        except catalog.LoginRefused as exc:
            return login_page(request, status=401, error=str(exc))
        response = RedirectResponse("/datasets", status_code=303)
        response.set_cookie(COOKIE, token, **cookie_options(secure_cookie))  # type: ignore[arg-type]
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        token = session_cookie(request)
        if token:
            posted(request, token, csrf)
            cat.logout(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready when the catalog answers at the newest schema; no detail for strangers."""
        try:
            problems = cat.readiness()
        except Exception as exc:  # any failure to ask is itself "not ready"
            problems = [type(exc).__name__]
        if problems:
            return JSONResponse({"status": "not_ready", "problems": len(problems)},
                                status_code=503, headers={"Retry-After": "30"})
        return JSONResponse({"status": "ready"})

    # -- the data dictionary -----------------------------------------------------------------

    @app.get("/")
    def home() -> Response:
        return RedirectResponse("/datasets", status_code=303)

    @app.get("/datasets", response_class=HTMLResponse)
    def datasets(request: Request, q: str = "") -> HTMLResponse:
        user, token = researcher(request)
        found = cat.search_datasets(q)
        uses = cat.approved_uses([d.id for d in found])
        lang = lang_of(request)
        return page(request, word("nav_datasets", lang),
                    pages.datasets_page(found, uses, q, lang), user=user.id, token=token)

    # -- requests ------------------------------------------------------------------------------

    @app.get("/requests", response_class=HTMLResponse)
    def my_requests(request: Request) -> HTMLResponse:
        user, token = researcher(request)
        lang = lang_of(request)
        return page(request, word("nav_requests", lang),
                    pages.requests_page(cat.my_requests(user.id), lang),
                    user=user.id, token=token)

    def form_values(form: Any) -> dict[str, Any]:
        return {"columns": form.getlist("columns"), "purpose": form.get("purpose", ""),
                "lawful_basis": form.get("lawful_basis", ""),
                "justification": form.get("justification", ""),
                "researchers": form.get("researchers", ""), "setting": form.get("setting", ""),
                "outputs": form.get("outputs", ""),
                "release_form": form.get("release_form", ""),
                "starts": form.get("starts", ""), "ends": form.get("ends", "")}

    def fields(values: dict[str, Any]) -> dict[str, Any]:
        ends = _day(values["ends"], end=True)
        if ends is None:
            raise catalog.CatalogError(word("ends", "en") + " is required")
        return {"columns": values["columns"], "purpose": values["purpose"],
                "lawful_basis": values["lawful_basis"],
                "justification": values["justification"],
                "researchers": [p.strip() for p in values["researchers"].split(",")
                                if p.strip()],
                "setting": values["setting"], "outputs": values["outputs"],
                "release_form": values["release_form"],
                "starts_at": _day(values["starts"], end=False), "ends_at": ends}

    def dataset_or_404(request: Request, dataset_id: str, user: str, token: str) -> Any:
        found = cat.dataset(dataset_id) if dataset_id else None
        if found is None:
            lang = lang_of(request)
            raise _Refused(page(request, word("nav_new", lang),
                                f'<p class="card"><a href="/datasets">'
                                f'{pages.e(word("choose_dataset", lang))}</a></p>',
                                status=404, user=user, token=token))
        return found

    @app.get("/requests/new", response_class=HTMLResponse)
    def new_form(request: Request, dataset: str = "") -> HTMLResponse:
        user, token = researcher(request)
        chosen = dataset_or_404(request, dataset, user.id, token)
        lang = lang_of(request)
        return page(request, word("new_title", lang),
                    pages.request_form(chosen, {}, lang, csrf_token(token), "/requests/new"),
                    user=user.id, token=token)

    @app.post("/requests/new")
    async def create(request: Request) -> Response:
        user, token = researcher(request)
        form = await request.form()
        posted(request, token, form.get("csrf"))  # type: ignore[arg-type]
        chosen = dataset_or_404(request, str(form.get("dataset", "")), user.id, token)
        values = form_values(form)
        request_id = f"req-{datetime.now(SEOUL):%Y%m%d}-{secrets.token_hex(3)}"
        try:
            cat.create_request(request_id, dataset_id=chosen.id, actor=user.id,
                               **fields(values))
        except catalog.CatalogError as exc:
            lang = lang_of(request)
            return page(request, word("new_title", lang),
                        pages.request_form(chosen, values, lang, csrf_token(token),
                                           "/requests/new"),
                        status=400, user=user.id, token=token, error=str(exc))
        return RedirectResponse(f"/requests/{request_id}?done=1", status_code=303)

    def mine(request: Request, request_id: str, user: str, token: str) -> Any:
        try:
            return cat.request_for(request_id, user)
        except catalog.CatalogError as exc:
            raise _Refused(page(request, word("request", lang_of(request)), "", status=404,
                                user=user, token=token, error=str(exc))) from None

    @app.get("/requests/{request_id}", response_class=HTMLResponse)
    def show(request: Request, request_id: str) -> HTMLResponse:
        user, token = researcher(request)
        found = mine(request, request_id, user.id, token)
        lang = lang_of(request)
        return page(request, f"{word('request', lang)} {found.id}",
                    pages.request_page(found, lang, csrf_token(token), user.id),
                    user=user.id, token=token)

    @app.get("/requests/{request_id}/amend", response_class=HTMLResponse)
    def amend_form(request: Request, request_id: str) -> HTMLResponse:
        user, token = researcher(request)
        found = mine(request, request_id, user.id, token)
        chosen = dataset_or_404(request, found.dataset_id, user.id, token)
        values = {"columns": found.columns, "purpose": found.purpose,
                  "lawful_basis": found.lawful_basis, "justification": found.justification,
                  "researchers": ", ".join(p for p in found.researchers if p != user.id),
                  "setting": found.setting, "outputs": found.outputs,
                  "release_form": found.release_form,
                  "starts": found.starts_at.astimezone(SEOUL).date().isoformat()
                  if found.starts_at else "",
                  "ends": (found.ends_at.astimezone(SEOUL) - timedelta(days=1)).date().isoformat()
                  if found.ends_at else ""}
        lang = lang_of(request)
        return page(request, word("amend_title", lang),
                    pages.request_form(chosen, values, lang, csrf_token(token),
                                       f"/requests/{pages.u(request_id)}/amend"),
                    user=user.id, token=token)

    @app.post("/requests/{request_id}/amend")
    async def amend(request: Request, request_id: str) -> Response:
        user, token = researcher(request)
        form = await request.form()
        posted(request, token, form.get("csrf"))  # type: ignore[arg-type]
        found = mine(request, request_id, user.id, token)
        values = form_values(form)
        try:
            cat.amend_request(request_id, actor=user.id, **fields(values))
        except catalog.CatalogError as exc:
            lang = lang_of(request)
            chosen = dataset_or_404(request, found.dataset_id, user.id, token)
            return page(request, word("amend_title", lang),
                        pages.request_form(chosen, values, lang, csrf_token(token),
                                           f"/requests/{pages.u(request_id)}/amend"),
                        status=400, user=user.id, token=token, error=str(exc))
        return RedirectResponse(f"/requests/{pages.u(request_id)}?done=1", status_code=303)

    def act(request: Request, request_id: str, csrf: str,
            do: Callable[[str], Any]) -> Response:
        user, token = researcher(request)
        posted(request, token, csrf)
        mine(request, request_id, user.id, token)
        try:
            result = do(user.id)
        except catalog.CatalogError as exc:
            found = mine(request, request_id, user.id, token)
            lang = lang_of(request)
            return page(request, f"{word('request', lang)} {found.id}",
                        pages.request_page(found, lang, csrf_token(token), user.id),
                        status=409, user=user.id, token=token, error=str(exc))
        target = result if isinstance(result, str) else request_id
        return RedirectResponse(f"/requests/{pages.u(target)}?done=1", status_code=303)

    @app.post("/requests/{request_id}/submit")
    def submit(request: Request, request_id: str, csrf: str = Form("")) -> Response:
        return act(request, request_id, csrf,
                   lambda me: cat.submit_request(request_id, actor=me))

    @app.post("/requests/{request_id}/withdraw")
    def withdraw(request: Request, request_id: str, csrf: str = Form("")) -> Response:
        return act(request, request_id, csrf,
                   lambda me: cat.withdraw_request(request_id, actor=me))

    @app.post("/requests/{request_id}/renew")
    def renew(request: Request, request_id: str, csrf: str = Form(""),
              ends: str = Form("")) -> Response:
        def do(me: str) -> str:
            ends_at = _day(ends, end=True)
            if ends_at is None:
                raise catalog.CatalogError("give the new end date")
            taken = {r.id for r in cat.my_requests(me)}
            n = 1
            while f"{request_id}-renewal-{n}" in taken:
                n += 1
            return cat.renew_request(request_id, f"{request_id}-renewal-{n}",
                                     ends_at=ends_at, actor=me).id
        return act(request, request_id, csrf, do)

    # -- my access -----------------------------------------------------------------------------

    @app.get("/access", response_class=HTMLResponse)
    def access(request: Request) -> HTMLResponse:
        user, token = researcher(request)
        lang = lang_of(request)
        outbox = airlock_outbox(user.id) if airlock_outbox is not None else []
        return page(request, word("nav_access", lang),
                    pages.access_page(cat.active_access(user.id), cat.my_takeouts(user.id),
                                      outbox, hub_url, lang), user=user.id, token=token)

    @app.get("/takeouts/{release_id}")
    def takeout(request: Request, release_id: str) -> Response:
        user, token = researcher(request)
        try:
            path = cat.takeout_file(release_id, user.id)
        except catalog.CatalogError as exc:
            return page(request, word("takeouts", lang_of(request)), "", status=404,
                        user=user.id, token=token, error=str(exc))
        return FileResponse(path, media_type="application/octet-stream",
                            filename=f"{release_id}.age")

    return app

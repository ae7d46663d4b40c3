"""The portal's HTML: one layout and a function per page, every catalog value escaped.

Titles, purposes, reasons and column names are written by people; ``e`` escapes each one
before it meets markup, and ids in URLs are quoted. No script is served at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from catalog.models import PURPOSES, RELEASE_FORMS
from catalog.portal.text import label, last_day, seoul, word

STYLE = """
body{font-family:"Noto Sans KR","Malgun Gothic","Apple SD Gothic Neo",sans-serif;margin:0;
color:#1d2733;background:#f6f8fa}header{background:#0b4d3a;color:#fff;padding:.8rem 2rem;
display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}header a{color:#fff}
header .me{margin-left:auto}header form{display:inline}main{max-width:72rem;margin:0 auto;
padding:1.2rem 2rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}
table{border-collapse:collapse;background:#fff;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;
padding:.9rem 1.2rem;margin:.8rem 0}.meta{color:#57606a}.error{background:#ffebe9;
border:1px solid #cf222e;padding:.6rem 1rem;border-radius:6px}.ok{background:#dafbe1;
border:1px solid #1a7f37;padding:.6rem 1rem;border-radius:6px}label{display:block;
margin:.6rem 0 .2rem;font-weight:600}input[type=text],input[type=date],input[type=password],
textarea,select{width:100%;max-width:40rem;padding:.35rem;font:inherit}textarea{height:4rem}
button{background:#0b4d3a;color:#fff;border:0;border-radius:4px;padding:.45rem .9rem;
font:inherit;cursor:pointer;margin:.3rem .3rem .3rem 0}.actions form{display:inline}
.state{display:inline-block;padding:.1rem .5rem;border-radius:1rem;background:#eef2f6}
.di{color:#8c959f}
"""


def e(value: Any) -> str:
    """Escape anything for HTML text or an attribute value."""
    return escape("" if value is None else str(value), quote=True)


def u(value: str) -> str:
    return quote(str(value), safe="")


def layout(title: str, body: str, *, lang: str, user: str | None = None,
           csrf: str | None = None, message: str | None = None,
           error: str | None = None) -> str:
    nav = ""
    if user is not None:
        nav = (f'<a href="/datasets">{e(word("nav_datasets", lang))}</a>'
               f'<a href="/requests">{e(word("nav_requests", lang))}</a>'
               f'<a href="/access">{e(word("nav_access", lang))}</a>'
               f'<span class="me">{e(user)}</span>'
               f'<form method="post" action="/logout">{hidden_csrf(csrf)}'
               f'<button type="submit">{e(word("logout", lang))}</button></form>')
    other = "en" if lang == "ko" else "ko"
    notes = (f'<p class="ok" role="status">{e(message)}</p>' if message else "") + \
        (f'<p class="error" role="alert">{e(word("error", lang))}: {e(error)}</p>'
         if error else "")
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{e(title)} · {e(word("site", lang))}</title><style>{STYLE}</style>'
            f'</head><body><header><strong>pseudolink {e(word("site", lang))}</strong>{nav}'
            f'<a href="?lang={other}">{e(word("language", lang))}</a></header>'
            f'<main><h1>{e(title)}</h1>{notes}{body}</main></body></html>')


def hidden_csrf(token: str | None) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">' if token else ""


def login_page(lang: str, csrf: str) -> str:
    return (f'<form method="post" action="/login" class="card">{hidden_csrf(csrf)}'
            f'<label for="user">{e(word("user", lang))}</label>'
            f'<input type="text" id="user" name="user" autocomplete="username" required>'
            f'<label for="password">{e(word("password", lang))}</label>'
            f'<input type="password" id="password" name="password" '
            f'autocomplete="current-password" required>'
            f'<p><button type="submit">{e(word("login", lang))}</button></p></form>')


def officer_page(lang: str) -> str:
    return f'<p class="card">{e(word("officer_body", lang))}</p>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def datasets_page(datasets: Sequence[Any], uses: Mapping[str, list[Any]], query: str,
                  lang: str) -> str:
    search = (f'<form method="get" action="/datasets" role="search">'
              f'<label for="q">{e(word("search_hint", lang))}</label>'
              f'<input type="text" id="q" name="q" value="{e(query)}">'
              f'<button type="submit">{e(word("search", lang))}</button></form>')
    if not datasets:
        return search + f'<p class="card">{e(word("no_datasets", lang))}</p>'
    cards = []
    for d in datasets:
        columns = _table([e(word("column", lang)), e(word("classification", lang))],
                         [[f"<code>{e(name)}</code>", e(label("class", cls, lang))]
                          for name, cls in d.columns.items()])
        lineage = "".join(f"<li><code>{e(k)}</code>: {e(v)}</li>"
                          for k, v in d.lineage.items()) or f"<li>{e(word('none', lang))}</li>"
        approved = "".join(
            f"<li>{e(label('purpose', x.purpose, lang))} · {e(label('form', x.release_form, lang))}"
            f" · {e(', '.join(x.columns))} · ~{e(last_day(x.ends_at))}</li>"
            for x in uses.get(d.id, [])) or f"<li>{e(word('none', lang))}</li>"
        cards.append(
            f'<section class="card"><h2>{e(d.title)} <code>{e(d.id)}</code></h2>'
            f'<p>{e(d.description)}</p>{columns}'
            f'<h3>{e(word("lineage", lang))}</h3><ul>{lineage}</ul>'
            f'<h3>{e(word("approved_uses", lang))}</h3><ul>{approved}</ul>'
            f'<p><a href="/requests/new?dataset={u(d.id)}">{e(word("request_this", lang))}</a>'
            f'</p></section>')
    return search + "".join(cards)


def requests_page(requests: Sequence[Any], lang: str) -> str:
    link = f'<p><a href="/datasets">{e(word("nav_new", lang))}</a></p>'
    if not requests:
        return link + f'<p class="card">{e(word("no_requests", lang))}</p>'
    rows = [[f'<a href="/requests/{u(r.id)}">{e(r.id)}</a>',
             f'<span class="state">{e(label("state", r.state, lang))}</span>',
             e(r.dataset_id), e(label("form", r.release_form, lang)),
             e(last_day(r.ends_at)), e(seoul(r.updated_at))] for r in requests]
    return link + _table([e(word(k, lang)) for k in ("request", "state", "dataset",
                                                       "release_form", "ends", "updated")], rows)


def _button(action: str, text: str, csrf: str, extra: str = "") -> str:
    return (f'<form method="post" action="{e(action)}">{hidden_csrf(csrf)}{extra}'
            f'<button type="submit">{e(text)}</button></form>')


def request_page(r: Any, lang: str, csrf: str, user: str) -> str:
    fields = [("state", label("state", r.state, lang)), ("dataset", r.dataset_id),
              ("columns", ", ".join(r.columns)), ("purpose", label("purpose", r.purpose, lang)),
              ("lawful_basis", r.lawful_basis), ("justification", r.justification),
              ("people", ", ".join(r.researchers)), ("setting", r.setting),
              ("outputs", r.outputs), ("release_form", label("form", r.release_form, lang)),
              ("starts", seoul(r.starts_at, with_time=False)),
              ("ends", last_day(r.ends_at)),
              ("state_reason", r.state_reason or "-")]
    body = _table([e(word("request", lang)), e(r.id)],
                  [[e(word(k, lang)), e(v)] for k, v in fields])
    reasons = [[e(seoul(x["at"])), e(label("decision", x["decision"], lang)),
                e(x["reviewer"]), e(x["reason"])] for x in r.reviews]
    reasons += [[e(seoul(v["at"])), e(label("decision", v["vote"], lang)), e(v["reviewer"]),
                 e(v["reason"])] for v in r.votes]
    if reasons:
        body += f'<h2>{e(word("reasons", lang))}</h2>' + _table(
            [e(word(k, lang)) for k in ("when", "decision", "reviewer", "reason")], reasons)
    actions = []
    base = f"/requests/{u(r.id)}"
    if user == r.requester_id:
        if r.state == "draft":
            actions.append(_button(f"{base}/submit", word("submit", lang), csrf))
        if r.state in ("draft", "rejected"):
            actions.append(f'<a href="{base}/amend">{e(word("amend", lang))}</a>')
        if r.state in ("submitted", "under_review"):
            actions.append(_button(f"{base}/withdraw", word("withdraw", lang), csrf))
        if r.state in ("approved", "active"):
            actions.append(_button(
                f"{base}/renew", word("renew", lang), csrf,
                f'<label for="renew-ends">{e(word("renew_until", lang))}</label>'
                f'<input type="date" id="renew-ends" name="ends" required>'))
    return body + f'<div class="actions">{"".join(actions)}</div>'


def request_form(dataset: Any, values: Mapping[str, Any], lang: str, csrf: str,
                 action: str) -> str:
    chosen = set(values.get("columns") or [])
    boxes = []
    for name, cls in dataset.columns.items():
        if cls == "direct_identifier":
            boxes.append(f'<li class="di"><code>{e(name)}</code> — '
                         f'{e(word("never_released", lang))}</li>')
            continue
        boxes.append(f'<li><label><input type="checkbox" name="columns" value="{e(name)}"'
                     f'{" checked" if name in chosen else ""}> <code>{e(name)}</code> '
                     f'({e(label("class", cls, lang))})</label></li>')

    def select(name: str, options: Sequence[str], prefix: str) -> str:
        opts = "".join(f'<option value="{e(o)}"{" selected" if values.get(name) == o else ""}>'
                       f'{e(label(prefix, o, lang))}</option>' for o in options)
        return (f'<label for="{name}">{e(word(name, lang))}</label>'
                f'<select id="{name}" name="{name}">{opts}</select>')

    def text(name: str, kind: str = "text") -> str:
        value = values.get(name) or ""
        if kind == "area":
            return (f'<label for="{name}">{e(word(name, lang))}</label>'
                    f'<textarea id="{name}" name="{name}">{e(value)}</textarea>')
        return (f'<label for="{name}">{e(word(name, lang))}</label>'
                f'<input type="{kind}" id="{name}" name="{name}" value="{e(value)}">')

    return (f'<form method="post" action="{e(action)}" class="card">{hidden_csrf(csrf)}'
            f'<input type="hidden" name="dataset" value="{e(dataset.id)}">'
            f'<p>{e(word("dataset", lang))}: <strong>{e(dataset.title)}</strong> '
            f'<code>{e(dataset.id)}</code></p>'
            f'<fieldset><legend>{e(word("columns", lang))}</legend><ul>{"".join(boxes)}</ul>'
            f'</fieldset>'
            + select("purpose", PURPOSES, "purpose") + text("lawful_basis")
            + text("justification", "area") + text("researchers") + text("setting")
            + text("outputs", "area") + select("release_form", RELEASE_FORMS, "form")
            + text("starts", "date") + text("ends", "date")
            + f'<p><button type="submit">{e(word("save_draft", lang))}</button></p></form>')


def access_page(rooms: Sequence[Any], takeouts: Sequence[Any], outbox: Sequence[Any],
                hub_url: str, lang: str) -> str:
    room_rows = [[e(a.request_id), e(", ".join(a.datasets)),
                  e(last_day(a.ends_at)),
                  f'<a href="{e(hub_url)}">{e(word("open_hub", lang))}</a>'] for a in rooms]
    take_rows = [[e(t.release_id), e(t.request_id), e(t.dataset_id),
                  f"<code>{e(t.checksum[:16])}…</code>",
                  e(last_day(t.expires_at)),
                  e(word("revoked", lang)) if t.revoked else
                  f'<a href="/takeouts/{u(t.release_id)}">{e(word("download", lang))}</a>']
                 for t in takeouts]
    out_rows = [[e(x.id), f'<span class="state">{e(x.state)}</span>',
                 e(", ".join(f.name for f in x.files)), e(x.updated_at)] for x in outbox]
    none = f'<p class="meta">{e(word("none", lang))}</p>'
    return (f'<h2>{e(word("rooms", lang))}</h2>'
            + (_table([e(word(k, lang)) for k in ("request", "dataset", "ends")] + [""],
                      room_rows) if rooms else none)
            + f'<h2>{e(word("takeouts", lang))}</h2>'
            + (_table(["ID", e(word("request", lang)), e(word("dataset", lang)), "SHA-256",
                       e(word("ends", lang)), ""], take_rows) if takeouts else none)
            + f'<h2>{e(word("airlock", lang))}</h2>'
            + (_table(["ID", e(word("state", lang)), e(word("files", lang)),
                       e(word("updated", lang))], out_rows) if outbox else none))

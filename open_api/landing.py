"""Pages for people: ``GET /`` lists the published datasets, ``GET /datasets/{id}`` shows one.

A dataset's page says what a person needs before downloading (CKAN and datasette have the
same): description, release form and its parameters, licence, columns with types and
classification, a preview of rows, and downloads in every format, the CSV for Excel
first (with a BOM, so Korean Excel does not show mojibake). Korean by default, English with
``?lang=en``. Every value from the catalog is HTML-escaped and every id URL-quoted: titles
and descriptions are written by people and must never become markup. Pages load nothing
from outside this server.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from open_api.errors import ApiError
from open_api.licence import licence_for
from open_api.native import published_releases, visible_release
from open_api.page_text import label, language, seoul_time, word
from open_api.parameters import public_parameters
from open_api.queries import build_query
from open_api.rows import fetch_page
from open_api.source import Release
from open_api.values import csv_cell

router = APIRouter()

PREVIEW_ROWS = 10

_STYLE = """
body{font-family:"Noto Sans KR","Malgun Gothic","Apple SD Gothic Neo",sans-serif;margin:0;
color:#1d2733;background:#f6f8fa}
header{background:#0b3d66;color:#fff;padding:1rem 2rem;display:flex;
justify-content:space-between;align-items:center}
header a{color:#fff}main{max-width:72rem;margin:0 auto;padding:1.5rem 2rem}
h1{margin:.2rem 0;font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;background:#fff;width:100%;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#eef2f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1rem 1.2rem;
margin:.8rem 0}.meta{color:#57606a}.downloads a{display:inline-block;margin:.2rem .6rem .2rem 0;
padding:.35rem .7rem;border:1px solid #0b3d66;border-radius:4px;text-decoration:none;
color:#0b3d66}.downloads a.primary{background:#0b3d66;color:#fff}code{font-size:.85em}
"""

_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head>
<body>
<header><div><a href="{root}/?lang={lang}">{site}</a></div>
<div><a href="{root}/docs">{api_docs}</a> · <a href="{switch}" lang="{other}">{language}</a></div>
</header>
<main>
{body}
</main>
</body>
</html>
"""


def _page(request: Request, lang: str, title: str, body: str, path: str) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    other = "en" if lang == "ko" else "ko"
    return HTMLResponse(_PAGE.format(
        lang=lang, other=other, title=escape(title), style=_STYLE, root=escape(root),
        site=escape(word("site_title", lang)), api_docs=escape(word("api_docs", lang)),
        switch=escape(f"{root}{path}?lang={other}"), language=escape(word("language", lang)),
        body=body))


def _api_base(root: str, release: Release) -> str:
    return f"{root}/api/v1/datasets/{quote(release.id, safe='')}"


def _page_url(root: str, release: Release, lang: str) -> str:
    return f"{root}/datasets/{quote(release.id, safe='')}?lang={lang}"


def _item(root: str, release: Release, lang: str) -> str:
    base = _api_base(root, release)
    description = f"<p>{escape(release.description)}</p>" if release.description else ""
    return (
        f'<div class="card"><h2><a href="{escape(_page_url(root, release, lang))}">'
        f"{escape(release.title)}</a></h2>{description}"
        f'<p class="meta">{escape(label("form", release.form, lang))} · '
        f"{escape(word('released', lang))} {escape(seoul_time(release.created_at))}</p>"
        f'<p class="downloads"><a class="primary" href="{escape(base)}.csv?bom=true">'
        f"{escape(word('csv_excel', lang))}</a>"
        f'<a href="{escape(base)}.csv">{escape(word("csv_utf8", lang))}</a>'
        f'<a href="{escape(base)}">{escape(word("details", lang))} (JSON)</a></p></div>'
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request, lang: str | None = None) -> HTMLResponse:
    lang = language(lang)
    root = request.scope.get("root_path", "")
    releases = published_releases(request)
    items = "\n".join(_item(root, r, lang) for r in releases)
    body = (f"<h1>{escape(word('site_title', lang))}</h1>"
            f"<p>{escape(word('site_lead', lang))}</p>"
            + (items or f"<p>{escape(word('no_datasets', lang))}</p>"))
    return _page(request, lang, word("site_title", lang), body, "/")


def _shown(value: Any) -> str:
    """A parameter for a person: a float to four significant digits (3.376, not
    3.3756177665957123), anything else as it is.

    >>> _shown(3.3756177665957123), _shown(1.0), _shown(0.5), _shown(300), _shown("a")
    ('3.376', '1', '0.5', '300', 'a')
    """
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _parameter_rows(parameters: dict[str, Any], lang: str) -> str:
    rows = []
    for key, value in parameters.items():
        shown = _shown(value) if isinstance(value, str | int | float) else (
            ", ".join(map(_shown, value)) if isinstance(value, list) else None)
        if shown is None:
            continue  # nested reports are in the JSON metadata, not in this summary
        rows.append(f"<tr><th>{escape(label('param', key, lang))}</th>"
                    f"<td>{escape(str(shown))}</td></tr>")
    return "".join(rows)


@router.get("/datasets/{release_id}", response_class=HTMLResponse, include_in_schema=False)
def dataset_page(release_id: str, request: Request, lang: str | None = None) -> HTMLResponse:
    lang = language(lang)
    root = request.scope.get("root_path", "")
    try:
        release = visible_release(request, release_id)
    except ApiError:
        missing = _page(request, lang, word("site_title", lang),
                        f"<p>{escape(word('no_datasets', lang))}</p>", "/")
        missing.status_code = 404
        return missing
    facts = request.app.state.artifacts.facts(release)
    preview = fetch_page(build_query(facts), PREVIEW_ROWS, 0, request.app.state.tables)
    licence = licence_for(release.parameters)
    licence_html = (f'<a href="{escape(licence["url"])}">{escape(licence["title"] or "")}</a>'
                    if licence["url"] else escape(licence["title"] or ""))
    base = _api_base(root, release)
    downloads = [
        ("primary", f"{base}.csv?bom=true", word("csv_excel", lang)),
        ("", f"{base}.csv", word("csv_utf8", lang)),
        ("", f"{base}.parquet", word("parquet", lang)),
        ("", f"{base}/datapackage.json", word("datapackage", lang)),
        ("", f"{base}.jsonld", "DCAT JSON-LD"),
        ("", f"{base}.ttl", "DCAT Turtle"),
        ("", f"{base}/rows", word("rows_api", lang)),
    ]
    links = "".join(f'<a class="{css}" href="{escape(url)}">{escape(text)}</a>'
                    for css, url, text in downloads)
    columns = "".join(
        f"<tr><td><code>{escape(c.name)}</code></td><td>{escape(c.type)}</td>"
        f"<td>{escape(label('class', release.columns.get(c.name) or '', lang))}</td></tr>"
        for c in facts.columns)
    numeric = [c.type not in {"VARCHAR", "DATE", "BOOLEAN"} for c in facts.columns]
    head = "".join(f"<th>{escape(c.name)}</th>" for c in facts.columns)
    body_rows = "".join(
        "<tr>" + "".join(f'<td class="{"num" if is_num else ""}">{escape(csv_cell(v))}</td>'
                         for v, is_num in zip(row, numeric, strict=True)) + "</tr>"
        for row in preview.rows)
    expires = (f"<tr><th>{escape(word('expires', lang))}</th>"
               f"<td>{escape(seoul_time(release.expires_at))}</td></tr>"
               if release.expires_at else "")
    body = f"""
<p><a href="{escape(root)}/?lang={lang}">← {escape(word('all_datasets', lang))}</a></p>
<h1>{escape(release.title)}</h1>
<p>{escape(release.description or '')}</p>
<p class="downloads">{links}</p>
<div class="card"><table>
<tr><th>{escape(word('form', lang))}</th><td>{escape(label('form', release.form, lang))}</td></tr>
<tr><th>{escape(word('released', lang))}</th><td>{escape(seoul_time(release.created_at))}</td></tr>
{expires}
<tr><th>{escape(word('licence', lang))}</th><td>{licence_html}</td></tr>
<tr><th>{escape(word('rows', lang))}</th><td class="num">{facts.row_count:,}</td></tr>
<tr><th>{escape(word('checksum', lang))}</th>
<td><code>{escape(release.checksum.lower())}</code></td></tr>
</table></div>
<h2>{escape(word('parameters', lang))}</h2>
<table>{_parameter_rows(public_parameters(release.parameters), lang)}</table>
<h2>{escape(word('columns', lang))}</h2>
<table><tr><th>{escape(word('column', lang))}</th><th>{escape(word('type', lang))}</th>
<th>{escape(word('classification', lang))}</th></tr>{columns}</table>
<h2>{escape(word('preview', lang, n=min(PREVIEW_ROWS, facts.row_count)))}</h2>
<div style="overflow-x:auto"><table><tr>{head}</tr>{body_rows}</table></div>
"""
    return _page(request, lang, release.title, body, f"/datasets/{quote(release.id, safe='')}")

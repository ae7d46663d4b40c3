"""``GET /``: a plain page listing the published datasets, for people rather than programs.

Every value from the catalog is HTML-escaped and every id is URL-quoted: titles and
descriptions are written by people and must never become markup.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from open_api.native import published_releases
from open_api.source import Release

router = APIRouter()

_PAGE = """<!DOCTYPE html>
<html lang="ko">
<head><meta charset="utf-8"><title>pseudolink open data</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>Open data / 공공데이터</h1>
<p>Datasets released from pseudonymised data after review. API description:
<a href="{root}/docs">{root}/docs</a> (<a href="{root}/openapi.json">openapi.json</a>).</p>
{body}
</body>
</html>
"""


def _item(root: str, release: Release) -> str:
    base = f"{root}/api/v1/datasets/{quote(release.id, safe='')}"
    description = f"<p>{escape(release.description)}</p>" if release.description else ""
    return (
        f"<li><h2>{escape(release.title)}</h2>{description}"
        f"<p>{escape(release.form)} · released {escape(release.created_at.date().isoformat())}"
        f" · <a href=\"{escape(base)}.csv\">CSV</a>"
        f" · <a href=\"{escape(base)}.csv?bom=true\">CSV for Excel</a>"
        f" · <a href=\"{escape(base)}\">metadata</a></p></li>"
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    releases = published_releases(request)
    if releases:
        body = "<ul>\n" + "\n".join(_item(root, r) for r in releases) + "\n</ul>"
    else:
        body = "<p>No datasets are published yet.</p>"
    return HTMLResponse(_PAGE.format(root=escape(root), body=body))

"""The Airlock page in the researcher's Jupyter server, with no frontend build.

Korean by default, English with ``?lang=en`` (words in ``page_text``).

``<server>/airlock`` lists the files of outputs/ with a box to tick each, asks for
the context and the disclosure controls, and files the request the way
``pseudolink airlock request`` does (a manifest for the hub's intake); below, it
shows what became of earlier requests. ``<server>/airlock/api/status`` gives the
same as JSON. JupyterLab reaches the page through its main menu (an *Airlock* menu
defined in settings overrides that the spawner writes, see ``analysis_env.hub.tools``).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from . import client, page_text
from .manifest import AIRLOCK_DIR

#: Files listed on the page at most; a bigger outputs/ should be tidied first.
MAX_LISTED = 500

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
h1{font-size:1.5rem} h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse} td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top} textarea{width:100%;min-height:4rem}
.error{color:#a00;font-weight:bold} .held{color:#a00} .ok{color:#070}
.note{background:#f4f4f4;padding:.6rem}
"""


def output_files(outputs: Path) -> list[tuple[str, int]]:
    """Regular files under outputs/ (no links, not the airlock's own folder), with sizes."""
    found: list[tuple[str, int]] = []
    for folder, dirs, files in os.walk(outputs):
        dirs[:] = sorted(d for d in dirs if d != AIRLOCK_DIR and not d.startswith(".")
                         and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.startswith(".") or os.path.islink(path) or not os.path.isfile(path):
                continue
            found.append((os.path.relpath(path, outputs).replace(os.sep, "/"),
                          os.path.getsize(path)))
            if len(found) >= MAX_LISTED:
                return found
    return found


def _request_html(request: dict, t: dict[str, str]) -> str:
    rows = []
    for file in request.get("files", []):
        checks = "<br>".join(
            f"<span class={'ok' if c['ok'] else 'held'}>{t['ok'] if c['ok'] else t['held']}"
            "</span> " + html.escape(c["reason"]) + (t["looks"] if c.get("review") else "")
            for c in file.get("checks", []))
        votes = "<br>".join(html.escape(v["decision"] + (f": {v['reason']}" if v.get("reason")
                                                         else ""))
                            for v in file.get("votes", []))
        rows.append(f"<tr><td>{html.escape(file['name'])}</td><td>{checks}</td>"
                    f"<td>{votes}</td></tr>")
    state = request["state"]
    return (f"<h3>{html.escape(request['id'])}: <span class=state data-state="
            f"\"{html.escape(state)}\">{html.escape(t.get('state.' + state, state))}</span></h3>"
            f"<p>{html.escape(request.get('context', ''))}<br><em>{t['controls_label']}</em> "
            f"{html.escape(request.get('controls', ''))}</p>"
            f"<table><tr><th>{t['file']}</th><th>{t['checks']}</th><th>{t['checkers']}</th></tr>"
            + "".join(rows) + "</table>")


class AirlockHandler(JupyterHandler):
    auth_resource = "contents"

    def _language(self) -> str:
        """Korean unless ``?lang=en`` (or the cookie of an earlier choice) says otherwise."""
        lang = page_text.choose(self.get_query_argument("lang", None),
                                self.get_cookie(page_text.COOKIE))
        if self.get_query_argument("lang", None) == lang:
            self.set_cookie(page_text.COOKIE, lang, httponly=True, samesite="Strict")
        return lang

    def _page(self, lang: str, *, error: str = "", form: dict | None = None) -> str:
        t = page_text.words(lang)
        outputs = client.outputs_dir()
        waiting = client.pending(outputs)
        chosen = set((form or {}).get("files", []))
        boxes = "".join(
            f"<tr><td><input type=checkbox name=files id=f{i} value=\"{html.escape(name)}\""
            f"{' checked' if name in chosen else ''}></td><td><label for=f{i}>"
            f"{html.escape(name)}</label></td><td>{size:,} {t['bytes']}</td></tr>"
            for i, (name, size) in enumerate(output_files(outputs)))
        failed = "".join(
            "<p class=error>" + html.escape(t["not_filed"].format(
                ticket=s.get("ticket"), error=s.get("error"))) + "</p>"
            for s in client.tickets(outputs) if not s.get("ok"))
        earlier = "".join(_request_html(r, t) for r in reversed(client.requests(outputs)))
        refresh = '<meta http-equiv="refresh" content="2">' if waiting else ""
        context = html.escape((form or {}).get("context", ""))
        controls = html.escape((form or {}).get("controls", ""))
        boxes = boxes or f"<tr><td colspan=3>{t['no_files']}</td></tr>"
        earlier = earlier or f"<p>{t['none']}</p>"
        pending = "".join("<p class=pending>" + html.escape(t["waiting"].format(ticket=w))
                          + "</p>" for w in waiting)
        return f"""<!doctype html><html lang={lang}><head><meta charset="utf-8">{refresh}
<title>{t['title']}</title><style>{STYLE}</style></head><body>
<p class=lang><a href="?lang={page_text.other(lang)}">{t['switch']}</a></p>
<h1>{t['heading']}</h1>
<p class=note>{t['intro']}</p>
{f'<p class=error>{html.escape(error)}</p>' if error else ''}
{pending}
<form method=post action="?lang={lang}">{self.xsrf_form_html()}
<table><tr><th></th><th>{t['file']}</th><th>{t['size']}</th></tr>{boxes}</table>
<p><label for=context>{t['context']}</label><br>
<textarea id=context name=context required>{context}</textarea></p>
<p><label for=controls>{t['controls']}</label><br>
<textarea id=controls name=controls required>{controls}</textarea></p>
<p><button type=submit>{t['submit']}</button></p></form>
{failed}
<h2>{t['yours']}</h2>{earlier}
</body></html>"""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(self._page(self._language()))

    @web.authenticated
    @authorized
    def post(self) -> None:
        form = {"files": self.get_arguments("files"),
                "context": self.get_argument("context", "").strip(),
                "controls": self.get_argument("controls", "").strip()}
        wants_json = "application/json" in self.request.headers.get("Accept", "")
        outputs = client.outputs_dir()
        lang = self._language()
        try:
            if not form["files"]:
                raise client.ClientError(page_text.words("en" if wants_json else lang)
                                         ["tick_one"])
            ticket = client.file_request(outputs, form["files"], form["context"],
                                         form["controls"], cwd=outputs)
        except client.ClientError as exc:
            self.set_status(400)
            if wants_json:
                self.finish({"error": str(exc)})
            else:
                self.finish(self._page(lang, error=str(exc), form=form))
            return
        if wants_json:
            self.set_status(202)
            self.finish({"ticket": ticket})
        else:
            self.redirect(f"{self.request.path}?lang={lang}&ticket={ticket}", status=303)


class StatusHandler(JupyterHandler):
    auth_resource = "contents"

    @web.authenticated
    @authorized
    def get(self) -> None:
        outputs = client.outputs_dir()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"pending": client.pending(outputs),
                                "tickets": client.tickets(outputs),
                                "requests": client.requests(outputs)}))


def _load_jupyter_server_extension(serverapp) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, "airlock"), AirlockHandler),
        (url_path_join(base, "airlock", "api", "status"), StatusHandler),
    ])
    serverapp.log.info("pseudolink: the Airlock page is at %s",
                       url_path_join(base, "airlock"))

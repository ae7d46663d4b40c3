"""The Airlock page in the researcher's Jupyter server, with no frontend build.

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

from . import client
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


def _request_html(request: dict) -> str:
    rows = []
    for file in request.get("files", []):
        checks = "<br>".join(
            f"<span class={'ok' if c['ok'] else 'held'}>{'ok' if c['ok'] else 'HELD'}</span> "
            + html.escape(c["reason"]) + (" (a checker looks at it)" if c.get("review") else "")
            for c in file.get("checks", []))
        votes = "<br>".join(html.escape(v["decision"] + (f": {v['reason']}" if v.get("reason")
                                                         else ""))
                            for v in file.get("votes", []))
        rows.append(f"<tr><td>{html.escape(file['name'])}</td><td>{checks}</td>"
                    f"<td>{votes}</td></tr>")
    return (f"<h3>{html.escape(request['id'])}: <span class=state>"
            f"{html.escape(request['state'])}</span></h3>"
            f"<p>{html.escape(request.get('context', ''))}<br><em>controls:</em> "
            f"{html.escape(request.get('controls', ''))}</p>"
            "<table><tr><th>file</th><th>automatic checks</th><th>checkers</th></tr>"
            + "".join(rows) + "</table>")


class AirlockHandler(JupyterHandler):
    auth_resource = "contents"

    def _page(self, *, error: str = "", form: dict | None = None) -> str:
        outputs = client.outputs_dir()
        waiting = client.pending(outputs)
        chosen = set((form or {}).get("files", []))
        boxes = "".join(
            f"<tr><td><input type=checkbox name=files id=f{i} value=\"{html.escape(name)}\""
            f"{' checked' if name in chosen else ''}></td><td><label for=f{i}>"
            f"{html.escape(name)}</label></td><td>{size:,} bytes</td></tr>"
            for i, (name, size) in enumerate(output_files(outputs)))
        failed = "".join(
            f"<p class=error>Ticket {html.escape(str(s.get('ticket')))} was not filed: "
            f"{html.escape(str(s.get('error')))}</p>"
            for s in client.tickets(outputs) if not s.get("ok"))
        earlier = "".join(_request_html(r) for r in reversed(client.requests(outputs)))
        refresh = '<meta http-equiv="refresh" content="2">' if waiting else ""
        context = html.escape((form or {}).get("context", ""))
        controls = html.escape((form or {}).get("controls", ""))
        return f"""<!doctype html><html><head><meta charset="utf-8">{refresh}
<title>Airlock</title><style>{STYLE}</style></head><body>
<h1>Airlock: ask for results to leave the room</h1>
<p class=note>Tick the files of <code>outputs/</code> you want released, say what they show
and which disclosure controls you applied. The automatic checks run at once; then two
output checkers decide. The same as <code>pseudolink airlock request</code> in a terminal.</p>
{f'<p class=error>{html.escape(error)}</p>' if error else ''}
{''.join(f'<p class=pending>Ticket {html.escape(t)}: waiting for the automatic checks...</p>'
         for t in waiting)}
<form method=post>{self.xsrf_form_html()}
<table><tr><th></th><th>file in outputs/</th><th>size</th></tr>{boxes or
 '<tr><td colspan=3>outputs/ has no files yet</td></tr>'}</table>
<p><label for=context>What the outputs show and why they are needed</label><br>
<textarea id=context name=context required>{context}</textarea></p>
<p><label for=controls>Disclosure controls applied</label><br>
<textarea id=controls name=controls required>{controls}</textarea></p>
<p><button type=submit>Ask for release</button></p></form>
{failed}
<h2>Your requests</h2>{earlier or '<p>None yet.</p>'}
</body></html>"""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(self._page())

    @web.authenticated
    @authorized
    def post(self) -> None:
        form = {"files": self.get_arguments("files"),
                "context": self.get_argument("context", "").strip(),
                "controls": self.get_argument("controls", "").strip()}
        wants_json = "application/json" in self.request.headers.get("Accept", "")
        outputs = client.outputs_dir()
        try:
            if not form["files"]:
                raise client.ClientError("tick at least one file of outputs/")
            ticket = client.file_request(outputs, form["files"], form["context"],
                                         form["controls"], cwd=outputs)
        except client.ClientError as exc:
            self.set_status(400)
            if wants_json:
                self.finish({"error": str(exc)})
            else:
                self.finish(self._page(error=str(exc), form=form))
            return
        if wants_json:
            self.set_status(202)
            self.finish({"ticket": ticket})
        else:
            self.redirect(self.request.path + "?ticket=" + ticket, status=303)


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

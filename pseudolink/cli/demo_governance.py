"""The demo's governed steps after linkage: register, request, review, take out, check, close.

Each function takes the same catalog calls the CLI verbs take (``catalog dataset
register``, ``catalog request create|submit|review|risk|approve``, ``catalog committee``,
``release takeout``, ``airlock``, ``project close``), under the logged-in ids of
:mod:`pseudolink.cli.demo_people`, so ``pseudolink audit verify`` afterwards shows each
step under a registered person.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pseudolink.cli import governance
from pseudolink.cli.artifacts import sha256_file
from pseudolink.cli.catalog_governance import LINEAGE_KINDS
from pseudolink.cli.demo_people import Cast
from pseudolink.settings import Workspace

if TYPE_CHECKING:
    import pandas as pd

    import catalog

REQUEST_COLUMNS = ["ssis__sido", "ssis__sex", "ssis__birth_year", "ssis__benefit_type"]
ROOM_OUTPUT = "recipients-by-benefit.csv"
#: The take-out thresholds the demo anonymises to (catalog.RiskThresholds' defaults).
TAKEOUT_K = 5
TAKEOUT_SUPPRESSION = 0.05


def register_dataset(cat: catalog.Catalog, space: Workspace, dataset_id: str, path: Path,
                     columns: dict[str, str], project: str, actor: str) -> None:
    """`catalog dataset register`: the file's digest and its lineage to the project's files."""
    lineage = {"file_sha256": sha256_file(path), "project": project,
               "project_files": {a.kind: a.sha256 for a in cat.artefacts(project)
                                 if a.kind in LINEAGE_KINDS}}
    cat.register_dataset(dataset_id, title="Combined social-security and building data (demo)",
                         path=str(path.resolve()), columns=columns, project_id=project,
                         lineage=lineage, actor=actor,
                         description="Recipients of welfare benefits joined to the buildings "
                                     "they own, by linkage id only (synthetic people).")


def free_request_id(cat: catalog.Catalog, base: str) -> str:
    """``base``, or ``base-N`` when an earlier (perhaps interrupted) run took it."""
    import catalog as catalog_pkg

    candidate, n = base, 1
    while True:
        try:
            cat.get_request(candidate)
        except catalog_pkg.CatalogError:
            return candidate
        n += 1
        candidate = f"{base}-{n}"


def file_requests(cat: catalog.Catalog, cast: Cast, dataset_id: str,
                  project: str) -> tuple[str, str]:
    """`catalog request create` and `submit`: a room request and a take-out request."""
    from catalog.coltypes import utcnow

    ends = utcnow() + timedelta(days=90)
    made = []
    for form, setting, outputs in (
            ("secure_room", "the agency's secure analysis room; no copy leaves it",
             "frequency tables through the airlock, two checkers"),
            ("take_out", "the university's locked research server (encrypted at rest)",
             "an anonymised extract, k >= 5, encrypted to the requester")):
        request_id = free_request_id(cat, f"{project}-{form.replace('_', '-')}")
        cat.create_request(
            request_id, dataset_id=dataset_id, columns=REQUEST_COLUMNS, release_form=form,
            purpose="scientific_research", lawful_basis="PIPA art. 28-2 (pseudonymised data "
            "for scientific research)", researchers=[], setting=setting, outputs=outputs,
            ends_at=ends, actor=cast.researcher, project_id=project,
            justification="How housing conditions differ among benefit recipients")
        cat.submit_request(request_id, actor=cast.researcher)
        made.append(request_id)
    return made[0], made[1]


def review_room_request(cat: catalog.Catalog, cast: Cast, request_id: str) -> dict[str, Any]:
    """One officer reviews with the risk report, approves; the administrator activates."""
    cat.start_review(request_id, actor=cast.officer)
    report = cat.compute_risk_report(request_id, actor=cast.officer)
    cat.decide_request(request_id, "approve", actor=cast.officer,
                       reason=f"k = {report['k']} in the room is acceptable: nothing leaves it "
                              "but checked outputs")
    cat.activate_request(request_id, actor=cast.admin)
    return report


def anonymised_report(frame: pd.DataFrame, qi: list[str], sensitive: str,
                      k: int = TAKEOUT_K) -> dict[str, Any]:
    """The officer's `anonymize` run on the requested columns: the risk report of the
    least-loss generalisation that reaches ``k`` (what `release takeout` will build)."""
    import anonymize

    done = anonymize.anonymise(frame[[*qi, sensitive]], qi, k=k, sensitive=[sensitive],
                               max_suppression=TAKEOUT_SUPPRESSION)
    return anonymize.risk_report(done.data, qi, [sensitive]).to_dict()


def committee_review(cat: catalog.Catalog, cast: Cast, request_id: str,
                     report: dict[str, Any]) -> catalog.Tally:
    """The take-out committee (반출심사): three officers seated, two approvals decide.

    The committee judges the anonymised extract's risk report, not the raw data's: a
    take-out is approved only when what would leave meets the thresholds.
    """
    cat.start_review(request_id, actor=cast.officer)
    cat.attach_risk_report(request_id, report, actor=cast.officer)
    cat.appoint_committee(request_id, [cast.officer, cast.second_officer, cast.third_officer],
                          actor=cast.officer)
    tally = None
    for member in (cast.officer, cast.second_officer):
        tally = cat.vote(request_id, "approve", actor=member,
                         reason=f"the anonymised extract has k = {report['k']} and a highest "
                                f"prosecutor risk of {report['prosecutor_risk_max']:.2f}; "
                                "approve, measured again on the rows written")
    return tally


def researcher_age_key(space: Workspace, researcher: str) -> tuple[str, Path]:
    """The researcher's own age key pair (`age-keygen`), kept 0600 in their folder."""
    import pyrage

    folder = space.root / "researcher"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{researcher}.agekey"
    if path.is_file():
        identity = pyrage.x25519.Identity.from_str(path.read_text(encoding="ascii").strip())
    else:
        identity = pyrage.x25519.Identity.generate()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(str(identity) + "\n")
    return str(identity.to_public()), path


def open_takeout(path: Path, key: Path, qi: list[str]) -> tuple[int, int]:
    """The researcher decrypts the take-out with their key: rows and k of what arrived."""
    import io

    import pandas as pd
    import pyrage

    identity = pyrage.x25519.Identity.from_str(key.read_text(encoding="ascii").strip())
    frame = pd.read_parquet(io.BytesIO(pyrage.decrypt(path.read_bytes(), [identity])))
    sizes = frame.groupby(qi, dropna=False).size()
    return len(frame), int(sizes.min()) if len(sizes) else 0


def room_output(space: Workspace, cat: catalog.Catalog, cast: Cast,
                frame: pd.DataFrame) -> tuple[str, str, list[Path]]:
    """A room-style table through the airlock: its checks, two checkers, the outbox.

    Returns the airlock request's id, its final state, and the files released. A table
    the automatic checks hold (a small population leaves cells under the minimum) is
    returned to the researcher by both checkers, as it would be from a real room.
    """
    from analysis_env import Airlock
    from anonymize import OutputThresholds

    folder = space.root / "room" / cast.researcher / "outputs"
    folder.mkdir(parents=True, exist_ok=True)
    frame["ssis__benefit_type"].value_counts().sort_index().rename("recipients") \
        .rename_axis("benefit_type").to_frame().to_csv(folder / ROOM_OUTPUT)
    thresholds = (OutputThresholds.load(space.settings_file)
                  if "outputs" in space.settings() else OutputThresholds())
    airlock = Airlock(space.root / "airlock", cat, thresholds)
    request = airlock.request(
        cast.researcher, folder, [ROOM_OUTPUT], kinds={ROOM_OUTPUT: "frequency_table"},
        context="Recipients by benefit type, for the paper's first table",
        controls=f"every cell counts at least {thresholds.min_cell_count} people; no zeros; "
                 "no totals")
    held = [f for f in request.files if f.held]
    for checker in (cast.officer, cast.second_officer):
        airlock.view(request.id, actor=checker)
        if held:
            reasons = "; ".join(c["reason"] for f in held for c in f.checks if not c["ok"])
            request = airlock.vote(request.id, "return", actor=checker,
                                   reason=f"held by the automatic checks: {reasons}")
        else:
            request = airlock.vote(request.id, "approve", actor=checker,
                                   reason="every cell counts at least the minimum; no "
                                          "margins to difference")
    if held:
        return request.id, request.state, []
    return request.id, "released", airlock.release(request.id, actor=cast.officer)


def record_risk_reports(space: Workspace, project: str, reports: dict[str, Path],
                        request_id: str, actor: str) -> None:
    """The risk reports the officers reviewed are project artefacts: closed with it."""
    with governance.open_catalog(space) as cat:
        cat.record_stage(project, "release", actor=actor, root=space.root, holder=actor,
                         outputs=reports,
                         details={"step": "risk review", "request_id": request_id})


def close_project(space: Workspace, project: str, actor: str) -> dict[str, Any]:
    """`project close`: every recorded file destroyed, the key too; the certificate."""
    import linkage

    manifest = linkage.ProjectManifest.load(space.project_dir(project))
    certificate = governance.destroy(space, manifest, actor)
    linkage.close_project(space.project_dir(project), space.keys)
    return certificate


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def query_api(space: Workspace, dataset: str, timeout: float = 60.0) -> dict[str, Any]:
    """Start ``pseudolink serve api`` on loopback; what it lists and serves; stop it.

    Returns the native list's ids, CKAN's ``package_list`` and one dataset's first rows.
    """
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "serve", "api", "--host", "127.0.0.1",
         "--port", str(port), "--workdir", str(space.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                rows = httpx.get(f"{base}/api/v1/datasets/{dataset}/rows",
                                 params={"limit": 5}, timeout=5)
                rows.raise_for_status()
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    stderr = server.stderr.read().decode(errors="replace") if server.stderr \
                        else ""
                    raise RuntimeError(f"the API did not start: {stderr[-2000:]}") from None
                time.sleep(0.3)
        listed = httpx.get(f"{base}/api/v1/datasets", timeout=10).json()
        packages = httpx.get(f"{base}/api/3/action/package_list", timeout=10).json()
        return {"rows": rows.json(), "native": [d["id"] for d in listed["datasets"]],
                "ckan": packages["result"]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write under a temporary name, then rename (a killed run leaves no half file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)

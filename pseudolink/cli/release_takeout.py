"""``pseudolink release takeout --request R``: the anonymised extract of an approved take-out.

Only the request's columns of its dataset leave, generalised (anonymize's least-loss
search) until the extract meets the take-out thresholds, which are measured again on the
exact rows written. The Parquet file is encrypted to the requester's recorded age
recipient (the Debian ``age`` tool decrypts it) and never touches disk in the clear; its
checksum and the request it answers are recorded as a closed release, which the sweep
destroys when the request ends or the release is revoked.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli import governance
from pseudolink.cli.app import WorkdirOption, console, fail, ws
from pseudolink.cli.artifacts import sha256_file
from pseudolink.cli.release import release_app
from pseudolink.cli.session import acting_user
from pseudolink.settings import Workspace


def _encrypt_to(data: bytes, recipient: str, out: Path) -> None:
    """Write ``data`` encrypted to one age recipient: temporary name, then rename."""
    import pyrage

    sealed = pyrage.encrypt(data, [pyrage.x25519.Recipient.from_str(recipient)])
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(sealed)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class TakeoutBuilt:
    """What `release takeout` wrote and recorded (no contents: counts, measures, paths)."""

    release_id: str
    path: Path
    rows: int
    k: int
    prosecutor_risk_max: float
    requester: str
    recipient: str


def build_takeout(space: Workspace, request: str, actor: str,
                  max_suppression: float = 0.05) -> TakeoutBuilt:
    """Build, check, encrypt and record the take-out of ``request`` as ``actor``.

    The one path every take-out leaves by, for the CLI and the demo alike; a refusal is
    an exit 2 naming the request, and nothing is left written.
    """
    import pandas as pd

    import anonymize
    import catalog

    try:
        with governance.open_catalog(space) as cat:
            order = cat.takeout_order(request, actor=actor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    identifiers = [c for c, cls in order.columns.items() if cls == "direct_identifier"]
    if identifiers:
        raise fail(f"request {request}: {', '.join(identifiers)} classified as direct "
                   "identifiers; a take-out never carries them")
    qi = [c for c, cls in order.columns.items() if cls == "quasi_identifier"]
    sensitive = [c for c, cls in order.columns.items() if cls == "sensitive"]
    if not qi:
        raise fail(f"request {request}: none of its columns is classified as a "
                   "quasi-identifier, so its risk cannot be measured; classify the "
                   "dataset's columns (`catalog dataset register`)")
    try:
        frame = pd.read_parquet(order.path, columns=list(order.columns))
    except (OSError, ValueError, KeyError) as exc:
        raise fail(f"dataset {order.dataset_id}: cannot read {order.path}: {exc}") from None
    # A prosecutor risk of at most r needs classes of at least 1/r records.
    k = max(order.k, math.ceil(1 / order.prosecutor_risk_max - 1e-9))
    try:
        done = anonymize.anonymise(frame, qi, k=k, sensitive=sensitive or None,
                                   max_suppression=max_suppression)
        measured = anonymize.risk_report(done.data, qi, sensitive or None,
                                         threshold=order.prosecutor_risk_max).to_dict()
    except anonymize.AnonymizeError as exc:
        raise fail(f"request {request}: {exc}") from None
    failures = catalog.RiskThresholds(order.k, order.prosecutor_risk_max).failures(measured)
    if failures:
        raise fail(f"request {request}: the extract still fails the take-out thresholds "
                   f"({', '.join(failures)}); nothing was written")
    buffer = io.BytesIO()
    done.data.to_parquet(buffer, index=False)
    release_id = f"takeout-{request}"
    space.releases.mkdir(parents=True, exist_ok=True)
    out = space.releases / f"{release_id}.parquet.age"
    _encrypt_to(buffer.getvalue(), order.recipient, out)
    del buffer
    checksum = sha256_file(out)
    parameters = {"k": measured["k"], "prosecutor_risk_max": measured["prosecutor_risk_max"],
                  "thresholds": {"k": order.k,
                                 "prosecutor_risk_max": order.prosecutor_risk_max},
                  "rows": len(done.data), "suppressed": done.report.suppressed,
                  "generalisation": done.report.node, "recipient": order.recipient,
                  "encryption": "age"}
    try:
        with governance.open_catalog(space) as cat:
            cat.record_takeout(release_id, order, artifact=str(out.resolve()),
                               checksum=checksum, parameters=parameters, actor=actor)
            if order.project_id is not None:
                cat.record_stage(order.project_id, "release", actor=actor, root=space.root,
                                 holder=actor, outputs={"takeout": out},
                                 details={"request_id": request, "release_id": release_id})
    except catalog.CatalogError as exc:
        out.unlink(missing_ok=True)
        raise fail(f"request {request}: the catalog did not record the take-out, so it was "
                   f"removed: {exc}") from None
    return TakeoutBuilt(release_id, out, len(done.data), measured["k"],
                        measured["prosecutor_risk_max"], order.requester, order.recipient)


@release_app.command("takeout")
def release_takeout(
    request: Annotated[str, typer.Option("--request", help="The approved take-out request.")],
    max_suppression: Annotated[float, typer.Option(
        help="Share of records that may be suppressed to meet the thresholds.")] = 0.05,
    workdir: WorkdirOption = None,
) -> None:
    """Build, check, encrypt to the requester and record the take-out of REQUEST."""
    space = ws(workdir)
    built = build_takeout(space, request, acting_user(space), max_suppression)
    console.print(f"take-out {built.release_id}: {built.rows:,} rows, k = {built.k}, "
                  f"highest prosecutor risk {built.prosecutor_risk_max:.3f}; encrypted "
                  f"to {built.requester}'s age key {built.recipient[:12]}…\n  {built.path}",
                  highlight=False)

"""``pseudolink demo``: the whole job on embedded defaults, every step the real subsystem.

All parties live in one workspace here (DESIGN 4); each still uses only its own keys,
so the demo exercises the same trust boundaries a real deployment has.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, app, console, ws
from pseudolink.cli.artifacts import publish_parquet, sha256_file
from pseudolink.cli.governance import with_headers
from pseudolink.cli.progress import progress_bars
from pseudolink.settings import Workspace

if TYPE_CHECKING:
    import catalog

DEMO_PROJECT = "demo-housing"
DEMO_PASSPHRASE = "pseudolink demo only - set PSEUDOLINK_PASSPHRASE for real keys"
KEY_MANAGER = "keymanager"
COMBINER = "agency"
DEMO_ADMIN = "demo-admin"
DEMO_OFFICER = "demo-officer"
DP_RELEASE = "dp-recipients-by-sido-benefit"
SYNTH_RELEASE = "synthetic-combined"
QUASI_IDENTIFIERS = ["ssis__sido", "ssis__sex", "ssis__birth_year"]
SENSITIVE = "ssis__benefit_type"
DP_EPSILON = 1.0
#: The open-data consumer every published DP table is charged to, and its total epsilon.
PUBLIC_CONSUMER = "public"
PUBLIC_BUDGET = 3.0
#: Declared in advance, never read from the data: the set of cells must not leak anything.
BENEFIT_TYPES = ("기초연금", "기초생활보장", "장애인복지", "아동수당", "none")


def _audit_signer(space: Workspace, passphrase: str) -> catalog.AuditSigner:
    """The workspace's audit signing key, made on the first run."""
    import catalog

    if (space.keys / "audit-signing.key").exists():
        return catalog.load_audit_signer(space.keys, passphrase)
    return catalog.create_audit_key(space.keys, passphrase)


def _step(title: str) -> None:
    console.rule(f"[bold]{title}")


@app.command()
def demo(
    workdir: WorkdirOption = None,
    people: Annotated[int, typer.Option(help="People in the synthetic population.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 2026,
    typo_rate: Annotated[
        float, typer.Option(help="Share of records with an identifier error.")
    ] = 0.0,
    synthetic_rows: Annotated[int, typer.Option(help="Rows of the synthetic release.")] = 2_000,
) -> None:
    """Run the whole pipeline: prepare, link, combine, risk, DP aggregate, synthetic data, API."""
    import anonymize
    import catalog
    import linkage

    passphrase = os.environ.get("PSEUDOLINK_PASSPHRASE") or DEMO_PASSPHRASE
    space = ws(workdir)

    _step("1. workspace")
    space.create_dirs()
    catalog.init_catalog(space.database_url)
    # The demo's catalog holds the audit signing key: each write signs a checkpoint.
    anchor = catalog.Anchor(_audit_signer(space, passphrase), space.audit_checkpoints)
    cat = catalog.Catalog.connect(space.database_url, anchor=anchor,
                                  root=space.root)
    console.print(f"workspace: {space.root.resolve()}")
    officer = _demo_people(cat)
    _demo_parties(cat)

    _step("2. synthetic Korean holder files")
    source = space.data / "demo-source"
    with progress_bars() as progress:
        synth = linkage.generate_synthetic_data(
            source, people, areas=anonymize.load_admin_areas(), seed=seed,
            typo_rate=typo_rate, progress=progress,
        )
    console.print(f"{synth.people:,} people -> ssis {synth.rows['ssis']:,} rows, "
                  f"building {synth.rows['building']:,} rows, {synth.true_pairs:,} true pairs")

    _step("3. parties and project")
    for party, role in (("ssis", "holder"), ("building", "holder"),
                        (KEY_MANAGER, "key_manager"), (COMBINER, "combiner")):
        linkage.create_party(space.keys, party, role, passphrase)
    spec = linkage.ProjectSpec.load(source / "project.toml", project_id=DEMO_PROJECT,
                                    key_manager=KEY_MANAGER, combiner=COMBINER)
    project_dir = space.project_dir(DEMO_PROJECT)
    manifest = linkage.create_project(spec, space.keys, project_dir)
    cat.record_project(DEMO_PROJECT, purpose=spec.purpose, mode=spec.mode,
                       spec=spec.to_dict(), actor=DEMO_ADMIN)
    cat.record_stage(DEMO_PROJECT, "create", actor=DEMO_ADMIN, root=space.root,
                     holder=COMBINER)
    console.print(f"project {DEMO_PROJECT}: public manifest written; no key exists yet")
    from linkage.keys.acceptance import share_path

    # Each holder checks the spec and every party's keys, signs them and draws its share of
    # the project key (`pseudolink project accept`); only holders can open the shares.
    for holder in spec.holders:
        signed = linkage.accept_project(
            manifest, linkage.load_party_secret(space.keys, holder.id, passphrase), space.keys)
        cat.record_stage(DEMO_PROJECT, "accept", actor=holder.id, root=space.root,
                         holder=holder.id, details={"digest": signed.digest},
                         outputs={"share": share_path(project_dir, holder.id,
                                                      manifest.key_version)})
        console.print(f"{holder.id} accepts: identifiers {', '.join(holder.identifiers)} "
                      f"stay on its premises; attributes {', '.join(holder.attributes)} go "
                      f"to {COMBINER}; key share sealed to the holders only")

    _step("4. holders prepare (keyed hashing on their own premises)")
    exchange = project_dir / "exchange"
    prepared = {}
    with progress_bars() as progress:
        for holder in spec.holders:
            prepared[holder.id] = linkage.prepare(
                manifest, holder.id, source / f"{holder.id}.parquet", exchange,
                space.keys, passphrase, progress=progress,
            )
    for holder_id, report in prepared.items():
        # Each stage and the files it wrote (digests only) go to the catalog, so that
        # `pseudolink project close` can destroy every one of them (issue 16).
        cat.record_stage(DEMO_PROJECT, "prepare", actor=holder_id, root=space.root,
                         holder=holder_id, outputs=with_headers(report.outputs),
                         details={"records": report.records})
        console.print(f"{holder_id}: {report.records:,} records, keys per recipe "
                      f"{report.keys_per_recipe}, invalid identifiers {report.invalid}")

    _step("5. key manager links (sees keys and serials only)")
    with progress_bars() as progress:
        link_report = linkage.link(
            manifest, [exchange / f"{h.id}.keys.age" for h in spec.holders], exchange,
            space.keys, passphrase, as_party=KEY_MANAGER, progress=progress,
        )
    cat.record_stage(DEMO_PROJECT, "link", actor=KEY_MANAGER, root=space.root,
                     holder=KEY_MANAGER, outputs=with_headers(link_report.outputs),
                     details={"links": link_report.links})
    console.print(f"{link_report.links:,} links; per recipe {link_report.links_per_recipe}; "
                  f"duplicates {link_report.duplicates}, conflicts {link_report.conflicts}")

    _step("6. combination agency combines (sees serials and attributes only)")
    combined_path = project_dir / "combined.parquet"
    with progress_bars() as progress:
        combined = linkage.combine(
            manifest, exchange / "linkmap.age",
            [exchange / f"{h.id}.payload.age" for h in spec.holders], combined_path,
            space.keys, passphrase, as_party=COMBINER, progress=progress,
        )
    cat.record_stage(DEMO_PROJECT, "combine", actor=COMBINER, root=space.root,
                     holder=COMBINER, outputs={"combined": combined_path},
                     details={"rows": combined.rows})
    console.print(f"{combined.rows:,} combined rows, {len(combined.columns)} columns -> "
                  f"{combined_path}; unlinked rows discarded unread "
                  f"{combined.discarded_per_holder}")
    quality = linkage.evaluate_linkage(
        exchange / "linkmap.age", {h.id: linkage.crosswalk_path(space.keys, DEMO_PROJECT, h.id)
                                   for h in spec.holders},
        source / "truth.parquet", space.keys, passphrase, manifest, as_party=COMBINER,
    )
    console.print(f"against the ground truth: recall {quality.recall:.2%}, "
                  f"precision {quality.precision:.2%}")
    columns = _classify(combined.columns)
    cat.register_dataset(
        f"{DEMO_PROJECT}-combined", title="Combined social-security and building data (demo)",
        path=str(combined_path), columns=columns, project_id=DEMO_PROJECT,
        lineage={"linkmap_sha256": sha256_file(exchange / "linkmap.age"),
                 "holders": [h.id for h in spec.holders]},
        actor=COMBINER,
    )

    _step("7. privacy officer measures re-identification risk")
    import pandas as pd

    frame = pd.read_parquet(combined_path)
    risk = anonymize.risk_report(frame, QUASI_IDENTIFIERS, SENSITIVE)
    risk_doc = risk.to_dict()
    (project_dir / "risk-report.json").write_text(
        json.dumps(risk_doc, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    console.print(anonymize.summary(risk))

    _step("8. differentially private aggregate (OpenDP), charged to the public budget")
    dataset_id = f"{DEMO_PROJECT}-combined"
    # The people behind the release: the holders' registers (the demo's seed makes them
    # byte-identical on a rerun, while link ids, and so the combined file, differ).
    data_digest = hashlib.sha256("".join(
        sha256_file(source / f"{h.id}.parquet") for h in spec.holders).encode()).hexdigest()
    earlier = cat.get_release(DP_RELEASE)
    if earlier is not None and earlier.parameters.get("source_sha256") == data_digest:
        # The same people were released already: publishing again would spend again for
        # nothing, so a rerun keeps the release it made.
        console.print(f"{DP_RELEASE} was released from this very data before; kept, not "
                      "charged again")
    else:
        if cat.budget(dataset_id, PUBLIC_CONSUMER) is None:
            cat.set_budget(dataset_id, PUBLIC_CONSUMER, PUBLIC_BUDGET, actor=officer)
        areas = anonymize.load_admin_areas()
        keys = {"ssis__sido": sorted(areas["sido"].unique()),
                "ssis__benefit_type": list(BENEFIT_TYPES)}
        # Charged before any noise is drawn: a refusal leaves nothing computed.
        left = cat.spend(dataset_id, PUBLIC_CONSUMER, DP_EPSILON, actor=officer,
                         query={"release": DP_RELEASE, "statistic": "count",
                                "by": list(keys), "epsilon": DP_EPSILON})
        table = anonymize.dp_count_by(frame, list(keys), epsilon=DP_EPSILON, keys=keys,
                                      privacy_unit="link_id", max_contributions=1)
        dp_path, dp_checksum = publish_parquet(table.table, space.releases, DP_RELEASE)
        cat.record_release(
            DP_RELEASE, dataset_id=dataset_id, form="dp_aggregate",
            title="Recipients by 시도 and benefit type (differentially private)",
            artifact=str(dp_path), checksum=dp_checksum,
            parameters={"epsilon": table.epsilon, "mechanism": table.mechanism,
                        "accuracy_95": table.accuracy_95, "source_sha256": data_digest},
            actor=officer,
        )
        console.print(f"{len(table.table):,} cells, epsilon {table.epsilon} charged to the "
                      f"public budget of {dataset_id} ({left:g} left), 95% of counts within "
                      f"+/-{table.accuracy_95:.1f} of the truth -> {dp_path}")

    spent = sum(e["epsilon"] for e in cat.budget_ledger(dataset_id, PUBLIC_CONSUMER))

    _step("9. synthetic microdata (SDV GaussianCopula, behind the privacy gate)")
    with progress_bars() as progress:
        synthetic = anonymize.synthetic_release(
            frame, synthetic_rows, synthesizer="gaussian_copula", columns=columns, seed=seed,
            progress=progress, enforce=False,
        )
    if not synthetic.gate.passed:
        # A small demo population leaves the gate too little holdout to judge (issue 22):
        # the release is refused and nothing is published, as with real data.
        console.print("synthetic release refused by the privacy gate: "
                      + "; ".join(synthetic.gate.failures), highlight=False)
    else:
        synth_path, synth_checksum = publish_parquet(synthetic.data, space.releases, SYNTH_RELEASE)
        synth_report = synthetic.report()
        cat.record_release(
            SYNTH_RELEASE, dataset_id=f"{DEMO_PROJECT}-combined", form="synthetic",
            title="Synthetic combined data (demo)", artifact=str(synth_path),
            checksum=synth_checksum, parameters=synth_report, actor=officer,
        )
        gate = synth_report["privacy_gate"]
        console.print(f"{len(synthetic.data):,} rows, SDMetrics quality "
                      f"{synth_report['quality_score']:.1%}, privacy gate "
                      f"{'passed' if gate.get('passed') else 'FAILED'} -> {synth_path}")

    _step("10. open-data API")
    answer = _query_api_once(space, DP_RELEASE)
    console.print(f"GET /api/v1/datasets/{DP_RELEASE}/rows -> {answer['total']} rows served")

    _step("11. audit trail")
    # Other processes (the API) wrote too, without the key: sign the head they left.
    cat.checkpoint_audit()
    verdict = cat.verify_audit(catalog.CheckpointFile(anchor.path, anchor.signer.public))
    console.print(f"audit log: {verdict.entries} entries, "
                  f"{'intact' if verdict.intact else 'BROKEN: ' + '; '.join(verdict.problems)}"
                  f" (signed checkpoints in {anchor.path})")

    summary = Table(title="pseudolink demo", show_header=False)
    for label, value in (
        ("people", f"{synth.people:,}"),
        ("links", f"{link_report.links:,}"),
        ("recall / precision", f"{quality.recall:.2%} / {quality.precision:.2%}"),
        ("k-anonymity", str(risk_doc["k"])),
        ("public DP budget", f"{spent:g} of {PUBLIC_BUDGET:g} spent"),
        ("synthetic quality", f"{synthetic.quality['quality_score']:.1%}"
         + ("" if synthetic.gate.passed else " (refused by the privacy gate)")),
        ("workspace", str(space.root.resolve())),
    ):
        summary.add_row(label, value)
    console.print(summary)
    if not verdict.ok:
        raise typer.Exit(1)


def _classify(columns: list[str]) -> dict[str, str]:
    """Column classes for the catalog: the demo's quasi-identifiers and sensitive column."""
    classes = {}
    for column in columns:
        if column in QUASI_IDENTIFIERS:
            classes[column] = "quasi_identifier"
        elif column == SENSITIVE:
            classes[column] = "sensitive"
        else:
            classes[column] = "other"
    return classes




def _demo_parties(cat: catalog.Catalog) -> None:
    """One person per party (user id = party id), so each stage is recorded under its party.

    No passwords: in the demo the stages run in-process, not through `pseudolink login`.
    """
    for user, role in (("ssis", "holder"), ("building", "holder"),
                       (KEY_MANAGER, "key_manager"), (COMBINER, "combiner")):
        if cat.user_role(user) != role:
            cat.record_user(user, role=role, actor=DEMO_ADMIN,
                            display_name=f"{user} operator (demo)")


def _demo_people(cat: catalog.Catalog) -> str:
    """The demo's administrator and privacy officer, logged in like real people.

    Their passwords are random and discarded: nobody can log in as them afterwards
    (an administrator can set one with `pseudolink catalog user password`). Returns
    the officer's id, taken from their session, as every release is recorded under it.
    """
    import secrets

    passwords = {DEMO_ADMIN: secrets.token_urlsafe(24), DEMO_OFFICER: secrets.token_urlsafe(24)}
    if cat.get_user(DEMO_ADMIN) is None:
        cat.bootstrap_admin(DEMO_ADMIN, passwords[DEMO_ADMIN], display_name="Demo administrator")
    else:
        # A rerun on the same workspace: the old random passwords are gone; reset them.
        cat.set_password(DEMO_ADMIN, passwords[DEMO_ADMIN], actor=DEMO_ADMIN)
    admin = cat.session_user(cat.login(DEMO_ADMIN, passwords[DEMO_ADMIN])).id
    cat.record_user(DEMO_OFFICER, role="privacy_officer", actor=admin,
                    display_name="Demo privacy officer")
    cat.set_password(DEMO_OFFICER, passwords[DEMO_OFFICER], actor=admin)
    officer = cat.session_user(cat.login(DEMO_OFFICER, passwords[DEMO_OFFICER])).id
    console.print(f"people: administrator {admin}, privacy officer {officer} "
                  "(logged in; random passwords, discarded)")
    return officer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _query_api_once(space: Workspace, dataset: str, timeout: float = 60.0) -> dict:
    """Start ``pseudolink serve api`` on loopback, ask it for one dataset's rows, stop it."""
    import httpx

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "serve", "api", "--host", "127.0.0.1",
         "--port", str(port), "--workdir", str(space.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/api/v1/datasets/{dataset}/rows"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = httpx.get(url, params={"limit": 5}, timeout=5)
                response.raise_for_status()
                return response.json()
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    stderr = server.stderr.read().decode(errors="replace") if server.stderr else ""
                    raise RuntimeError(f"the API did not start: {stderr[-2000:]}") from None
                time.sleep(0.3)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

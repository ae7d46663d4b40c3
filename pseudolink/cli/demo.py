"""``pseudolink demo``: the governed story on embedded defaults, every step the real subsystem.

All parties live in one workspace here (DESIGN 4); each still uses only its own keys,
so the demo exercises the same trust boundaries a real deployment has. Every step is
taken by a person registered in the catalog and logged in (``demo_people``), and the
governance steps make the catalog calls the CLI verbs make (``demo_governance``): the
audit log then tells the whole story under named people.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from pseudolink.cli import demo_governance, demo_people
from pseudolink.cli.app import WorkdirOption, app, console, ws
from pseudolink.cli.artifacts import publish_parquet, sha256_file
from pseudolink.cli.demo_people import COMBINER, KEY_MANAGER
from pseudolink.cli.governance import with_headers
from pseudolink.cli.progress import progress_bars
from pseudolink.cli.release_takeout import build_takeout
from pseudolink.settings import Workspace

if TYPE_CHECKING:
    import catalog

DEMO_PROJECT = "demo-housing"
DEMO_PASSPHRASE = "pseudolink demo only - set PSEUDOLINK_PASSPHRASE for real keys"
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
    keep_project: Annotated[bool, typer.Option(
        "--keep-project", help="Leave the project open at the end (its files stay, for "
                               "inspection), instead of closing it and destroying them.")
    ] = False,
) -> None:
    """Walk the governed story: people, linkage, requests and reviews, take-out, DP,
    synthetic data, API, airlock, project close; every step by a logged-in person."""
    import anonymize
    import catalog
    import linkage

    passphrase = os.environ.get("PSEUDOLINK_PASSPHRASE") or DEMO_PASSPHRASE
    space = ws(workdir)

    _step("1. workspace and the people who act in it")
    space.create_dirs()
    catalog.init_catalog(space.database_url)
    # The demo's catalog holds the audit signing key: each write signs a checkpoint.
    anchor = catalog.Anchor(_audit_signer(space, passphrase), space.audit_checkpoints)
    cat = catalog.Catalog.connect(space.database_url, anchor=anchor,
                                  root=space.root)
    console.print(f"workspace: {space.root.resolve()}")
    cast = demo_people.assemble(cat)
    officer = cast.officer
    passwords = ("PSEUDOLINK_DEMO_PASSWORD" if os.environ.get(demo_people.PASSWORD_ENV)
                 else "random passwords, discarded")
    console.print(f"registered and logged in ({passwords}): administrator "
                  f"{cast.admin}; privacy officers {cast.officer}, {cast.second_officer}, "
                  f"{cast.third_officer}; researcher {cast.researcher}; party operators "
                  f"{', '.join(cast.operators.values())}", highlight=False)
    project = _project_id(cat)

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
    spec = linkage.ProjectSpec.load(source / "project.toml", project_id=project,
                                    key_manager=KEY_MANAGER, combiner=COMBINER)
    project_dir = space.project_dir(project)
    manifest = linkage.create_project(spec, space.keys, project_dir)
    agency = cast.operator(COMBINER)
    cat.ensure_project(project, purpose=spec.purpose, mode=spec.mode, spec=spec.to_dict(),
                       actor=agency)
    cat.record_stage(project, "create", actor=agency, root=space.root, holder=COMBINER)
    console.print(f"project {project}: public manifest written by {agency}; no key exists yet",
                  highlight=False)
    from linkage.keys.acceptance import share_path

    # Each holder checks the spec and every party's keys, signs them and draws its share of
    # the project key (`pseudolink project accept`); only holders can open the shares.
    for holder in spec.holders:
        signed = linkage.accept_project(
            manifest, linkage.load_party_secret(space.keys, holder.id, passphrase), space.keys)
        cat.record_stage(project, "accept", actor=cast.operator(holder.id), root=space.root,
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
        cat.record_stage(project, "prepare", actor=cast.operator(holder_id),
                         root=space.root, holder=holder_id,
                         outputs=with_headers(report.outputs),
                         details={"records": report.records,
                                  "input_sha256": sha256_file(source / f"{holder_id}.parquet")})
        console.print(f"{holder_id}: {report.records:,} records, keys per recipe "
                      f"{report.keys_per_recipe}, invalid identifiers {report.invalid}")

    _step("5. key manager prechecks, then links (sees keys and serials only)")
    keymanager = cast.operator(KEY_MANAGER)
    keys_files = [exchange / f"{h.id}.keys.age" for h in spec.holders]
    with progress_bars() as progress:
        precheck = linkage.link(manifest, keys_files, exchange, space.keys, passphrase,
                                as_party=KEY_MANAGER, precheck=True, progress=progress)
    cat.record_stage(project, "precheck", actor=keymanager, root=space.root,
                     holder=KEY_MANAGER, outputs=with_headers(precheck.outputs),
                     details={"linked_records": precheck.linked_records})
    console.print(f"precheck: records that would link per holder {precheck.linked_records}; "
                  "no link map written")
    with progress_bars() as progress:
        link_report = linkage.link(manifest, keys_files, exchange, space.keys, passphrase,
                                   as_party=KEY_MANAGER, progress=progress)
    cat.record_stage(project, "link", actor=keymanager, root=space.root,
                     holder=KEY_MANAGER, outputs=with_headers(link_report.outputs),
                     details={"links": link_report.links})
    console.print(f"{link_report.links:,} links; per recipe {link_report.links_per_recipe}; "
                  f"duplicates {link_report.duplicates}, conflicts {link_report.conflicts}")

    _step("6. combination agency extracts the linked records and combines them")
    combined_path = project_dir / "combined.parquet"
    with progress_bars() as progress:
        combined = linkage.combine(
            manifest, exchange / "linkmap.age",
            [exchange / f"{h.id}.payload.age" for h in spec.holders], combined_path,
            space.keys, passphrase, as_party=COMBINER, progress=progress,
        )
    cat.record_stage(project, "combine", actor=agency, root=space.root,
                     holder=COMBINER, outputs={"combined": combined_path},
                     details={"rows": combined.rows})
    # Holders send every record's payload; only linked ones are extracted here, and the
    # rest are discarded unread, so no holder learns who matched (`holder extract` is
    # withdrawn for that reason).
    console.print(f"{combined.rows:,} linked records extracted and combined, "
                  f"{len(combined.columns)} columns -> {combined_path}; unlinked rows "
                  f"discarded unread {combined.discarded_per_holder}")
    quality = linkage.evaluate_linkage(
        exchange / "linkmap.age", {h.id: linkage.crosswalk_path(space.keys, project, h.id)
                                   for h in spec.holders},
        source / "truth.parquet", space.keys, passphrase, manifest, as_party=COMBINER,
    )
    console.print(f"against the ground truth: recall {quality.recall:.2%}, "
                  f"precision {quality.precision:.2%}")

    _step("7. the dataset is registered; a researcher files requests")
    columns = _classify(combined.columns)
    dataset_id = f"{project}-combined"
    demo_governance.register_dataset(cat, space, dataset_id, combined_path, columns, project,
                                     actor=agency)
    room_request, takeout_request = demo_governance.file_requests(
        cat, cast, dataset_id, project)
    console.print(f"dataset {dataset_id} registered by {agency} ({len(columns)} columns "
                  f"classified); {cast.researcher} submits {room_request} (analysis room) and "
                  f"{takeout_request} (take-out, 반출)", highlight=False)

    _step("8. privacy officers review with the risk report")
    import pandas as pd

    frame = pd.read_parquet(combined_path)
    risk = anonymize.risk_report(frame, QUASI_IDENTIFIERS, SENSITIVE)
    risk_doc = risk.to_dict()
    risk_path = project_dir / "risk-report.json"
    demo_governance.write_json(risk_path, risk_doc)
    console.print(anonymize.summary(risk))
    demo_governance.review_room_request(cat, cast, room_request)
    console.print(f"{room_request}: reviewed by {officer} with the risk report, approved; "
                  f"activated by {cast.admin}", highlight=False)
    # A take-out leaves for good: it is anonymised first, and the committee judges what
    # would leave.
    anonymised = demo_governance.anonymised_report(frame, QUASI_IDENTIFIERS, SENSITIVE)
    anonymised_path = project_dir / "takeout-risk-report.json"
    demo_governance.write_json(anonymised_path, anonymised)
    demo_governance.record_risk_reports(
        space, project, {"risk_report": risk_path, "takeout_risk_report": anonymised_path},
        takeout_request, officer)
    console.print(f"anonymised for the take-out until k >= {demo_governance.TAKEOUT_K}: "
                  f"k = {anonymised['k']}, highest prosecutor risk "
                  f"{anonymised['prosecutor_risk_max']:.3f}", highlight=False)
    tally = demo_governance.committee_review(cat, cast, takeout_request, anonymised)
    console.print(f"{takeout_request}: committee {officer}, {cast.second_officer}, "
                  f"{cast.third_officer}; {tally.summary()}", highlight=False)

    _step("9. take-out (반출): built, measured again, encrypted to the researcher")
    recipient, key_path = demo_governance.researcher_age_key(space, cast.researcher)
    cat.set_age_recipient(cast.researcher, recipient, actor=cast.researcher)
    built = build_takeout(space, takeout_request, officer)
    rows, k = demo_governance.open_takeout(built.path, key_path, QUASI_IDENTIFIERS)
    console.print(f"{built.release_id}: {built.rows:,} rows, k = {built.k} (raw data: k = "
                  f"{risk_doc['k']}), highest prosecutor risk {built.prosecutor_risk_max:.3f}; "
                  f"{cast.researcher} decrypts it with their own key: {rows:,} rows, "
                  f"smallest class {k}", highlight=False)

    _step("10. differentially private aggregate (OpenDP), charged to the public budget")
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
        budget_dataset = earlier.dataset_id
    else:
        budget_dataset = dataset_id
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

    spent = sum(e["epsilon"] for e in cat.budget_ledger(budget_dataset, PUBLIC_CONSUMER))

    _step("11. synthetic microdata (SDV GaussianCopula, behind the privacy gate)")
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
            SYNTH_RELEASE, dataset_id=dataset_id, form="synthetic",
            title="Synthetic combined data (demo)", artifact=str(synth_path),
            checksum=synth_checksum, parameters=synth_report, actor=officer,
        )
        gate = synth_report["privacy_gate"]
        console.print(f"{len(synthetic.data):,} rows, SDMetrics quality "
                      f"{synth_report['quality_score']:.1%}, privacy gate "
                      f"{'passed' if gate.get('passed') else 'FAILED'} -> {synth_path}")

    _step("12. open-data API: open releases only")
    answer = demo_governance.query_api(space, DP_RELEASE)
    console.print(f"GET /api/v1/datasets/{DP_RELEASE}/rows -> {answer['rows']['total']} rows "
                  f"served; /api/v1/datasets lists {', '.join(answer['native'])}; CKAN "
                  f"package_list {', '.join(answer['ckan'])}", highlight=False)
    served_closed = built.release_id in answer["native"] or built.release_id in answer["ckan"]
    console.print(f"take-out {built.release_id}: "
                  + ("SERVED OPENLY" if served_closed else "never served (not open data)"),
                  highlight=False)

    _step("13. analysis room output through the airlock (two checkers)")
    airlock_id, state, released = demo_governance.room_output(space, cat, cast, frame)
    outbox = ", ".join(str(p.relative_to(space.root)) for p in released)
    console.print(f"{cast.researcher} asks for {demo_governance.ROOM_OUTPUT} to leave the "
                  f"room ({airlock_id}); {officer} and {cast.second_officer} check it "
                  f"independently: {state}" + (f"; in the outbox: {outbox}" if outbox else ""),
                  highlight=False)

    _step("14. project close: every recorded file destroyed, with a certificate")
    if keep_project:
        console.print(f"project {project} kept open (--keep-project): its files stay for "
                      f"inspection; close it with `pseudolink project close --project "
                      f"{project}`", highlight=False)
    else:
        certificate = demo_governance.close_project(space, project, agency)
        destroyed = [f for f in certificate["files"] if f["state"] == "destroyed"]
        console.print(f"project {project} closed by {agency}: project key and "
                      f"{len(destroyed)} recorded file(s) destroyed (shares, keys, payloads, "
                      "crosswalks, link map, combined data, risk report, take-out copy); "
                      "destruction certificate in the audit log", highlight=False)

    _step("15. audit trail")
    # Other processes (the API) wrote too, without the key: sign the head they left.
    cat.checkpoint_audit()
    verdict = cat.verify_audit(catalog.CheckpointFile(anchor.path, anchor.signer.public))
    console.print(f"audit log: {verdict.entries} entries, "
                  f"{'intact' if verdict.intact else 'BROKEN: ' + '; '.join(verdict.problems)}"
                  f" (signed checkpoints in {anchor.path}); `pseudolink audit verify "
                  "--by-actor` checks it and shows who took each step", highlight=False)

    summary = Table(title="pseudolink demo", show_header=False)
    for label, value in (
        ("people", f"{synth.people:,}"),
        ("links", f"{link_report.links:,}"),
        ("recall / precision", f"{quality.recall:.2%} / {quality.precision:.2%}"),
        ("k-anonymity", f"{risk_doc['k']} raw; {built.k} in the take-out"),
        ("public DP budget", f"{spent:g} of {PUBLIC_BUDGET:g} spent"),
        ("synthetic quality", f"{synthetic.quality['quality_score']:.1%}"
         + ("" if synthetic.gate.passed else " (refused by the privacy gate)")),
        ("project", f"{project} ({'open' if keep_project else 'closed, files destroyed'})"),
        ("workspace", str(space.root.resolve())),
    ):
        summary.add_row(label, value)
    console.print(summary)
    if not verdict.ok or served_closed:
        raise typer.Exit(1)


def _project_id(cat: catalog.Catalog) -> str:
    """The demo's project: the open one of an earlier run, else the first id never closed.

    A closed project's key is destroyed and its id cannot be reused, so a run after a
    closing run starts ``demo-housing-2``, and so on.
    """
    closed = {p.id for p in cat.list_projects() if p.status == "closed"}
    candidate, n = DEMO_PROJECT, 1
    while candidate in closed:
        n += 1
        candidate = f"{DEMO_PROJECT}-{n}"
    return candidate


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

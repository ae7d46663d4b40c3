"""``pseudolink catalog dataset register|search`` and ``pseudolink catalog sweep`` (issue 16).

Datasets are registered, never implied: a file, its column classification and its
lineage to the linkage project. The sweep destroys what is past expiry, revocation or
retention; run it daily (docs/operator-guide.md has the systemd timer).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli import governance
from pseudolink.cli.app import WorkdirOption, console, fail, ws
from pseudolink.cli.artifacts import sha256_file
from pseudolink.cli.catalog import group, users
from pseudolink.cli.session import acting_user

datasets = typer.Typer(help="Registered datasets: files, column classes, lineage.",
                       no_args_is_help=True)
group.add_typer(datasets, name="dataset")

#: The artefacts of a project a dataset descends from, named in its lineage by digest.
LINEAGE_KINDS = ("linkmap", "combined")


def file_columns(path: Path) -> list[str]:
    """The column names of a Parquet or CSV file (UTF-8, with or without BOM)."""
    if not path.is_file():
        raise fail(f"{path}: file not found")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise fail(f"{path}: not a readable Parquet file ({exc})") from None
    if path.suffix.lower() == ".csv":
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                return next(csv.reader(fh), [])
        except UnicodeDecodeError:
            raise fail(f"{path}: the header is not UTF-8; convert the file or give "
                       "a Parquet file") from None
    raise fail(f"{path}: give a .parquet or .csv file")


def classify(path: Path, given: list[str], rest: str | None = None) -> dict[str, str]:
    """Every column of the file with its class: each named, or all others given ``rest``.

    There is no silent default: an unclassified identifier would be treated as harmless.
    """
    from catalog import CLASSIFICATIONS

    if rest is not None and rest not in CLASSIFICATIONS:
        raise fail(f"--rest {rest!r}: one of {', '.join(CLASSIFICATIONS)}")
    columns = file_columns(path)
    classes: dict[str, str] = {}
    for item in given:
        name, sep, cls = item.partition("=")
        if not sep or cls not in CLASSIFICATIONS:
            raise fail(f"--column {item!r}: write NAME=CLASS, CLASS one of "
                       f"{', '.join(CLASSIFICATIONS)}")
        if name not in columns:
            raise fail(f"--column {item!r}: {path} has no column {name!r}")
        classes[name] = cls
    missing = [c for c in columns if c not in classes]
    if rest is not None:
        classes.update({c: rest for c in missing})
    elif missing:
        raise fail(f"{path}: classify every column; missing {', '.join(missing)} "
                   "(e.g. --column NAME=quasi_identifier)")
    return {c: classes[c] for c in columns}


@datasets.command("register")
def register(
    dataset_id: Annotated[str, typer.Argument(help="The dataset's id (its name in requests).")],
    file: Annotated[Path, typer.Option("--file", help="The dataset's file (.parquet or .csv).")],
    title: Annotated[str, typer.Option(help="A title people can search for.")],
    column: Annotated[list[str] | None, typer.Option(
        "--column", help="NAME=CLASS for every column: direct_identifier, quasi_identifier, "
                         "sensitive or other (repeat).")] = None,
    rest: Annotated[str | None, typer.Option(
        help="The class of every column not named with --column (say it explicitly: "
             "there is no default).")] = None,
    project: Annotated[str | None, typer.Option(
        help="The linkage project it came from (lineage).")] = None,
    derived_from: Annotated[list[str] | None, typer.Option(
        help="Registered datasets it was made from (repeat).")] = None,
    description: Annotated[str, typer.Option(help="What it holds, for searchers.")] = "",
    person_key: Annotated[str | None, typer.Option(
        help="The column naming each person (default link_id): DP releases bound each "
             "person's rows by it.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Register a file as a dataset: its columns' classes and where it came from."""
    import catalog

    space = ws(workdir)
    actor = acting_user(space)
    columns = classify(file, column or [], rest)
    if person_key is not None and person_key not in columns:
        raise fail(f"--person-key {person_key!r}: {file} has no such column")
    lineage: dict = {"file_sha256": sha256_file(file)}
    if person_key is not None:
        lineage["person_key"] = person_key
    with governance.open_catalog(space) as cat:
        if not catalog.permits(cat.user_role(actor), "dataset.register"):
            raise fail(f"dataset.register refused: user {actor!r} may not register datasets")
        if project is not None:
            lineage["project"] = project
            lineage["project_files"] = {
                a.kind: a.sha256 for a in cat.artefacts(project) if a.kind in LINEAGE_KINDS}
        for parent in derived_from or []:
            if cat.dataset(parent) is None:
                raise fail(f"--derived-from {parent!r}: no such dataset in the catalog")
        if derived_from:
            lineage["derived_from"] = list(derived_from)
        try:
            cat.register_dataset(dataset_id, title=title, path=str(file.resolve()),
                                 columns=columns, project_id=project, lineage=lineage,
                                 actor=actor, description=description)
        except catalog.CatalogError as exc:
            raise fail(str(exc)) from None
    console.print(f"dataset {dataset_id} registered: {len(columns)} columns, "
                  f"file sha256 {lineage['file_sha256'][:16]}…", highlight=False)


@datasets.command("search")
def search(text: Annotated[str, typer.Argument(help="Words to look for.")],
           workdir: WorkdirOption = None) -> None:
    """Datasets whose id, title, description or column names contain TEXT."""
    with governance.open_catalog(ws(workdir)) as cat:
        found = cat.search_datasets(text)
    table = Table("dataset", "title", "project", "columns")
    for d in found:
        table.add_row(d.id, d.title, d.project_id or "-", ", ".join(d.columns))
    console.print(table)
    if not found:
        console.print(f"no dataset matches {text!r}", highlight=False)


@group.command("sweep")
def sweep(workdir: WorkdirOption = None) -> None:
    """Destroy what is past expiry, revocation or retention (run daily from a timer)."""
    import catalog

    space = ws(workdir)
    actor = acting_user(space)
    try:
        with governance.open_catalog(space) as cat:
            report = cat.sweep(actor=actor, root=space.root)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    destroyed = sum(len(c["files"]) for c in report.retention_certificates)
    console.print(f"{len(report.expired_requests)} access(es) expired, "
                  f"{len(report.destroyed_releases)} release artifact(s) destroyed, "
                  f"{destroyed} file(s) of {len(report.retention_certificates)} project(s) "
                  "past retention destroyed; each recorded in the audit log",
                  highlight=False)


@users.command("recipient")
def user_recipient(
        user_id: Annotated[str, typer.Argument(help="The user's id (their login name).")],
        recipient: Annotated[str, typer.Argument(help="Their age public key, age1...")],
        workdir: WorkdirOption = None) -> None:
    """Record USER's age public key (age1...), to which their take-outs are encrypted."""
    import catalog

    space = ws(workdir)
    actor = acting_user(space)
    try:
        with governance.open_catalog(space) as cat:
            cat.set_age_recipient(user_id, recipient, actor=actor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"take-outs for {user_id} will be encrypted to {recipient[:12]}…",
                  highlight=False)

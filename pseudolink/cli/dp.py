"""``pseudolink dp enable`` and ``pseudolink dp query``: a dataset open to DP questions.

``enable`` records a public manifest release (form ``dp_aggregate``, ``dp_query = true``)
whose hidden parameters point at the catalogued microdata, declares the clamping bounds in
the catalog and sets the consumers' budgets. ``query`` answers one statistic exactly as
``POST /api/v1/dp/query`` does, charging the consumer's budget first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pseudolink.cli.app import WorkdirOption, app, console, fail, ws
from pseudolink.cli.artifacts import publish_parquet, sha256_file
from pseudolink.cli.session import acting_user

group = typer.Typer(help="Differentially private statistics, metered by a privacy budget.",
                    no_args_is_help=True)
app.add_typer(group, name="dp")


@group.command("enable")
def enable(
    dataset: Annotated[str, typer.Option("--dataset", help="Catalog dataset id.")],
    spec: Annotated[Path, typer.Option("--spec", help="dp.toml: keys, bounds, budgets.")],
    release_id: Annotated[str | None, typer.Option("--id", help="Release id.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Open a catalogued dataset to DP queries: manifest release, bounds and budgets.

    Taken as the logged-in privacy officer (`pseudolink login`).
    """
    import pyarrow.parquet as pq

    import catalog
    from anonymize.dp import QuerySpec

    space = ws(workdir)
    actor = acting_user(space)
    declared = QuerySpec.load(spec)
    with catalog.Catalog.connect(space.database_url, root=space.root) as cat:
        info = cat.dataset(dataset)
        if info is None:
            raise fail(f"no dataset {dataset!r} in the catalog")
        data = Path(info.path)
        try:
            present = set(pq.read_schema(data).names)
        except (OSError, ValueError) as exc:
            raise fail(f"{data}: file of dataset {dataset!r} cannot be read: {exc}") from None
        unit = declared.schema.privacy_unit
        missing = [c for c in [*declared.columns, *([unit] if unit else [])]
                   if c not in present]
        if missing:
            raise fail(f"{spec}: columns not in {data}: {', '.join(missing)}")
        release_id = release_id or declared.id or f"{dataset}-dp"
        out, checksum = publish_parquet(declared.manifest(), space.releases, release_id)
        for column, (lower, upper) in declared.schema.bounds.items():
            cat.set_column_bounds(dataset, column, lower, upper, actor=actor)
        if declared.epsilon_total is not None:  # before the shares it caps
            cat.set_dataset_budget(dataset, declared.epsilon_total, actor=actor)
        for consumer, total in declared.budgets.items():
            cat.set_budget(dataset, consumer, total, actor=actor)
        cat.record_release(
            release_id, dataset_id=dataset, form="dp_aggregate",
            title=declared.title or f"{info.title}: differentially private queries",
            artifact=str(out), checksum=checksum, actor=actor,
            description="Ask differentially private statistics with POST /api/v1/dp/query.",
            parameters={"dp_query": True, "privacy_unit": unit,
                        "max_contributions": declared.schema.max_contributions,
                        "keys": declared.schema.keys, "columns": declared.columns,
                        "bounds": {c: list(b) for c, b in declared.schema.bounds.items()},
                        "privacy": "pure epsilon-differential privacy, basic composition",
                        # Hidden from every public face (open_api.parameters.INTERNAL).
                        "data": str(data.resolve()), "data_sha256": sha256_file(data)})
    console.print(f"dataset {dataset!r} open to DP queries as {release_id!r}; "
                  f"{len(declared.schema.bounds)} bounded columns, "
                  f"budgets: {', '.join(f'{c}={e:g}' for c, e in declared.budgets.items())}")


@group.command("budget")
def budget(
    dataset: Annotated[str, typer.Option("--dataset", help="Catalog dataset id.")],
    consumer: Annotated[str, typer.Option(help="API key owner, or 'public'.")] = "public",
    epsilon: Annotated[float | None, typer.Option(
        help="Set the total budget to this epsilon (never below what is spent).")] = None,
    total: Annotated[float | None, typer.Option(
        help="Set the dataset's total, which all consumers and the public share.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Show a consumer's budget on a dataset, or set it with --epsilon and the dataset's
    total with --total (officers)."""
    import catalog

    acting = epsilon is not None or total is not None
    actor = acting_user(ws(workdir)) if acting else None
    with catalog.Catalog.connect(ws(workdir).database_url, root=ws(workdir).root) as cat:
        try:
            if total is not None:
                cat.set_dataset_budget(dataset, total, actor=actor)
            if epsilon is not None:
                cat.set_budget(dataset, consumer, epsilon, actor=actor)
        except catalog.CatalogError as exc:
            raise fail(str(exc)) from None
        shared = cat.dataset_budget(dataset)
        found = cat.budget(dataset, consumer)
    if shared is not None:
        console.print(f"{dataset}: dataset total {shared.epsilon_total:g}"
                      f"{'' if shared.set_by else ' (the largest consumer budget)'}, spent by "
                      f"everyone {shared.epsilon_spent:g}, remaining {shared.remaining:g}",
                      highlight=False)
    if found is None:
        raise fail(f"consumer {consumer!r} has no budget on dataset {dataset!r}")
    console.print(f"{dataset}/{consumer}: epsilon total {found.epsilon_total:g}, spent "
                  f"{found.epsilon_spent:g}, remaining {found.remaining:g}", highlight=False)


@group.command("query")
def query(
    dataset: Annotated[str, typer.Option(
        "--dataset", help="DP-query release id, or the catalog dataset it opens.")],
    statistic: Annotated[str, typer.Option(
        help="count | sum | mean | variance | quantile | histogram")],
    epsilon: Annotated[float, typer.Option(help="Privacy loss to spend on this answer.")],
    column: Annotated[str | None, typer.Option(help="Column of the statistic.")] = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="Group by this column (repeat for a cross table).")] = None,
    quantile: Annotated[float, typer.Option(help="Which quantile (0.5 = median).")] = 0.5,
    consumer: Annotated[str, typer.Option(help="Whose budget is charged.")] = "public",
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    workdir: WorkdirOption = None,
) -> None:
    """Answer one DP statistic, charged to the consumer's budget before it is computed.

    Asked, and audited, as the logged-in person.
    """
    import catalog
    import open_api
    from anonymize.dp import DPQuery

    asked = DPQuery(statistic, epsilon=epsilon, column=column, by=tuple(by or ()),
                    quantile=quantile)
    actor = acting_user(ws(workdir))
    with catalog.Catalog.connect(ws(workdir).database_url, root=ws(workdir).root) as cat:
        answer = open_api.dp_answer(cat, dataset, asked, consumer, actor=actor)
    if as_json:
        console.print_json(json.dumps(answer, ensure_ascii=False, default=str))
        return
    _print(answer)


def _print(answer: dict) -> None:
    head = (f"{answer['statistic']}"
            + (f" of {answer['column']}" if answer.get("column") else "")
            + (f" by {', '.join(answer['by'])}" if answer.get("by") else "")
            + f" on {answer['dataset']}")
    if answer.get("rows") is not None:
        table = Table(title=head)
        names = [k for k in answer["rows"][0] if k not in ("value", "lower", "upper")]
        for name in [*names, "value", "95% interval"]:
            table.add_column(name, justify="left" if name in names else "right")
        for row in answer["rows"]:
            table.add_row(*(str(row[n]) for n in names), _number(row["value"]),
                          f"[{_number(row['lower'])}, {_number(row['upper'])}]")
        console.print(table)
    else:
        console.print(head)
        console.print(f"value {_number(answer['value'])}", highlight=False)
        if answer.get("lower") is not None:
            console.print(f"95% interval [{_number(answer['lower'])}, "
                          f"{_number(answer['upper'])}]", highlight=False)
        elif "rank_error_95" in answer.get("accuracy", {}):
            console.print(f"95%: the rank is within "
                          f"{answer['accuracy']['rank_error_95']:.1f} rows of the target",
                          highlight=False)
    console.print(f"epsilon {answer['epsilon']:g} ({answer['mechanism']}, pure epsilon-DP); "
                  f"budget remaining {answer['budget_remaining']:g}", highlight=False)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 or float(value).is_integer() else f"{value:.4g}"

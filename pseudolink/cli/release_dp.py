"""``pseudolink release dp``: a differentially private aggregate table, charged and recorded.

The spec (table.toml) declares the dimensions with their keys (or a band such as age from a
birth year), the epsilon and the consumer whose budget pays (``public`` for open data). The
epsilon is charged in the catalog before any noise is drawn; the table is written to
``W/releases/<id>.parquet`` (temporary name, then renamed) and recorded as a ``dp_aggregate``
release with its epsilon, mechanism and 95% accuracy, so the open-data API serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pseudolink.cli.app import WorkdirOption, console, fail, ws
from pseudolink.cli.artifacts import publish_parquet, sha256_file
from pseudolink.cli.release import release_app
from pseudolink.cli.session import acting_user


@release_app.command("dp")
def release_dp(
    dataset: Annotated[str, typer.Option("--dataset", help="Catalog dataset id.")],
    spec: Annotated[Path, typer.Option("--spec", help="table.toml: dimensions, epsilon.")],
    release_id: Annotated[str | None, typer.Option("--id", help="Release id.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Release a DP table over a catalogued dataset, charged to the consumer's budget."""
    import pandas as pd

    import catalog
    from anonymize.dp import TableSpec, plan_table, release_table

    table_spec = TableSpec.load(spec)
    space = ws(workdir)
    # The logged-in officer approves the release; checked before any budget is spent.
    actor = acting_user(space)
    release_id = release_id or table_spec.id or f"{dataset}-dp-table"
    with catalog.Catalog.connect(space.database_url, root=space.root) as cat:
        cat.require(actor, "release.record")
        info = cat.dataset(dataset)
        if info is None:
            raise fail(f"no dataset {dataset!r} in the catalog")
        registered = info.sha256 or info.lineage.get("file_sha256")
        # The budget charged is this dataset's: the file read must be its registered content.
        if registered is not None and sha256_file(Path(info.path)) != registered:
            raise fail(f"{info.path}: the file of dataset {dataset!r} changed since it was "
                       "registered (its SHA-256 differs); register it again")
        needed = [d.source for d in table_spec.dimensions]
        needed += [c for c in (table_spec.privacy_unit, table_spec.column) if c]
        try:
            frame = pd.read_parquet(info.path, columns=list(dict.fromkeys(needed)))
        except (OSError, ValueError, KeyError) as exc:
            raise fail(f"{info.path}: cannot read columns {', '.join(needed)} of dataset "
                       f"{dataset!r}: {exc}") from None
        planned, schema = plan_table(frame, table_spec, cat.column_bounds(dataset))
        # Spend first: a refused charge (it names the remaining budget) draws no noise.
        remaining = cat.spend(dataset, table_spec.consumer, table_spec.epsilon, actor=actor,
                              query={"kind": "dp_table", "release": release_id,
                                     "statistic": table_spec.statistic,
                                     "dimensions": [d.name for d in table_spec.dimensions],
                                     "epsilon_map": planned.epsilon})
        released = release_table(planned, schema, table_spec)
        out, checksum = publish_parquet(released.table, space.releases, release_id)
        parameters = released.parameters(table_spec)
        title = table_spec.title or (f"{table_spec.value_column} by "
                                     f"{' x '.join(d.name for d in table_spec.dimensions)}")
        cat.record_release(release_id, dataset_id=dataset, form="dp_aggregate", title=title,
                           description=table_spec.description, artifact=str(out),
                           checksum=checksum, parameters=parameters, actor=actor)
    console.print(f"{len(released.table):,} cells -> {out}")
    console.print(f"epsilon {parameters['epsilon']:g} ({parameters['mechanism']}) charged to "
                  f"{dataset}/{table_spec.consumer}; {remaining:g} left; each cell within "
                  f"+/-{parameters['accuracy_95']:.1f} of the truth with 95% probability",
                  highlight=False)

"""The ``--engine`` and ``--spark-master`` options shared by prepare, link and combine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pseudolink.cli.app import fail

if TYPE_CHECKING:
    from linkage import Engine

EngineOption = Annotated[str, typer.Option(help="duckdb | spark")]
SparkMasterOption = Annotated[str | None, typer.Option(
    metavar="URL", help="With --engine spark: the cluster to run on (spark://HOST:PORT, yarn, "
    "k8s://https://HOST:PORT; default: PSEUDOLINK_SPARK_MASTER, else local mode).")]


def compute_engine(engine: str, spark_master: str | None) -> str | Engine:
    """The engine to hand the pipeline: its name, or a Spark engine bound to a cluster."""
    import linkage

    if spark_master is None:
        return engine
    if engine != "spark":
        raise fail("--spark-master needs --engine spark")
    try:
        return linkage.get_engine("spark", master=spark_master)
    except linkage.LinkageError as exc:
        raise fail(str(exc)) from None

"""Compute engines, looked up by name and imported only when asked for."""

from __future__ import annotations

import importlib

from linkage.engines.base import Engine, MatchResult
from linkage.errors import LinkageError

_ENGINES = {"duckdb": ("linkage.engines.duckdb", "DuckDBEngine"),
            "spark": ("linkage.engines.spark", "SparkEngine")}


def get_engine(name: str | Engine = "duckdb", **options: object) -> Engine:
    """The engine called ``name``, made with ``options`` (Spark: ``master``); a missing
    optional dependency is a clear error."""
    if isinstance(name, Engine):
        return name
    if name not in _ENGINES:
        raise LinkageError(f"unknown engine '{name}' (engines: {', '.join(_ENGINES)})")
    module_name, class_name = _ENGINES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise LinkageError(f"engine '{name}' is not available in this version") from None
        raise LinkageError(f"engine '{name}' needs the '{exc.name}' package: "
                           f"pip install 'pseudolink[{name}]'") from None
    return getattr(module, class_name)(**options)


def start_engine(name: str | Engine = "duckdb", **options: object) -> Engine:
    """:func:`get_engine`, started (:meth:`Engine.start`): for a thread of its own."""
    return get_engine(name, **options).start()


__all__ = ["Engine", "MatchResult", "get_engine", "start_engine"]

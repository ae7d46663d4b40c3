"""Exact and fuzzy linkage: two strategies for prepare and link, chosen from one table by
the project's mode.

Prepare is one batched path for both modes (:func:`linkage.prepare.prepare_holder`); the
table names the mode's :class:`~linkage.prepare.KeysStrategy`, which says what a batch's key
columns are. Link is one function per mode. Neither mode's module imports the other, and
fuzzy mode's numpy code loads only for a fuzzy project.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import update_wrapper
from pathlib import Path
from typing import Any

from linkage.engines import Engine
from linkage.field_check import DEFAULT_MAX_INVALID_SHARE
from linkage.keys.project import ProjectManifest, as_manifest
from linkage.link import link_exact
from linkage.prepare import KeysStrategy, Progress, prepare_holder
from linkage.reports import LinkReport, PrepareReport

#: mode -> stage -> (module, name): for "prepare" a KeysStrategy class (built by its
#: ``for_spec``), for "link" the function that links.
MODES: dict[str, dict[str, tuple[str, str]]] = {
    "exact": {"prepare": ("linkage.prepare", "ExactKeys"),
              "link": ("linkage.link", "link_exact")},
    "fuzzy": {"prepare": ("linkage.fuzzy.prepare", "FuzzyKeys"),
              "link": ("linkage.fuzzy.link", "link")},
}


def strategy(manifest: ProjectManifest, stage: str) -> Any:
    """What runs ``stage`` for the project's mode (see :data:`MODES`)."""
    module, name = MODES[manifest.spec.mode][stage]
    return getattr(importlib.import_module(module), name)


def keys_strategy(manifest: ProjectManifest) -> KeysStrategy:
    """How the project's mode keys a batch of a holder's identifiers."""
    return strategy(manifest, "prepare").for_spec(manifest.spec)


def prepare(project: ProjectManifest | str | Path, holder_id: str, input_path: str | Path,
            out_dir: str | Path, keys_dir: str | Path, passphrase: str, *,
            encoding: str | None = None, engine: str | Engine = "duckdb",
            progress: Progress | None = None, accept_invalid: Iterable[str] = (),
            max_invalid_share: float = DEFAULT_MAX_INVALID_SHARE) -> PrepareReport:
    """Prepare one holder's file, keyed as its project's mode keys records; the arguments
    are :func:`linkage.prepare.prepare_holder`'s, which says what is written where."""
    manifest = as_manifest(project)
    return prepare_holder(manifest, holder_id, input_path, out_dir, keys_dir, passphrase,
                          strategy=keys_strategy(manifest), encoding=encoding,
                          engine=engine, progress=progress, accept_invalid=accept_invalid,
                          max_invalid_share=max_invalid_share)


def link(project: ProjectManifest | str | Path, *args: Any, **kwargs: Any) -> LinkReport:
    """Link the holders' keys files by the project's mode; arguments as
    :func:`linkage.link.link_exact` (both modes take the same)."""
    manifest = as_manifest(project)
    return strategy(manifest, "link")(manifest, *args, **kwargs)


# help() and inspect show the strategy's full signature.
update_wrapper(link, link_exact, assigned=(), updated=())


__all__ = ["MODES", "keys_strategy", "link", "prepare", "strategy"]

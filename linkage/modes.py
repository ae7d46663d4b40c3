"""Exact and fuzzy linkage: two strategies for prepare and link, chosen from one table by
the project's mode.

Neither strategy's module imports the other, and fuzzy mode's numpy code loads only for a
fuzzy project.
"""

from __future__ import annotations

import importlib
from functools import update_wrapper
from pathlib import Path
from typing import Any

from linkage.keys.project import ProjectManifest, as_manifest
from linkage.link import link_exact
from linkage.prepare import prepare_exact
from linkage.reports import LinkReport, PrepareReport

#: mode -> stage -> (module, function).
MODES: dict[str, dict[str, tuple[str, str]]] = {
    "exact": {"prepare": ("linkage.prepare", "prepare_exact"),
              "link": ("linkage.link", "link_exact")},
    "fuzzy": {"prepare": ("linkage.fuzzy.prepare", "prepare"),
              "link": ("linkage.fuzzy.link", "link")},
}


def strategy(manifest: ProjectManifest, stage: str) -> Any:
    """The function that runs ``stage`` for the project's mode."""
    module, function = MODES[manifest.spec.mode][stage]
    return getattr(importlib.import_module(module), function)


def prepare(project: ProjectManifest | str | Path, *args: Any, **kwargs: Any
            ) -> PrepareReport:
    """Prepare one holder's file by its project's mode; arguments as
    :func:`linkage.prepare.prepare_exact` (both modes take the same)."""
    manifest = as_manifest(project)
    return strategy(manifest, "prepare")(manifest, *args, **kwargs)


def link(project: ProjectManifest | str | Path, *args: Any, **kwargs: Any) -> LinkReport:
    """Link the holders' keys files by the project's mode; arguments as
    :func:`linkage.link.link_exact` (both modes take the same)."""
    manifest = as_manifest(project)
    return strategy(manifest, "link")(manifest, *args, **kwargs)


# help() and inspect show the strategies' full signatures.
update_wrapper(prepare, prepare_exact, assigned=(), updated=())
update_wrapper(link, link_exact, assigned=(), updated=())


__all__ = ["MODES", "link", "prepare", "strategy"]

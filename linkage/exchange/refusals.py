"""How the exchange says no: one exception type, answered as JSON and audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: audit(actor, action, target, details): the catalog's audit log, wired in by the CLI.
Audit = Callable[[str, str, str, dict[str, Any]], None]


@dataclass
class Refusal(Exception):
    status: int
    code: str
    message: str
    actor: str = "anonymous"
    action: str = "exchange.refused"
    extra: dict[str, Any] | None = None

"""Where one deployment keeps its state, and how a command finds it.

DESIGN 4: one directory per deployment, ``--workdir`` on every command, default
``./.pseudolink`` or ``PSEUDOLINK_WORKDIR``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

DEFAULT_WORKDIR = ".pseudolink"
SETTINGS_FILE = "settings.toml"


def default_workdir() -> Path:
    return Path(os.environ.get("PSEUDOLINK_WORKDIR", DEFAULT_WORKDIR))


@dataclass(frozen=True)
class Workspace:
    """The paths of one workspace; nothing here is read until a command needs it."""

    root: Path

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def audit_checkpoints(self) -> Path:
        """Signed audit-chain checkpoints, appended only (catalog.checkpoints)."""
        return self.logs / "audit-checkpoints.jsonl"

    @property
    def settings_file(self) -> Path:
        return self.root / SETTINGS_FILE

    def settings(self) -> dict:
        if self.settings_file.exists():
            return tomllib.loads(self.settings_file.read_text(encoding="utf-8"))
        return {}

    @property
    def database_url(self) -> str:
        """PostgreSQL in production (``PSEUDOLINK_DATABASE_URL`` or settings), else SQLite."""
        url = os.environ.get("PSEUDOLINK_DATABASE_URL") or self.settings().get("database_url")
        return url or f"sqlite:///{(self.root / 'catalog.db').resolve()}"

    @property
    def session_lifetime(self) -> timedelta:
        """How long a login lasts: ``PSEUDOLINK_SESSION_HOURS`` or ``session_hours`` (8 h)."""
        raw = os.environ.get("PSEUDOLINK_SESSION_HOURS") or self.settings().get("session_hours")
        try:
            hours = float(raw) if raw not in (None, "") else 8.0
        except (TypeError, ValueError):
            raise ValueError(f"session_hours must be a number of hours, got {raw!r}") from None
        if not 0 < hours <= 24 * 7:
            raise ValueError(f"session_hours must be above 0 and at most a week, got {hours:g}")
        return timedelta(hours=hours)

    @property
    def max_invalid_share(self) -> float | None:
        """``[holder] max_invalid_share`` in settings.toml: the share of a column's values
        that may be invalid for its kind before ``holder prepare`` refuses the column; None
        when unset (linkage's default, 5%, applies). ``--max-invalid-share`` overrides it."""
        table = self.settings().get("holder", {})
        if not isinstance(table, dict):
            raise ValueError(f"{self.settings_file}: [holder] must be a table")
        raw = table.get("max_invalid_share")
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
            raise ValueError(f"{self.settings_file}: holder.max_invalid_share must be a share "
                             f"between 0 and 1, got {raw!r}")
        return float(raw)

    def project_dir(self, project_id: str) -> Path:
        return self.data / project_id

    def create_dirs(self) -> None:
        for path in (self.root, self.keys, self.data, self.releases, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        # Keys and data are for this party's eyes only.
        for path in (self.root, self.keys):
            path.chmod(0o700)


def workspace(workdir: Path | None) -> Workspace:
    return Workspace(Path(workdir) if workdir else default_workdir())

"""The room's settings: from ``[room]`` in the workspace's settings.toml, with defaults.

Kept apart from JupyterHub so the CLI and tests can read them without importing it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from analysis_env.errors import AnalysisEnvError

#: The agency the project was built for has 19 seats in its secure room.
DEFAULT_SEATS = 19


@dataclass(frozen=True)
class RoomSettings:
    workspace: Path
    database_url: str
    #: Where each researcher's room (data/, outputs/, home/) is made.
    room_root: Path = field(default=Path())
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    seats: int = DEFAULT_SEATS
    idle_timeout: int = 3600
    #: Seconds between checks that every running server still has an active approval.
    revocation_interval: float = 15.0
    #: The room's own Python, readable by the researchers' accounts (see docs).
    room_python: Path = Path("/opt/pseudolink-room/bin/python")
    #: Researchers run under uids from here upwards, one per researcher, never root.
    uid_base: int = 20000

    def __post_init__(self) -> None:
        if self.room_root == Path():
            object.__setattr__(self, "room_root", Path(self.workspace) / "room")
        if self.seats < 1:
            raise AnalysisEnvError(f"room.seats must be at least 1, not {self.seats}")
        if not 0 < self.revocation_interval <= 30:
            raise AnalysisEnvError("room.revocation_interval must be in (0, 30] seconds so a "
                                   "revoked approval stops its server within a minute")

    @property
    def hub_dir(self) -> Path:
        return Path(self.workspace) / "hub"

    @classmethod
    def load(cls, workspace: Path, database_url: str, **overrides: Any) -> RoomSettings:
        """Defaults, then ``[room]`` of ``workspace/settings.toml``, then ``overrides``."""
        path = Path(workspace) / "settings.toml"
        section: dict[str, Any] = {}
        if path.exists():
            try:
                section = dict(tomllib.loads(path.read_text(encoding="utf-8")).get("room", {}))
            except tomllib.TOMLDecodeError as exc:
                raise AnalysisEnvError(f"{path}: {exc}") from None
        known = {f.name for f in fields(cls)} - {"workspace", "database_url"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise AnalysisEnvError(f"{path}: unknown [room] setting(s) {', '.join(unknown)}")
        values = {**section, **{k: v for k, v in overrides.items() if v is not None}}
        for name in ("room_root", "room_python"):
            if name in values:
                values[name] = Path(values[name])
        return replace(cls(Path(workspace).resolve(), database_url), **values)

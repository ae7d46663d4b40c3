"""The room's settings: from ``[room]`` in the workspace's settings.toml, with defaults.

Kept apart from JupyterHub so the CLI and tests can read them without importing it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from analysis_env.errors import AnalysisEnvError

#: The agency the project was built for has 19 seats in its secure room.
DEFAULT_SEATS = 19

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_bytes(value: int | str) -> int:
    """Bytes of a memory size written as JupyterHub writes them (``8G``, ``512M``, bytes).

    >>> memory_bytes("8G"), memory_bytes("1.5G"), memory_bytes(1024), memory_bytes("0")
    (8589934592, 1610612736, 1024, 0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(value), re.IGNORECASE)
    if match is None:
        raise AnalysisEnvError(f"room.mem_limit {value!r} is not a size such as 8G, 512M "
                               "or a number of bytes (0 for no limit)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


@dataclass(frozen=True)
class RoomSettings:
    workspace: Path
    database_url: str
    #: Where each researcher's room (data/, outputs/, home/) is made.
    room_root: Path = field(default=Path())
    ip: str = "127.0.0.1"
    port: int = 8100
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
    #: Memory of one room (server and kernels together where cgroups apply); 0: no limit.
    mem_limit: int | str = "8G"
    #: CPUs one room may use at once (may be fractional); 0: no limit.
    cpu_limit: float = 2.0
    #: Seconds between looks at the rooms' airlock inboxes (see ``intake``).
    intake_interval: float = 2.0

    def __post_init__(self) -> None:
        if self.room_root == Path():
            object.__setattr__(self, "room_root", Path(self.workspace) / "room")
        if self.seats < 1:
            raise AnalysisEnvError(f"room.seats must be at least 1, not {self.seats}")
        if not 0 < self.revocation_interval <= 30:
            raise AnalysisEnvError("room.revocation_interval must be in (0, 30] seconds so a "
                                   "revoked approval stops its server within a minute")
        memory = memory_bytes(self.mem_limit)
        if 0 < memory < 256 * 2**20:
            raise AnalysisEnvError(f"room.mem_limit {self.mem_limit!r} is under 256M, too "
                                   "little for a Jupyter server and a kernel")
        if not isinstance(self.cpu_limit, int | float) or self.cpu_limit < 0:
            raise AnalysisEnvError(f"room.cpu_limit must be a number of CPUs (0 for no limit), "
                                   f"not {self.cpu_limit!r}")
        if not 0 < self.intake_interval <= 60:
            raise AnalysisEnvError("room.intake_interval must be in (0, 60] seconds")

    @property
    def mem_bytes(self) -> int:
        """``mem_limit`` in bytes; 0 means no limit."""
        return memory_bytes(self.mem_limit)

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

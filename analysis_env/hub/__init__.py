"""The room's JupyterHub: config, catalog authenticator, isolating spawner (with the
per-room limits of ``limits`` and the room-side tools of ``tools``), the revoker, and
the airlock's intake of requests filed inside the rooms (``intake``).

Importing this package needs only the standard library and the catalog; the
JupyterHub classes live in ``authenticator`` and ``spawner``, which JupyterHub loads
by name from the generated config.
"""

from analysis_env.hub.config import check_prerequisites, configure, write_config
from analysis_env.hub.settings import DEFAULT_SEATS, RoomSettings

__all__ = ["DEFAULT_SEATS", "RoomSettings", "check_prerequisites", "configure",
           "write_config"]

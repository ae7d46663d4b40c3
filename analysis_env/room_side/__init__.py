"""The room's side of the airlock: what a researcher runs inside the secure room.

The room has no catalog and no network beyond the hub's API, so a request cannot be
filed directly. Instead the room drops a *manifest* into ``outputs/.airlock/inbox/``
and the hub's intake service (``analysis_env.hub.intake``, running as root with the
catalog) files it with ``Airlock.request``, the author being whoever owns that room,
and writes the outcome back to ``outputs/.airlock/status/``.

This package runs on the room's own Python, so it uses the standard library only
(``server_ext`` alone needs jupyter_server, which the room has). At hub start it is
copied, as ``pseudolink_room``, to a root-owned folder the room can read (see
``analysis_env.hub.tools``); imports inside it are relative so both names work.
"""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Airlock page, a jupyter_server extension (``server_ext``)."""
    return [{"module": f"{__name__}.server_ext"}]

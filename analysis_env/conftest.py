"""Doctest collection: the JupyterHub classes import JupyterHub, and the room's Airlock
page imports jupyter_server; both are optional in the project's environment."""

import importlib.util

collect_ignore = ([] if importlib.util.find_spec("jupyterhub")
                  else ["hub/authenticator.py", "hub/spawner.py"])
if importlib.util.find_spec("jupyter_server") is None:
    collect_ignore.append("room_side/server_ext.py")

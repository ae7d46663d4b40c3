"""Doctest collection: the JupyterHub classes import JupyterHub, which is optional."""

import importlib.util

collect_ignore = ([] if importlib.util.find_spec("jupyterhub")
                  else ["hub/authenticator.py", "hub/spawner.py"])

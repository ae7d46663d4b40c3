"""The secure analysis room: JupyterHub configuration, authenticator, spawner and airlock.

Not built yet (issue 9); the package exists so the layout of DESIGN 3 holds.
"""

__all__: list[str] = []

"""Collection rules for the doctests that run over the packages."""

# Alembic's env.py runs migrations on import: it is not a module to collect.
collect_ignore_glob = ["catalog/migrations/*", "bench/*", ".venv/*"]

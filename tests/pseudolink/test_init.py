"""``pseudolink init``: a workspace with its catalog, and no secret written to disk."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pseudolink.cli import app

runner = CliRunner()


def test_init_creates_the_workspace_and_its_catalog(tmp_path: Path):
    workdir = tmp_path / "ws"
    result = runner.invoke(app, ["init", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    for sub in ("keys", "data", "releases", "logs"):
        assert (workdir / sub).is_dir()
    assert (workdir / "catalog.db").is_file()
    assert (workdir / "keys").stat().st_mode & 0o077 == 0
    again = runner.invoke(app, ["init", "--workdir", str(workdir)])
    assert again.exit_code == 0, again.output


def test_init_refuses_a_database_password_on_disk(tmp_path: Path):
    workdir = tmp_path / "ws"
    result = runner.invoke(app, ["init", "--workdir", str(workdir), "--database-url",
                                 "postgresql+psycopg://officer:s3cret@127.0.0.1/catalog"])
    assert result.exit_code == 2
    assert "password" in result.output
    assert not (workdir / "settings.toml").exists()
    assert "s3cret" not in result.output

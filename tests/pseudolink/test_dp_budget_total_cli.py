"""``pseudolink dp budget --total``: the officer's one total per dataset, shown to everyone."""

from __future__ import annotations

from typer.testing import CliRunner

import catalog
from pseudolink.cli.app import app
from pseudolink.settings import workspace
from tests.accounts import log_in


def test_dp_budget_total_caps_every_consumer_together(tmp_path, monkeypatch):
    space = workspace(tmp_path / "w")
    space.create_dirs()
    catalog.init_catalog(space.database_url)
    data = space.data / "combined.parquet"
    data.write_bytes(b"PAR1 not read by this test PAR1")
    with catalog.Catalog.connect(space.database_url) as cat:
        log_in(cat, monkeypatch, "po", "privacy_officer")
        cat.register_dataset("d", title="t", path=str(data), columns={"link_id": "other"},
                             project_id=None, lineage={}, actor="po")
    run = CliRunner().invoke
    result = run(app, ["dp", "budget", "--dataset", "d", "--total", "1",
                       "--workdir", str(space.root)])
    assert result.exit_code == 2 and "no budget" in result.output  # no consumer yet
    result = run(app, ["dp", "budget", "--dataset", "d", "--consumer", "alice",
                       "--epsilon", "3", "--workdir", str(space.root)])
    assert result.exit_code == 2
    assert "error: budget of consumer 'alice' on dataset 'd': 3 is above the dataset's total 1" \
        in result.output.replace("\n", " ")
    result = run(app, ["dp", "budget", "--dataset", "d", "--consumer", "alice",
                       "--epsilon", "1", "--workdir", str(space.root)])
    assert result.exit_code == 0, result.output
    assert "d: dataset total 1, spent by everyone 0, remaining 1" in result.output


def test_dp_enable_sets_the_declared_total_before_the_consumers_shares(tmp_path, monkeypatch):
    import pandas as pd

    space = workspace(tmp_path / "w")
    space.create_dirs()
    catalog.init_catalog(space.database_url)
    data = space.data / "combined.parquet"
    pd.DataFrame({"link_id": ["a", "b"], "age": [30, 40]}).to_parquet(data)
    with catalog.Catalog.connect(space.database_url) as cat:
        log_in(cat, monkeypatch, "po", "privacy_officer")
        cat.register_dataset("d", title="t", path=str(data), columns={"link_id": "other",
                                                                       "age": "other"},
                             project_id=None, lineage={}, actor="po")
    spec = tmp_path / "dp.toml"
    spec.write_text('epsilon_total = 1.5\n[bounds]\nage = [0, 120]\n'
                    '[budgets]\npublic = 1.0\nalice = 1.5\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["dp", "enable", "--dataset", "d", "--spec", str(spec),
                                      "--workdir", str(space.root)])
    assert result.exit_code == 0, result.output
    with catalog.Catalog.connect(space.database_url) as cat:
        total = cat.dataset_budget("d")
    assert (total.epsilon_total, total.set_by) == (1.5, "po")
    spec.write_text('epsilon_total = "lots"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["dp", "enable", "--dataset", "d", "--spec", str(spec),
                                      "--workdir", str(space.root)])
    # A user error (the entry point prints it as one `error:` line, exit 2), raised before
    # anything is written.
    assert "epsilon_total must be a positive number" in str(result.exception)

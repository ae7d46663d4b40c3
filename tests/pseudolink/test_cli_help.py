"""A CLI that explains itself (issue 19): every command, argument and option has help text,
every verb that works in a workspace takes ``--workdir``, and a value outside a fixed list
is refused with the list, exit 2, no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import pseudolink.cli  # noqa: F401  (registers every command module)
from pseudolink.cli.app import app

#: Verbs that read and write the files they are given, never a workspace.
NO_WORKSPACE = {"synth-data", "risk", "anonymize"}


def _leaves():  # type: ignore[no-untyped-def]
    import typer.main

    def walk(command, path):  # type: ignore[no-untyped-def]
        if hasattr(command, "commands"):
            yield path, command
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command
    return list(walk(typer.main.get_command(app), []))


def test_every_command_argument_and_option_has_help():
    missing = []
    for path, command in _leaves():
        name = " ".join(path) or "pseudolink"
        if not (command.help or command.short_help):
            missing.append(f"{name}: no help")
        for param in command.params:
            if not getattr(param, "help", None) and param.name != "help":
                missing.append(f"{name} {param.human_readable_name}: no help")
    assert missing == []


def test_every_verb_that_uses_a_workspace_takes_workdir():
    lacking = [" ".join(path) for path, command in _leaves()
               if not hasattr(command, "commands") and " ".join(path) not in NO_WORKSPACE
               and not any("--workdir" in param.opts for param in command.params)]
    assert lacking == []


def test_the_request_states_the_cli_lists_are_the_catalogs():
    from catalog.models import REQUEST_STATES
    from pseudolink.cli.catalog import REQUEST_STATES as LISTED

    assert LISTED == REQUEST_STATES


@pytest.mark.parametrize("args, named", [
    (["catalog", "apikey", "issue", "bob", "--scope", "dp-query"], "open_data, dp_query"),
    (["catalog", "request", "list", "--state", "pending"], "under_review"),
])
def test_a_value_outside_the_list_is_refused_with_the_list(tmp_path, args, named):
    result = CliRunner().invoke(app, [*args, "--workdir", str(tmp_path / "ws")])
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_an_error_message_keeps_its_brackets(tmp_path, monkeypatch, capsys):
    """Rich markup used to eat bracketed text of an error: `[[dimensions]]` printed as `[]`."""
    from pseudolink.cli import main

    spec = tmp_path / "table.toml"
    spec.write_text('[table]\nid = "x"\nepsilon = 1.0\n', encoding="utf-8")
    monkeypatch.setattr("sys.argv", ["pseudolink", "release", "dp", "--dataset", "d", "--spec",
                                     str(spec), "--workdir", str(tmp_path / "ws")])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "declare at least one [[dimensions]]" in printed, printed


def test_help_keeps_brackets_and_flows_docstrings(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    shown = CliRunner().invoke(app, ["holder", "prepare", "--help"]).output
    flat = " ".join(shown.split())
    assert "(default: [holder] max_invalid_share in settings.toml" in flat
    # The docstring's second paragraph flows as one line at this width, not its source lines.
    (line,) = [line for line in shown.splitlines() if "Refused unless" in line]
    assert "and refused when" in line, shown

"""Docs that run (issue 19): every command block of README.md and docs/*.md is executed.

Each document's ``bash``, ``sh`` and ``console`` blocks run in order, in one shell, in a
fresh empty folder of their own (so one document's workspace never helps another's), as
a reader would paste them. A ``toml`` block whose first line names its file (``# dp.toml``) is
written to that file at its place. A block marked ``<!-- illustrative: why -->`` on the line
before its fence is not run (servers that block, cron lines, unit files, production
PostgreSQL), and must say why. Any other command that fails fails the test, naming the
document and the line. A fence without a language that runs ``pseudolink`` is refused: it
would be neither run nor checked.

``pseudolink`` is served by a fork server (tests/pseudolink/cli_forkserver.py) that has
imported the CLI once: each command is still its own process running ``main()``.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pseudolink.docs_blocks import Block, blocks, unlabelled_commands

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FAILED = "docs-run: failed at script line"
#: A server port as the docs write it (``--port 8000``, ``http://127.0.0.1:8000/``). The run
#: serves on a free port instead, so that a busy 8000 on the test machine fails nothing.
DOCUMENTED_PORT = re.compile(r"(?<=--port )8000\b|(?<=127\.0\.0\.1:)8000\b|(?<=localhost:)8000\b")
#: Programs besides pseudolink that documents may call (Debian packages `make test` installs).
OUTSIDE_TOOLS = {"age", "age-keygen", "curl", "frictionless", "ckanapi"}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path, _name(path)) if not b.illustrative and b.lines]


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> dict[str, str]:
    """The fork server, and a ``pseudolink`` on PATH that talks to it."""
    home = tmp_path_factory.mktemp("docs-cli")
    socket_path = str(home / "cli.sock")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, str(HERE / "cli_forkserver.py"), socket_path],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert server.stdout.readline().strip() == "ready", server.stderr.read()
    bin_dir = home / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pseudolink"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                       f"{shlex.quote(str(HERE / 'cli_client.py'))} \"$@\"\n")
    wrapper.chmod(0o755)
    yield {"socket": socket_path, "bin": str(bin_dir)}
    server.terminate()
    server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _script(runnable: list[Block], port: int = 8000
            ) -> tuple[str, dict[int, tuple[int, str]]]:
    """One shell script of every block in order, and each script line's document line.

    The documented server port becomes ``port`` in the commands (never in the lines reported
    on failure, which quote the document)."""
    lines = ["set -eE -o pipefail",
             f"trap 'echo \"{FAILED} $LINENO\" >&2' ERR",
             # A server a document started in the background (`serve api &`) and did not
             # stop, because a later line failed, is stopped on the way out.
             "trap 'jobs -p | xargs -r kill 2> /dev/null; wait' EXIT"]
    where: dict[int, tuple[int, str]] = {}
    for block in runnable:
        lines.append(f": block at line {block.line}")
        if block.file is not None:
            lines.append(f"cat > {shlex.quote(block.file)} <<'DOCS_RUN_EOF'")
            where[len(lines)] = (block.line, f"(writing {block.file})")
            lines += [text for _, text in block.lines] + ["DOCS_RUN_EOF"]
            continue
        for number, text in block.lines:
            lines.append(DOCUMENTED_PORT.sub(str(port), text))
            where[len(lines)] = (number, text)
    return "\n".join(lines) + "\n", where


def _environment(cli: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSEUDOLINK_")}
    env.update({
        "PATH": f"{cli['bin']}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PSEUDOLINK_DOCS_SOCKET": cli["socket"], "COLUMNS": "120", "NO_COLOR": "1",
        # argon2's cheapest profile: these runs test the commands, not the hashing cost.
        "PSEUDOLINK_PASSWORD_HASHING": "test-only-insecure",
    })
    return env


def _missing_tools(runnable: list[Block]) -> list[str]:
    """Outside tools the blocks call that this machine lacks (`make test` installs them)."""
    words = {word for b in runnable if b.file is None for _, text in b.lines
             for word in re.findall(r"[\w-]+", text)}
    return sorted(tool for tool in OUTSIDE_TOOLS & words if shutil.which(tool) is None)


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if _runnable(d)], ids=_name)
def test_every_command_block_runs(document: Path, cli, tmp_path):
    runnable = _runnable(document)
    missing = _missing_tools(runnable)
    if missing and os.environ.get("CI") != "true":
        pytest.skip(f"{_name(document)} calls {', '.join(missing)}, not installed here "
                    "(`make sysdeps` installs them; under CI=true this fails instead)")
    script, where = _script(runnable, port=_free_port())
    (tmp_path / "docs-run.sh").write_text(script, encoding="utf-8")
    started = time.monotonic()
    result = subprocess.run(["bash", str(tmp_path / "docs-run.sh")], cwd=tmp_path,
                            env=_environment(cli), capture_output=True, text=True,
                            timeout=600)
    took = time.monotonic() - started
    if result.returncode == 0:
        return
    output = result.stdout[-2500:] + result.stderr[-2500:]
    failed = [line for line in result.stderr.splitlines() if line.startswith(FAILED)]
    if failed:
        line = int(failed[-1].rsplit(" ", 1)[1])
        number, text = where.get(line, where[max(k for k in where if k <= line)])
        pytest.fail(f"{_name(document)}:{number}: `{text.strip()}` failed (exit "
                    f"{result.returncode}, after {took:.0f} s)\n{output}", pytrace=False)
    pytest.fail(f"{_name(document)}: the blocks failed (exit {result.returncode})\n{output}",
                pytrace=False)


def test_the_readme_tour_runs_rather_than_illustrates():
    tour = _runnable(ROOT / "README.md")
    commands = " ".join(text for b in tour if b.file is None for _, text in b.lines)
    for verb in ("login", "catalog dataset register", "catalog request create",
                 "catalog request submit", "catalog request review", "project create",
                 "project accept", "holder prepare", "link", "combine", "anonymize",
                 "release takeout", "release dp", "release synth", "airlock request",
                 "airlock vote", "project close", "audit verify"):
        assert f"pseudolink {verb}" in commands, verb


def test_the_documented_port_is_served_on_a_free_one_so_a_busy_8000_fails_nothing(tmp_path):
    doc = tmp_path / "serve.md"
    doc.write_text("```sh\npseudolink serve api --port 8000 &\n"
                   "curl -sf http://127.0.0.1:8000/readyz http://localhost:8000/x\n"
                   "echo 18000 80001\n```\n", encoding="utf-8")
    script, where = _script(_runnable_at(doc), port=49321)
    assert "--port 49321 &" in script
    assert "http://127.0.0.1:49321/readyz http://localhost:49321/x" in script
    assert "echo 18000 80001" in script  # only the port, nothing that merely contains it
    assert "8000" not in script.replace("18000 80001", "")
    assert (2, "pseudolink serve api --port 8000 &") in where.values()  # reported as written


def test_a_failing_block_is_named_by_document_and_line(cli, tmp_path):
    doc = tmp_path / "broken.md"
    doc.write_text("# A guide\n\n```sh\npseudolink --version\npseudolink no-such-verb\n```\n",
                   encoding="utf-8")
    script, where = _script(_runnable_at(doc))
    (tmp_path / "run.sh").write_text(script, encoding="utf-8")
    result = subprocess.run(["bash", str(tmp_path / "run.sh")], cwd=tmp_path,
                            env=_environment(cli), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "pseudolink" in result.stdout  # --version ran first
    line = int(next(x for x in result.stderr.splitlines()
                    if x.startswith(FAILED)).rsplit(" ", 1)[1])
    assert where[line] == (5, "pseudolink no-such-verb")


def _runnable_at(path: Path) -> list[Block]:
    return [b for b in blocks(path) if not b.illustrative and b.lines]


#: ``pseudolink`` where a shell command starts: at the line's start or after ; && || | ( $(
#: do then, past any VAR=value assignments; its words run to the next separator.
_CALL = re.compile(r"(?:^|[;&|(]\s*|\b(?:do|then)\s+)(?:\w+=\S+\s+)*pseudolink"
                   r"((?:\s+[^\s;&|)]+)*)")


def _pseudolink_calls(block: Block) -> list[tuple[int, list[str]]]:
    """Each ``pseudolink ...`` call of a block: its first line and its words, comments cut."""
    calls, pending, start = [], "", 0
    for number, text in block.lines:
        code = text.split(" #", 1)[0] if not text.lstrip().startswith("#") else ""
        if not pending:
            start = number
        pending += " " + code.rstrip().rstrip("\\")
        if code.rstrip().endswith("\\"):
            continue
        for found in _CALL.finditer(pending.strip()):
            calls.append((start, found.group(1).split()))
        pending = ""
    return calls


@functools.cache
def _root_command():  # type: ignore[no-untyped-def]
    import typer.main

    import pseudolink.cli  # noqa: F401  (registers every command module)
    from pseudolink.cli.app import app

    return typer.main.get_command(app)


def _command_for(words: list[str]):  # type: ignore[no-untyped-def]
    """The click command ``words`` name, descending the command tree; the rest of the words."""
    command = _root_command()
    rest = list(words)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def _drift(document: Path, name: str) -> list[str]:
    """Each ``pseudolink`` call of the document naming a verb or option that does not exist."""
    wrong = []
    for block in blocks(document, name):
        if block.file is not None:
            continue
        for line, words in _pseudolink_calls(block):
            if not words or words[0] in ("--version", "--help"):
                continue
            command, rest = _command_for(words)
            if hasattr(command, "commands"):
                wrong.append(f"{name}:{line}: `pseudolink {' '.join(words[:3])}`: no such "
                             "command")
                continue
            known = {opt for param in command.params
                     for opt in (*param.opts, *param.secondary_opts)}
            for word in rest:
                option = word.strip("[]").split("=", 1)[0]
                if option.startswith("--") and option not in known | {"--help", "--debug"}:
                    wrong.append(f"{name}:{line}: `pseudolink {' '.join(words[:3])}` has no "
                                 f"option {option}")
    return wrong


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_pseudolink_call_in_the_docs_names_real_verbs_and_options(document: Path):
    """Illustrative blocks are not run, but their verbs and options are checked, so that
    they cannot drift either."""
    assert _drift(document, _name(document)) == []


def test_a_call_to_a_verb_or_option_that_does_not_exist_is_named(tmp_path):
    doc = tmp_path / "old.md"
    doc.write_text("<!-- illustrative -->\n```sh\npseudolink serve api --port 1 \\\n"
                   "    --no-such-flag\nFOO=1 pseudolink holder extract-all --project P\n"
                   "echo pseudolink is not called here\n```\n", encoding="utf-8")
    assert _drift(doc, "old.md") == [
        "old.md:3: `pseudolink serve api --port` has no option --no-such-flag",
        "old.md:5: `pseudolink holder extract-all --project`: no such command"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_block_that_is_not_run_says_why_and_every_command_block_is_labelled(
        document: Path):
    name = _name(document)
    silent = [f"{name}:{b.line}" for b in blocks(document, name)
              if b.illustrative and not b.reason]
    assert silent == [], "write <!-- illustrative: why it cannot run here --> before each"
    unlabelled = [f"{name}:{line}" for line in unlabelled_commands(document)]
    assert unlabelled == [], "label each command fence ```sh (and run it, or say why not)"


def test_an_unexplained_or_unlabelled_block_is_named(tmp_path):
    doc = tmp_path / "guide.md"
    doc.write_text("<!-- illustrative -->\n```sh\npseudolink serve api\n```\n\n"
                   "- a step:\n  ```\n  pseudolink whoami\n  ```\n", encoding="utf-8")
    (block,) = blocks(doc)
    assert block.illustrative and block.reason == ""
    assert unlabelled_commands(doc) == [7]

"""A column the normaliser throws away is an error, not a count (issue 20).

A user who declares Australian postcodes as kind ``postcode`` (Korean rules) used to get
exit 0 and every postcode silently null; now prepare stops, naming the column, the kind,
how many failed, two shape-only examples and what the kind expects.
"""

from __future__ import annotations

import shutil
import tomllib

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import linkage
from linkage.normalise import normalise_column, value_shapes
from pseudolink.cli import holder, project, project_accept  # noqa: F401
from pseudolink.cli.app import app
from tests.linkage.conftest import PASSPHRASE, accept_all

FOREIGN_SPEC = """\
[project]
id = "febrl-like"
purpose = "scientific_research"
mode = "{mode}"

[[holders]]
id = "ssis"
identifiers = {{ given = "given_name", surname = "surname", pc = "{kind}" }}
attributes = ["state"]

[[holders]]
id = "building"
identifiers = {{ given = "given_name", surname = "surname", pc = "{kind}" }}
attributes = ["state"]
{recipes}"""
GIVEN = ["james", "olivia", "liam", "ava", "noah", "mia", "jack", "zoe", "ethan", "ruby"]
SURNAMES = ["smith", "jones", "brown", "wilson", "taylor", "white", "martin", "lee",
            "walker", "hall"]
RECIPES = '\n[[recipes]]\nfields = ["given_name", "surname", "{kind}"]\n'


def _spec_text(kind: str, mode: str) -> str:
    recipes = RECIPES.format(kind=kind) if mode == "exact" else ""
    return FOREIGN_SPEC.format(kind=kind, mode=mode, recipes=recipes)


AU_POSTCODES = ["2600", "3000", "4000", "5000", "6000", "7000", "0800", "2000", "3050", "2612"]


def _csv(rows: int = 10, postcodes: list[str] | None = None) -> str:
    codes = postcodes or AU_POSTCODES
    lines = ["given,surname,pc,state"]
    for i in range(rows):
        lines.append(f"{GIVEN[i % 10]},{SURNAMES[i % 10]},{codes[i % len(codes)]},nsw")
    return "\n".join(lines) + "\n"


def _project(tmp_path, party_keys, *, kind: str = "postcode", mode: str = "exact"):
    keys = tmp_path / "keys"
    shutil.copytree(party_keys, keys)
    spec = linkage.ProjectSpec.from_dict(
        tomllib.loads(_spec_text(kind, mode)))
    manifest = accept_all(linkage.create_project(spec, keys, tmp_path / "project"), keys)
    return manifest, keys


def _prepare(manifest, keys, tmp_path, text: str, **kwargs):
    path = tmp_path / "ssis.csv"
    path.write_text(text, encoding="utf-8")
    return linkage.prepare(manifest, "ssis", path, tmp_path / "out", keys, PASSPHRASE,
                           **kwargs)


@pytest.mark.parametrize("mode", ["exact", "fuzzy"])
def test_foreign_postcodes_declared_korean_are_refused_naming_column_kind_and_shapes(
        tmp_path, party_keys, mode):
    manifest, keys = _project(tmp_path, party_keys, mode=mode)
    with pytest.raises(linkage.InputError) as caught:
        _prepare(manifest, keys, tmp_path, _csv())
    message = str(caught.value)
    assert "ssis.csv, column 'pc'" in message
    assert "10 of 10" in message and "'postcode'" in message
    assert "9999" in message                       # the shape of what was found
    assert "five digits" in message and "postcode_any" in message  # what it expects
    assert "--accept-invalid pc" in message
    without_path = message.replace(str(tmp_path), "")
    for value in AU_POSTCODES:                     # never a value, only its shape
        assert value not in without_path
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())
    assert not linkage.crosswalk_path(keys, manifest.id, "ssis").exists()


def test_accepting_the_column_lets_prepare_drop_its_values(tmp_path, party_keys):
    manifest, keys = _project(tmp_path, party_keys)
    report = _prepare(manifest, keys, tmp_path, _csv(), accept_invalid=["pc"])
    assert report.invalid["postcode"] == 10
    assert report.keys_per_recipe["given_name+surname+postcode"] == 0


def test_a_small_share_of_invalid_values_is_still_only_counted(tmp_path, party_keys):
    manifest, keys = _project(tmp_path, party_keys)
    codes = ["03154"] * 39 + ["12"]               # 1 of 40 = 2.5%, under the 5% default
    report = _prepare(manifest, keys, tmp_path, _csv(40, codes))
    assert report.invalid["postcode"] == 1 and report.records == 40


def test_the_threshold_is_configurable(tmp_path, party_keys):
    manifest, keys = _project(tmp_path, party_keys)
    codes = ["03154"] * 39 + ["12"]
    with pytest.raises(linkage.InputError, match=r"1 of 40 values \(2.5%\)"):
        _prepare(manifest, keys, tmp_path, _csv(40, codes), max_invalid_share=0.01)
    codes = ["03154"] * 8 + ["12", "34"]          # 20% allowed under a 0.25 share
    assert _prepare(manifest, keys, tmp_path, _csv(10, codes),
                    max_invalid_share=0.25).invalid["postcode"] == 2


def test_accepting_a_column_the_holder_does_not_have_is_refused(tmp_path, party_keys):
    manifest, keys = _project(tmp_path, party_keys)
    with pytest.raises(linkage.LinkageError, match=r"--accept-invalid postcode: .*'pc'"):
        _prepare(manifest, keys, tmp_path, _csv(), accept_invalid=["postcode"])


@pytest.mark.parametrize("mode", ["exact", "fuzzy"])
def test_foreign_postcodes_as_postcode_any_prepare_with_keys(tmp_path, party_keys, mode):
    manifest, keys = _project(tmp_path, party_keys, kind="postcode_any", mode=mode)
    report = _prepare(manifest, keys, tmp_path, _csv())
    assert report.invalid["postcode_any"] == 0
    assert all(count == 10 for count in report.keys_per_recipe.values())


def test_cli_refusal_is_one_error_line_without_values_and_accept_option_passes(
        tmp_path, party_keys, monkeypatch):
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    spec = tmp_path / "project.toml"
    spec.write_text(_spec_text("postcode", "exact"), encoding="utf-8")

    def run(*args):
        return CliRunner().invoke(app, [*args, "--workdir", str(work)])

    assert run("project", "create", "--spec", str(spec)).exit_code == 0
    for holder_id in ("ssis", "building"):
        assert run("project", "accept", "--project", "febrl-like", "--holder", holder_id,
                   "--yes").exit_code == 0
    data = tmp_path / "ssis.csv"
    data.write_text(_csv(), encoding="utf-8")
    prepare = ("holder", "prepare", "--project", "febrl-like", "--holder", "ssis",
               "--input", str(data), "--out", str(tmp_path / "out"))
    result = run(*prepare)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "error:" in text and "column 'pc'" in text and "Traceback" not in text
    assert result.output.count("error:") == 1
    # Rich wraps long lines; the temporary folder's name may hold any digits.
    flat = "".join(result.output.split()).replace(str(tmp_path), "")
    for value in AU_POSTCODES:
        assert value not in flat
    accepted = run(*prepare, "--accept-invalid", "pc")
    assert accepted.exit_code == 0, accepted.output


def test_postcode_any_folds_spacing_case_and_width():
    raw = pa.array(["SW1A 1AA", "sw1a1aa", "ＳＷ１Ａ－１ＡＡ", "2600", " 0800 ", "K1A 0B1",
                    "!!", "A", None])
    assert normalise_column("postcode_any", raw).to_pylist() == [
        "SW1A1AA", "SW1A1AA", "SW1A1AA", "2600", "0800", "K1A0B1", None, None, None]


def test_id_kind_is_opaque_but_folds_width_case_and_edges():
    raw = pa.array(["  AB-123x ", "ab-123X", "ＡＢ-１２３Ｘ", "a b", "   ", None])
    assert normalise_column("id", raw).to_pylist() == [
        "ab-123x", "ab-123x", "ab-123x", "a b", None, None]


def test_value_shapes_keep_form_and_drop_content():
    shapes = value_shapes(pa.array(["2600", "110-034", "Kim Ji", "홍길동", "x" * 60]))
    assert shapes.to_pylist() == ["9999", "999-999", "Aaa Aa", "가가가",
                                  "a" * 24 + "…"]


def test_the_refusal_threshold_is_a_workspace_setting_the_flag_overrides(
        tmp_path, party_keys, monkeypatch):
    """An office whose registers carry more stray values than 5% sets its threshold once,
    in settings.toml, instead of on every prepare; the flag still wins for one command."""
    monkeypatch.setenv("PSEUDOLINK_PASSPHRASE", PASSPHRASE)
    work = tmp_path / "ws"
    shutil.copytree(party_keys, work / "keys")
    spec = tmp_path / "project.toml"
    spec.write_text(_spec_text("postcode_any", "exact"), encoding="utf-8")

    def run(*args):
        return CliRunner().invoke(app, [*args, "--workdir", str(work)])

    assert run("project", "create", "--spec", str(spec)).exit_code == 0
    for holder_id in ("ssis", "building"):
        assert run("project", "accept", "--project", "febrl-like", "--holder", holder_id,
                   "--yes").exit_code == 0
    data = tmp_path / "ssis.csv"  # 2 of 20 postcodes (10%) are no postcode at all
    data.write_text(_csv(20, [*AU_POSTCODES[:9], "!!"]), encoding="utf-8")
    prepare = ("holder", "prepare", "--project", "febrl-like", "--holder", "ssis",
               "--input", str(data), "--out", str(tmp_path / "out"))
    assert run(*prepare).exit_code == 2  # default 5%
    settings = work / "settings.toml"
    settings.write_text("[holder]\nmax_invalid_share = 0.15\n", encoding="utf-8")
    allowed = run(*prepare)
    assert allowed.exit_code == 0, allowed.output
    assert run(*prepare, "--max-invalid-share", "0.05").exit_code == 2
    settings.write_text("[holder]\nmax_invalid_share = 5\n", encoding="utf-8")
    bad = run(*prepare)
    assert bad.exit_code == 2 and "holder.max_invalid_share" in " ".join(bad.output.split())
    assert "Traceback" not in bad.output

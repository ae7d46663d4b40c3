"""The spec's [fuzzy] table sets fuzzy mode's parameters; mistakes name the file and key."""

from __future__ import annotations

import pytest

import linkage
from linkage.fuzzy import params_for
from tests.linkage.conftest import SPEC


def _load(tmp_path, table: str):
    path = tmp_path / "project.toml"
    path.write_text(_fuzzy_without_recipes() + "\n" + table, encoding="utf-8")
    return linkage.ProjectSpec.load(path)


def test_fuzzy_table_sets_salts_thresholds_and_rules(tmp_path):
    spec = _load(tmp_path, '[fuzzy]\nsalts = []\nhardening = "xor_fold"\n'
                 'target_precision = 0.999\nlevels = [1.0, 0.8, 0.5]\n'
                 'blocking = ["rrn", ["name", "dob~year"]]\nq = 3\n')
    params = params_for(spec)
    assert params.salts == () and params.fields["name"].salts == ()
    assert params.hardening == "xor_fold" and params.target_precision == 0.999
    assert params.levels == (1.0, 0.8, 0.5)
    assert params.blocking == (("rrn",), ("name", "dob~year"))
    assert {e.q for e in params.fields.values()} == {3}
    assert linkage.ProjectSpec.from_dict(spec.to_dict()) == spec
    assert params_for(spec).digest != params_for(_load(tmp_path, "")).digest


def test_defaults_salt_names_by_birth_year_when_every_holder_has_one(tmp_path):
    params = params_for(_load(tmp_path, ""))
    assert params.fields["name"].salts == ("dob~year",)
    assert params.fields["name"].columns == ["bloom:name|dob~year"]


@pytest.mark.parametrize(("table", "message"), [
    ('salts = "dob~year"', r"fuzzy.salts: must be a list"),
    ('salts = ["dob~month"]', r"fuzzy.salts: 'dob~month': unknown derived part"),
    ('hardening = "rot13"', r"fuzzy.hardening: 'rot13' is not one of fixed_weight"),
    ("q = 5", r"fuzzy.q: q-grams of size 5"),
    ("levels = [0.5, 0.9]", r"fuzzy.levels: must be Dice cut points"),
    ("target_precision = 1.5", r"fuzzy.target_precision: 1.5 is not a probability"),
    ('blocking = [["rrn", "shoe_size"]]', r"fuzzy.blocking\[0\]: 'shoe_size' is not"),
    ("threshold = 3", r"fuzzy.threshold: unknown key"),
])
def test_fuzzy_table_mistakes_name_the_spec_file_and_key(tmp_path, table, message):
    with pytest.raises(linkage.LinkageError, match=message) as caught:
        _load(tmp_path, "[fuzzy]\n" + table + "\n")
    assert "project.toml" in str(caught.value)


def _fuzzy_without_recipes() -> str:
    return SPEC.replace('mode = "exact"', 'mode = "fuzzy"').split("[[recipes]]")[0]


def test_fuzzy_mode_needs_no_recipes(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(_fuzzy_without_recipes(), encoding="utf-8")
    spec = linkage.ProjectSpec.load(path)
    assert spec.recipes == [] and "name" in params_for(spec).fields
    assert linkage.ProjectSpec.from_dict(spec.to_dict()) == spec


def test_recipes_that_fuzzy_mode_would_ignore_are_refused_naming_what_it_uses(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(SPEC.replace('mode = "exact"', 'mode = "fuzzy"'), encoding="utf-8")
    with pytest.raises(linkage.LinkageError) as caught:
        linkage.ProjectSpec.load(path)             # the exact spec's recipes, mode fuzzy
    message = str(caught.value)
    assert "project.toml" in message and "[[recipes]]" in message
    assert "fuzzy mode does not use" in message
    assert "[fuzzy] fields" in message and "[fuzzy] blocking" in message


def test_a_fuzzy_table_that_exact_mode_would_ignore_is_refused(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(SPEC + '\n[fuzzy]\nhardening = "xor_fold"\n', encoding="utf-8")
    with pytest.raises(linkage.LinkageError,
                       match=r"project.toml: \[fuzzy\]: exact mode does not use it"):
        linkage.ProjectSpec.load(path)


def test_fuzzy_fields_choose_the_compared_kinds(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(_fuzzy_without_recipes() + '\n[fuzzy]\nfields = ["name", "dob"]\n',
                    encoding="utf-8")
    params = params_for(linkage.ProjectSpec.load(path))
    assert set(params.fields) == {"name", "dob"}


def test_fuzzy_fields_a_holder_cannot_supply_are_refused(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(_fuzzy_without_recipes() + '\n[fuzzy]\nfields = ["name", "phone"]\n',
                    encoding="utf-8")
    with pytest.raises(linkage.LinkageError,
                       match=r"fuzzy.fields: holder 'building' has no identifier of kind 'phone'"):
        linkage.ProjectSpec.load(path)

"""The spec's [fuzzy] table sets fuzzy mode's parameters; mistakes name the file and key."""

from __future__ import annotations

import pytest

import linkage
from linkage.fuzzy import params_for
from tests.linkage.conftest import SPEC


def _load(tmp_path, table: str):
    path = tmp_path / "project.toml"
    path.write_text(SPEC.replace('mode = "exact"', 'mode = "fuzzy"') + "\n" + table,
                    encoding="utf-8")
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

"""Spec mistakes are reported before any key exists, naming the file and the key."""

from __future__ import annotations

import pytest

import linkage
from tests.linkage.conftest import SPEC


def _load(tmp_path, text):
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    return linkage.ProjectSpec.load(path)


def test_spec_parses_with_default_parties(tmp_path):
    spec = _load(tmp_path, SPEC)
    assert spec.holder_ids == ["ssis", "building"]
    assert [r.name for r in spec.recipes] == ["rrn", "name+dob+sex"]
    assert (spec.key_manager, spec.combiner) == ("keymanager", "agency")
    assert linkage.ProjectSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.replace('phone = "phone"', 'phone = "telephone"'),
     r"holders\[0\] \(ssis\).identifiers.phone: unknown identifier kind 'telephone'"),
    (lambda s: s.replace('id = "building"', 'id = "ssis"'), "duplicate holder id 'ssis'"),
    (lambda s: s.replace("scientific_research", "marketing"), "project.purpose: 'marketing'"),
    (lambda s: s.replace('mode = "exact"', 'mode = "magic"'), "project.mode: 'magic'"),
    (lambda s: s + '[[recipes]]\nfields = ["ci"]\n',
     r"recipes\[2\].fields: no holder has an identifier of kind 'ci'"),
    (lambda s: s.replace('attributes = ["building_use"', 'attributes = ["owner_rrn"'),
     "identifier columns \\['owner_rrn'\\] cannot be attributes"),
])
def test_spec_errors_name_file_and_key(tmp_path, edit, message):
    # Where the spec file shows the mistake on one line, the message names it too.
    where = r"project.toml(, line \d+(, column '\w+')?)?: .*"
    with pytest.raises(linkage.LinkageError, match=where + message):
        _load(tmp_path, edit(SPEC))


def test_overrides_from_the_caller_win(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(SPEC, encoding="utf-8")
    spec = linkage.ProjectSpec.load(path, project_id="demo", key_manager="km", combiner="ca")
    assert (spec.id, spec.key_manager, spec.combiner) == ("demo", "km", "ca")

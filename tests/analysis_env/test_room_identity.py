"""Identities are exact: the hub keeps the catalog's user id as it is (issue 15, item 1).

Catalog ids are case-sensitive; JupyterHub lowercases names by default, which handed
``ResA`` the room and extract of ``resa``.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.analysis_env.conftest import PASSWORD, grant


@pytest.fixture
def twins(cat, extract):
    """``resa`` approved for every column, ``ResA`` for two."""
    cat.record_user("resa", role="researcher", actor="root")
    cat.record_user("ResA", role="researcher", actor="root")
    for user in ("resa", "ResA"):
        cat.set_password(user, PASSWORD, actor="root")
    grant(cat, "r-lower", "resa", ["link_id", "ssis__sido", "ssis__income",
                                   "ssis__benefit_type"])
    grant(cat, "r-mixed", "ResA", ["ssis__sido", "ssis__income"])
    return cat


def test_a_researcher_whose_id_differs_only_in_case_logs_in_as_themselves(twins, catalog_url):
    pytest.importorskip("jupyterhub")
    from analysis_env.hub.authenticator import CatalogAuthenticator

    auth = CatalogAuthenticator(database_url=catalog_url, allow_all=True)
    user = asyncio.run(auth.get_authenticated_user(None, {"username": "ResA",
                                                          "password": PASSWORD}))
    assert user is not None and user["name"] == "ResA"
    assert auth.normalize_username("ResA") == "ResA"


def test_twins_by_case_get_their_own_extracts(twins, catalog_url, extract):
    from analysis_env.hub import access

    assert access.approved_extracts(catalog_url, "ResA") == {
        "housing-combined": (extract, ["ssis__sido", "ssis__income"])}
    assert len(access.approved_extracts(catalog_url, "resa")["housing-combined"][1]) == 4


@pytest.mark.parametrize("name", ["a/../../etc", "../root", ".pseudolink", "kim/", "ki\nm", ""])
def test_a_name_that_is_not_one_folder_gets_no_room(tmp_path, name):
    from analysis_env import AnalysisEnvError
    from analysis_env.hub import rooms

    assert not re.match(rooms.USERNAME_PATTERN, name)
    with pytest.raises(AnalysisEnvError, match="cannot name a room"):
        rooms.prepare_room(tmp_path / "room", name, 40123, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_case_and_non_ascii_names_are_kept_as_they_are():
    from analysis_env.hub import rooms

    for name in ("ResA", "resa", "kim.lee", "김연구"):
        assert re.match(rooms.USERNAME_PATTERN, name)

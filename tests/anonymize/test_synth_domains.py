"""DP-MST's promise of pure epsilon-DP covers its domains too: none is read from the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anonymize import AnonymizeError
from anonymize.synth import NumericRange, dp_mst, load_domains
from anonymize.synth.constraints import Constraints

KINDS = ["none", "기초연금", "기초생활보장"]


def _people(rows: int = 3000, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"sex": rng.choice(["F", "M"], rows),
                         "benefit_type": rng.choice(KINDS, rows),
                         "household_size": rng.integers(1, 7, rows),
                         "income": rng.integers(0, 5000, rows) * 1000})


def _with_target(frame: pd.DataFrame) -> pd.DataFrame:
    """One person whose rare category and extreme values would show in a data-read domain."""
    target = pd.DataFrame({"sex": ["F"], "benefit_type": ["희귀급여"], "household_size": [40],
                           "income": [9_876_543_000]})
    return pd.concat([frame, target], ignore_index=True)


DECLARED = {"sex": ["F", "M"], "benefit_type": KINDS,
            "household_size": NumericRange(1, 6)}


def test_dp_mst_takes_no_category_range_or_level_from_the_data():
    out = dp_mst(_with_target(_people()), 20_000, epsilon=1.0, domains=DECLARED)
    assert "희귀급여" not in set(out.data["benefit_type"])
    assert out.data["household_size"].between(1, 6).all()
    # The victim's exact income is not the range's edge any more. (The range is found with
    # noise, so its top may land above or below the victim's value: about one run in six
    # above. What must never happen is the exact value coming back.)
    assert not (out.data["income"] == 9_876_543_000).any()
    assert out.domain_from_data == []
    assert out.domains == {"sex": "declared categories", "benefit_type": "declared categories",
                           "household_size": "declared range",
                           "income": "range discovered with DP"}
    assert out.epsilon_discovery == pytest.approx(0.15) and out.epsilon_spent <= 1.0 + 1e-9


def test_an_undeclared_text_column_is_refused_by_name():
    with pytest.raises(AnonymizeError, match="categories of benefit_type declared"):
        dp_mst(_people(), 100, epsilon=1.0, domains={"sex": ["F", "M"]})


def test_fully_declared_domains_spend_nothing_on_discovery():
    domains = {**DECLARED, "income": NumericRange(0, 5_000_000, masses=(0,))}
    out = dp_mst(_people(), 500, epsilon=0.5, domains=domains)
    assert out.epsilon_discovery == 0.0
    assert 0.5 * 0.999 <= out.epsilon_spent <= 0.5 + 1e-9
    assert "range discovered with DP" not in out.domains.values()


def test_area_domain_is_the_public_hierarchy_not_the_pairs_seen():
    rules = Constraints.detect(pd.DataFrame(columns=["ssis__sido", "ssis__sigungu"]))
    domain = rules.area_domain()
    assert "서울특별시\x1f종로구" in domain and "부산광역시\x1f해운대구" in domain
    assert len(domain) > 200  # every 시군구 of the country, whatever the data holds


def test_declared_domains_are_read_from_toml(tmp_path):
    path = tmp_path / "domains.toml"
    path.write_text('[categories]\nsex = ["F", "M"]\n\n[ranges]\nbirth_year = [1900, 2025]\n'
                    'income = { low = 0, high = 4e8, masses = [0] }\n', encoding="utf-8")
    assert load_domains(path) == {"sex": ["F", "M"], "birth_year": NumericRange(1900, 2025),
                                  "income": NumericRange(0, 4e8, (0.0,))}
    path.write_text("[levels]\nsex = 1\n", encoding="utf-8")
    with pytest.raises(AnonymizeError, match="unknown section"):
        load_domains(path)

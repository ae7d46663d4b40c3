"""Spark runs fuzzy mode's comparison step and scores exactly as the numpy/DuckDB path."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import linkage
from linkage.fuzzy import params_for
from linkage.fuzzy.blocking import candidate_pairs
from linkage.fuzzy.link import score_candidates
from linkage.fuzzy.prepare import encode_identifiers

pytestmark = pytest.mark.spark
KEY = bytes(range(32))


def _keys(names, dobs, phones):
    spec = linkage.ProjectSpec.from_dict({
        "project": {"id": "p", "purpose": "statistics", "mode": "fuzzy"},
        "holders": [{"id": h, "identifiers": {"n": "name", "d": "dob", "p": "phone"}}
                    for h in ("a", "b")]})
    params = params_for(spec)
    values = pa.table({"name": names, "dob": dobs, "phone": phones})
    return params, encode_identifiers(values, KEY, params)


def test_spark_comparison_gives_the_same_levels_and_links_as_duckdb(spark_engine):
    rng = np.random.default_rng(3)
    given = ["민준", "서연", "지훈", "하은", "도윤", "서준", "지우", "예린"]
    people = [(f"{s}{g}", f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}",
               f"010{rng.integers(10_000_000, 99_999_999)}")
              for s in "김이박최" for g in given]
    typo = [(n[:-1] + "준" if i % 5 == 0 else n, d, p if i % 3 else None)
            for i, (n, d, p) in enumerate(people)]
    params, left = _keys(*map(list, zip(*people, strict=True)))
    _, right = _keys(*map(list, zip(*typo, strict=True)))
    duck = score_candidates(left, right, params)
    on_spark = score_candidates(left, right, params, engine=spark_engine)
    assert len(duck.candidates) >= len(people)
    assert np.array_equal(duck.weight, on_spark.weight)
    assert np.array_equal(duck.kept, on_spark.kept)
    assert on_spark.details["engine"] == "spark"
    truth = {(i, i) for i in range(len(people))}
    linked = set(zip(duck.candidates.left[duck.kept].tolist(),
                     duck.candidates.right[duck.kept].tolist(), strict=True))
    assert len(linked & truth) >= 0.9 * len(people)
    cands = candidate_pairs(left, right, params.blocking, params.max_block_pairs)
    assert np.array_equal(cands.left, duck.candidates.left)

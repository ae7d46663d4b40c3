"""Fuzzy-mode encodings: keyed, typo-tolerant, and useless to an attacker without the key."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from functools import partial

import numpy as np
import pyarrow as pa
import pytest

import anonymize
import linkage
from linkage.fuzzy.bloom import Filters, dice, encode, from_arrow, to_arrow
from linkage.fuzzy.grams import as_jamo
from linkage.fuzzy.params import ENCODINGS, FuzzyParams
from linkage.fuzzy.scoring import fit_em, level_frequencies

KEY = bytes(range(32))
NAME = ENCODINGS["name"]
#: What a project gets unless its spec says otherwise: the attacks below run against it.
DEFAULT = FuzzyParams().hardening


def _filters(values, key=KEY, hardening=DEFAULT, salts=None, encoding=NAME,
             salt_name="dob~year") -> Filters:
    salts = None if salts is False else pa.array(salts or ["1980"] * len(values))
    packed, valid = encode(pa.array(values), encoding, key, hardening, salts, salt_name)
    return from_arrow(to_arrow(packed, valid))


def _dice(f: Filters, i: int, j: int) -> float:
    return float(dice(f, f, np.array([i]), np.array([j]))[0])


def test_encodings_are_deterministic_under_the_project_key_only():
    names = ["김민준", "이서연", "박지훈"]
    first, again = _filters(names), _filters(names)
    other = _filters(names, key=os.urandom(32))
    assert np.array_equal(first.words, again.words)
    assert not np.array_equal(first.words, other.words)


@pytest.mark.parametrize("hardening", ["fixed_weight", "xor_fold", "none"])
def test_one_wrong_vowel_keeps_a_hangul_name_similar(hardening):
    # 민준 -> 민존: one vowel differs; as jamo bigrams this costs two bigrams of ten.
    f = _filters(["김민준", "김민존", "이서연"], hardening=hardening)
    typo, other = _dice(f, 0, 1), _dice(f, 0, 2)
    assert typo > other + 0.2
    assert typo >= {"fixed_weight": 0.75, "xor_fold": 0.7, "none": 0.75}[hardening]


def test_batch_hmac_gives_the_positions_of_python_hmac():
    """Holders on machines with and without the OpenSSL helper must encode alike."""
    from linkage.fuzzy.bloom import gram_positions
    from linkage.keys.batch_hmac import native_available

    if not native_available():
        pytest.skip("the OpenSSL batch helper is not built here")
    messages = [f"dob~year=19{n % 90:02d}\x1fgram{n}".encode() for n in range(500)]
    encoding = ENCODINGS["name"]
    native = gram_positions(KEY, encoding, messages, native=True)
    assert np.array_equal(native, gram_positions(KEY, encoding, messages, native=False))
    assert gram_positions(KEY, encoding, [], native=True).shape == (0, encoding.hashes)


def test_salt_separates_equal_names_of_different_birth_years():
    f = _filters(["김민준", "김민준", "김민준"], salts=["1980", "1980", "1981"])
    assert _dice(f, 0, 1) == 1.0
    assert _dice(f, 0, 2) < 0.8


def test_em_recovers_m_above_u_without_labels():
    rng = np.random.default_rng(1)
    n_match, n_non, fields, levels = 2_000, 8_000, 3, 4
    match = np.where(rng.random((n_match, fields)) < 0.9, 3, rng.integers(0, 3, (n_match, fields)))
    non = np.where(rng.random((n_non, fields)) < 0.05, 3, rng.integers(0, 2, (n_non, fields)))
    model = fit_em(np.vstack([match, non]).astype(np.int8), levels, ["a", "b", "c"],
                   expected_matches=5_000)
    assert model.lam == pytest.approx(0.2, abs=0.03)
    assert (model.m[:, 3] > 0.8).all() and (model.u[:, 3] < 0.1).all()
    assert (model.weights()[:, 3] > 3).all() and (model.weights()[:, 0] < 0).all()


def test_em_is_not_captured_by_a_large_blocking_key():
    # At national scale the "same birth date + same name initial" rule brings in far more
    # non-matches than matches; they agree exactly on the date and half-way on the names
    # and on the RRN (whose first six digits are the date). Unbounded, EM takes "shares the
    # block" for the match class (lambda near 1, a differing name counted as evidence for a
    # match); capped at the smaller file's size, it finds the real matches.
    rng = np.random.default_rng(3)

    def pairs(n, fields):
        return np.column_stack([rng.choice(levels, n, p=p) for levels, p in fields])

    matches = pairs(20_000, [([5, 4, 3], [.85, .1, .05]), ([5, -1, 4], [.85, .1, .05]),
                             ([5, 4], [.95, .05]), ([5, -1, 0], [.7, .2, .1])])
    same_block = pairs(75_000, [([0, 1, 2, 3], [.3, .3, .3, .1]), ([2, 3, -1], [.5, .4, .1]),
                                ([5], [1.0]), ([0, -1], [.8, .2])])
    other = pairs(5_000, [([0, 1], [.9, .1]), ([0, 1], [.9, .1]), ([0, 1, 2], [.6, .3, .1]),
                          ([0, -1], [.8, .2])])
    random = pairs(200_000, [([0, 1, 2, 5], [.9, .08, .019, .001]), ([0, 1, -1], [.85, .1, .05]),
                             ([0, 1, 2, 5], [.7, .2, .0999, .0001]), ([0, 1, -1], [.7, .1, .2])])
    levels = np.vstack([matches, same_block, other]).astype(np.int8)
    fit = partial(fit_em, levels, 6, ["name", "rrn", "dob", "phone"], expected_matches=12_000,
                  u_start=level_frequencies(random.astype(np.int8), 6))
    assert fit().lam > 0.5  # what the cap prevents
    model = fit(max_matches=24_000)
    assert model.lam == pytest.approx(0.2, abs=0.01)
    name = model.weights()[0]
    assert name[5] > 10 and name[0] < -10


def _frequency_attack(encodings: Filters, names: list[str], population: Counter) -> float:
    """Share of records whose name an attacker guesses by aligning the most frequent
    encodings with the most frequent names of the population."""
    patterns = Counter(bytes(row) for row in encodings.words.view(np.uint8).reshape(
        len(names), -1))
    ranked_names = [name for name, _ in population.most_common()]
    guess = {pattern: ranked_names[rank] for rank, (pattern, _) in
             enumerate(patterns.most_common()) if rank < len(ranked_names)}
    rows = encodings.words.view(np.uint8).reshape(len(names), -1)
    hits = sum(guess.get(bytes(row)) == name for row, name in zip(rows, names, strict=True))
    return hits / len(names)


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    out = tmp_path_factory.mktemp("attack")
    # The 100,000-person file: generating and encoding it takes a few seconds.
    linkage.generate_synthetic_data(out, 100_000, areas=anonymize.load_admin_areas(), seed=5)
    import pyarrow.parquet as pq

    table = pq.read_table(out / "ssis.parquet", columns=["name", "dob", "postcode"])
    return (table.column("name").to_pylist(), [d[:4] for d in table.column("dob").to_pylist()],
            table.column("postcode").to_pylist())


def test_frequency_attack_without_the_key_recovers_under_one_percent_of_names(people):
    names, years, _ = people
    population = Counter(names)  # the attacker's best case: the true name frequencies
    salted = _filters(names, salts=years)
    assert _frequency_attack(salted, names, population) < 0.01


def test_unsalted_encodings_would_fall_to_the_same_attack(people):
    names, years, _ = people
    population = Counter(names)
    unsalted = _filters(names, encoding=replace(NAME, salts=()), salts=False)
    assert _frequency_attack(unsalted, names, population) > \
        _frequency_attack(_filters(names, salts=years), names, population)


def _component_attack(columns: list[Filters], names: list[str], population: Counter) -> float:
    """With one filter per salt, records sharing any filter likely share a name: the attacker
    joins them into groups and aligns the largest groups with the most frequent names."""
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for filters in columns:
        first: dict[bytes, int] = {}
        for i, row in enumerate(filters.words.view(np.uint8).reshape(len(names), -1)):
            j = first.setdefault(bytes(row), i)
            if j != i:
                parent[root(i)] = root(j)
    groups = Counter(root(i) for i in range(len(names)))
    ranked = [name for name, _ in population.most_common()]
    guess = {group: ranked[rank] for rank, (group, _) in enumerate(groups.most_common())
             if rank < len(ranked)}
    return sum(guess.get(root(i)) == name for i, name in enumerate(names)) / len(names)


def test_two_salts_resist_frequency_and_grouping_attacks(people):
    # Names salted by birth year and, separately, by postcode: the attacker sees both
    # filters of every record and may join records through either of them.
    names, years, postcodes = people
    population = Counter(names)
    by_year = _filters(names, salts=years)
    by_postcode = _filters(names, salts=postcodes, salt_name="postcode")
    both = Filters(np.hstack([by_year.words, by_postcode.words]),
                   by_year.counts + by_postcode.counts, by_year.valid)
    assert _frequency_attack(both, names, population) < 0.01
    assert _component_attack([by_year, by_postcode], names, population) < 0.01


def _bits(f: Filters) -> np.ndarray:
    return np.unpackbits(f.words.view(np.uint8), axis=1, bitorder="little")[f.valid]


def _complement_pairs(bits: np.ndarray) -> list[tuple[int, int]]:
    """Columns that are each other's complement in every record: balancing's signature."""
    columns = {bytes(bits[:, i]): i for i in range(bits.shape[1])}
    pairs = []
    for i in range(bits.shape[1]):
        j = columns.get(bytes(1 - bits[:, i]))
        if j is not None and i < j:
            pairs.append((i, j))
    return pairs


def _recovered_weight(bits: np.ndarray) -> np.ndarray:
    """The key manager's best guess at each original filter's weight: of each complement
    pair keep the sparser column (the original bit, as filters are mostly zeros)."""
    pairs = _complement_pairs(bits)
    drop = [j if bits[:, i].sum() < bits[:, j].sum() else i for i, j in pairs]
    keep = np.setdiff1d(np.arange(bits.shape[1]), drop)
    return bits[:, keep].sum(axis=1)


def _jamo_lengths(names: list[str]) -> np.ndarray:
    return np.array([len(v) for v in as_jamo(pa.array(names)).to_pylist()])


def test_complement_pairing_does_not_recover_the_bloom_filter(people):
    # The key manager sees every record's filter: with balancing it found all 256 pairs of
    # a bit and its complement and kept the sparser one, i.e. the unhardened filter.
    names, years, _ = people
    bits = _bits(_filters(names[:20_000], salts=years[:20_000]))
    assert len(_complement_pairs(bits)) <= 2


def test_no_recoverable_weight_tells_the_length_of_a_name(people):
    # Under balancing the recovered weight correlated 0.86 with the length in jamo.
    names, years, _ = people
    names, years = names[:20_000], years[:20_000]
    lengths = _jamo_lengths(names)
    for salt in (years, None):
        f = _filters(names, salts=salt if salt else False,
                     encoding=NAME if salt else replace(NAME, salts=()))
        bits = _bits(f)
        for weight in (bits.sum(axis=1), _recovered_weight(bits)):
            assert abs(np.corrcoef(weight, lengths)[0, 1]) < 0.1

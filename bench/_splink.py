"""Splink as the peer of pseudolink's fuzzy mode, shared by ``bench/accuracy.py`` and
``bench/fuzzy_scale.py`` so both benches run the same model.

The model is what a careful Splink user writes: names with exact (term-frequency adjusted),
Levenshtein and Jaro-Winkler levels, dates, ids, phones, postcodes and addresses; the prior
from deterministic rules, u by random sampling (1,000,000 pairs, Splink's default) and m by
EM with u fixed; pairs above match probability 0.9 are links. Only the blocking rules change
with scale: at 5,000 people a user blocks on single fields, at a million single fields such
as a Korean name or a date of birth give tens of millions of pairs, so the user blocks on the
pairs of fields that ``generated_model(scale=True)`` lists.
"""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa

from linkage.normalise import normalise_dob, normalise_name, normalise_rrn, rrn_birth_date


def name_comparison(column: str):
    """Exact (term-frequency adjusted), then Levenshtein and Jaro-Winkler levels."""
    import splink.comparison_level_library as cll
    from splink import comparison_library as cl

    return cl.CustomComparison(output_column_name=column, comparison_levels=[
        cll.NullLevel(column),
        cll.ExactMatchLevel(column, term_frequency_adjustments=True),
        cll.LevenshteinLevel(column, 1),
        cll.JaroWinklerLevel(column, 0.92),
        cll.LevenshteinLevel(column, 2),
        cll.JaroWinklerLevel(column, 0.8),
        cll.ElseLevel(),
    ])


def febrl_model():
    """Comparisons, prediction blocking, deterministic (prior) and EM rules for FEBRL."""
    import splink.comparison_library as cl
    from splink import block_on

    comparisons = [
        name_comparison("given_name"),
        name_comparison("surname"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                 datetime_format="%Y%m%d"),
        cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        cl.ExactMatch("street_number"),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(
            term_frequency_adjustments=True),
        cl.DamerauLevenshteinAtThresholds("postcode", [1]).configure(
            term_frequency_adjustments=True),
        cl.ExactMatch("state"),
    ]
    blocking = [block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
                block_on("soc_sec_id"), block_on("postcode", "street_number")]
    deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
    em = [block_on("date_of_birth"), block_on("surname")]
    return comparisons, blocking, deterministic, em


def generated_model(*, address: bool = False, scale: bool = False):
    """The same four parts for the project's generated registers.

    ``address`` adds the street address (the building register's address is where its owner
    lives, as in the social-security file). ``scale`` swaps single-field blocking for the
    rules a user writes at a million records: each still finds a true pair that has one
    error (a name typo keeps rrn, phone, dob + first syllable; a wrong RRN keeps phone and
    name + address), and none makes more than a few million pairs.
    """
    import splink.comparison_library as cl
    from splink import block_on

    comparisons = [
        name_comparison("name"),
        cl.DamerauLevenshteinAtThresholds("rrn", [1, 2]),
        cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
        cl.DamerauLevenshteinAtThresholds("phone", [1, 2]),
    ]
    if address:
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.88]).configure(
            term_frequency_adjustments=True))
    deterministic = [block_on("rrn"), block_on("name", "dob")]
    if not scale:
        blocking = [block_on("name"), block_on("rrn"), block_on("phone"), block_on("dob")]
        em = [block_on("dob"), block_on("name")]
        return comparisons, blocking, deterministic, em
    first = "substr(name, 1, 1)"
    year = "substr(dob, 1, 4)"
    blocking = [block_on("rrn"), block_on("phone"), block_on("dob", first),
                block_on("name", year)]
    if address:
        blocking.append(block_on("address", first))
    em = [block_on("dob", first), block_on("name", year)]
    return comparisons, blocking, deterministic, em


def _digits(column: pd.Series) -> pd.Series:
    out = column.astype("string").str.replace(r"\D", "", regex=True)
    return out.where(out.str.len() > 0, None)


def generated_plain(ssis: pd.DataFrame, building: pd.DataFrame, *, address: bool = False
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a careful Splink user makes of the two registers: one spelling per field (names
    without spaces, digits only), the building's birth date read from its RRN."""
    def dob_from(rrns: pd.Series) -> list:
        checked = normalise_rrn(pa.array(rrns.astype(object).where(rrns.notna(), None),
                                         pa.string()), strict_check_digit=False)
        return rrn_birth_date(checked).to_pylist()

    a = pd.DataFrame({
        "record_id": ssis["record_id"],
        "name": normalise_name(pa.array(ssis["name"])).to_pylist(),
        "rrn": _digits(ssis["rrn"]), "phone": _digits(ssis["phone"]),
        "dob": normalise_dob(pa.array(ssis["dob"].astype(str))).to_pylist()})
    b = pd.DataFrame({
        "record_id": building["record_id"],
        "name": normalise_name(pa.array(building["owner_name"])).to_pylist(),
        "rrn": _digits(building["owner_rrn"]), "phone": _digits(building["owner_phone"]),
        "dob": dob_from(_digits(building["owner_rrn"]))})
    if address:
        a["address"] = ssis["address"].str.split().str.join(" ")
        b["address"] = building["address"].str.split().str.join(" ")
    return a, b


def link(plain: tuple[pd.DataFrame, pd.DataFrame], model) -> set[tuple[str, str]]:
    """Train the model on the two plaintext frames and return the linked (a, b) id pairs."""
    from splink import DuckDBAPI, Linker, SettingsCreator

    logging.getLogger("splink").setLevel(logging.ERROR)
    comparisons, blocking, deterministic, em = model
    db = DuckDBAPI()
    columns = [c for c in plain[0].columns if c in plain[1].columns]
    frames = [db.register(f[columns].astype({"record_id": str}), dataset_display_name=n)
              for f, n in zip(plain, ("a", "b"), strict=True)]
    settings = SettingsCreator(link_type="link_only", unique_id_column_name="record_id",
                               comparisons=comparisons,
                               blocking_rules_to_generate_predictions=blocking,
                               retain_intermediate_calculation_columns=False)
    linker = Linker(frames, settings)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, fix_u_probabilities=True)
    predictions = linker.inference.predict(threshold_match_probability=0.9).as_pandas_dataframe()
    found = set()
    for left, right, side in zip(predictions["record_id_l"], predictions["record_id_r"],
                                 predictions["source_dataset_l"], strict=True):
        found.add((left, right) if side == "a" else (right, left))
    return found

"""Identifier normalisers: one per kind, vectorised over whole Arrow arrays.

Linkage keys are hashes of normalised identifiers, so two holders' spellings of one value must
normalise to the same string, and a normalised value must normalise to itself.
"""

from linkage.normalise.address import (
    normalise_address,
    normalise_postcode,
    normalise_postcode_any,
)
from linkage.normalise.dates import normalise_date, normalise_dob
from linkage.normalise.identifiers import (
    EXPECTS,
    KINDS,
    NormalisedIdentifiers,
    is_invalid,
    normalise_column,
    normalise_identifiers,
)
from linkage.normalise.name import normalise_name
from linkage.normalise.phone import normalise_phone
from linkage.normalise.rrn import normalise_rrn, rrn_birth_date, rrn_century, rrn_sex
from linkage.normalise.sex import normalise_sex
from linkage.normalise.shapes import value_shapes
from linkage.normalise.text import normalise_ci, normalise_id, normalise_text

__all__ = [
    "EXPECTS",
    "KINDS",
    "NormalisedIdentifiers",
    "is_invalid",
    "normalise_address",
    "normalise_ci",
    "normalise_column",
    "normalise_date",
    "normalise_dob",
    "normalise_id",
    "normalise_identifiers",
    "normalise_name",
    "normalise_phone",
    "normalise_postcode",
    "normalise_postcode_any",
    "normalise_rrn",
    "normalise_sex",
    "normalise_text",
    "rrn_birth_date",
    "rrn_century",
    "rrn_sex",
    "value_shapes",
]

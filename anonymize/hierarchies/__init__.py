"""Generalisation hierarchies shipped with the product: Korea's administrative areas
(읍면동 > 시군구 > 시도 > 전국), age and birth-year bands with top coding, dates, incomes, and
the plain value-or-``*`` for categories."""

from anonymize.hierarchies.admin_areas import load_admin_areas
from anonymize.hierarchies.admin_hierarchy import AdminAreaHierarchy
from anonymize.hierarchies.bands import (
    BandHierarchy,
    RoundingHierarchy,
    age_hierarchy,
    birth_year_hierarchy,
    income_hierarchy,
)
from anonymize.hierarchies.base import SUPPRESSED, CategoryHierarchy, Hierarchy
from anonymize.hierarchies.dates import DateHierarchy
from anonymize.hierarchies.kinds import (
    KINDS,
    hierarchy_from_spec,
    infer_hierarchies,
    infer_kind,
)

__all__ = [
    "KINDS",
    "SUPPRESSED",
    "AdminAreaHierarchy",
    "BandHierarchy",
    "CategoryHierarchy",
    "DateHierarchy",
    "Hierarchy",
    "RoundingHierarchy",
    "age_hierarchy",
    "birth_year_hierarchy",
    "hierarchy_from_spec",
    "income_hierarchy",
    "infer_hierarchies",
    "infer_kind",
    "load_admin_areas",
]

"""Generalisation hierarchies shipped as data: Korea's administrative areas (시도 > 시군구)."""

from anonymize.hierarchies.admin_areas import load_admin_areas

__all__ = ["load_admin_areas"]

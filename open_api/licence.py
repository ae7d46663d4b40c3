"""The licence each published dataset carries.

Decision: released datasets default to KOGL Type 1 (공공누리 제1유형, attribution only), the
type Korean public bodies use for open data they may publish without restriction, and which
the public-data portal expects. A release may name another licence in
``parameters["licence"]``: a key of :data:`LICENCES`, or any other text, shown as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_LICENCE = "KOGL-Type1"

LICENCES: dict[str, dict[str, str]] = {
    "KOGL-Type1": {
        "title": "KOGL Type 1 (공공누리 제1유형: 출처표시)",
        "url": "https://www.kogl.or.kr/info/licenseType1.do",
    },
    "KOGL-Type2": {
        "title": "KOGL Type 2 (공공누리 제2유형: 출처표시, 상업적 이용금지)",
        "url": "https://www.kogl.or.kr/info/licenseType2.do",
    },
    "KOGL-Type3": {
        "title": "KOGL Type 3 (공공누리 제3유형: 출처표시, 변경금지)",
        "url": "https://www.kogl.or.kr/info/licenseType3.do",
    },
    "KOGL-Type4": {
        "title": "KOGL Type 4 (공공누리 제4유형: 출처표시, 상업적 이용금지, 변경금지)",
        "url": "https://www.kogl.or.kr/info/licenseType4.do",
    },
    "CC-BY-4.0": {
        "title": "Creative Commons Attribution 4.0",
        "url": "https://creativecommons.org/licenses/by/4.0/",
    },
    "CC0-1.0": {
        "title": "Creative Commons Zero 1.0",
        "url": "https://creativecommons.org/publicdomain/zero/1.0/",
    },
}


def licence_for(parameters: Mapping[str, Any]) -> dict[str, str | None]:
    """The licence of a release: its own, else KOGL Type 1.

    >>> licence_for({})["id"]
    'KOGL-Type1'
    >>> licence_for({"licence": "internal use only"})
    {'id': None, 'title': 'internal use only', 'url': None}
    """
    chosen = str(parameters.get("licence") or DEFAULT_LICENCE)
    known = LICENCES.get(chosen)
    if known is None:
        return {"id": None, "title": chosen, "url": None}
    return {"id": chosen, **known}

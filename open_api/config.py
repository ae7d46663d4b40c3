"""How one API server is configured: quotas, rate limits, the limiter's store, caches.

Decisions: the public-data portal face gives each key a daily quota (the key's own, else
:attr:`ApiConfig.daily_quota`), counted per calendar day in Korea (KST), as data.go.kr does.
The native face is open without a key; its per-minute limits are off unless configured,
per key when the request carries one (``X-API-Key`` or ``api_key``), per client address
otherwise. Counters live in memory unless ``redis_url`` is given, so several server
processes can share them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiConfig:
    """Settings of one API server; the defaults suit a single process on one machine."""

    #: Requests per key per KST day on the portal face, for keys without their own quota.
    daily_quota: int = 10_000
    #: Requests per minute on the native face for a request carrying a valid key (None: off).
    key_per_minute: int | None = None
    #: Requests per minute on the native face per client address without a key (None: off).
    anonymous_per_minute: int | None = None
    #: ``redis://host:port/db`` to share counters between processes; None keeps them in memory.
    redis_url: str | None = None
    #: Largest release (bytes of Arrow memory) kept in memory to page through without a scan.
    table_cache_bytes: int = 1 << 30
    #: The publisher named in DCAT descriptions.
    publisher: str = "pseudolink open-data service"
    #: The publishing organisation as CKAN clients see it (``organization_list``/``_show``
    #: and every package's ``organization``): its CKAN name and its title.
    organization_name: str = "combination-agency"
    organization_title: str = "가명정보 결합전문기관 (pseudonymised-data combination agency)"

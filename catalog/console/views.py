"""What the console shows, as plain tables: testable without a browser or Streamlit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from catalog.releases import ReleaseInfo
from catalog.requests import RequestInfo


def class_size_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Equivalence classes by size, from a risk report's ``class_sizes``.

    >>> class_size_table({"class_sizes": {"1": 2, "5": 3}})
       class size  classes  records
    0           1        2        2
    1           5        3       15
    """
    rows = sorted((int(size), int(count)) for size, count in report["class_sizes"].items())
    return pd.DataFrame({"class size": [s for s, _ in rows], "classes": [c for _, c in rows],
                         "records": [s * c for s, c in rows]})


def risk_per_record_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """How many records carry each prosecutor risk (1 / class size), and whether too high.

    >>> risk_per_record_table({"class_sizes": {"1": 2, "5": 3}, "threshold": 0.2})
       risk  records  above threshold
    0   0.2       15            False
    1   1.0        2             True
    """
    sizes = class_size_table(report)
    table = pd.DataFrame({"risk": (1.0 / sizes["class size"]).round(4),
                          "records": sizes["records"]})
    table = table.sort_values("risk").reset_index(drop=True)
    table["above threshold"] = table["risk"] > float(report.get("threshold", 0.2))
    return table


def risk_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("records", "classes", "k", "sample_uniques", "records_at_risk",
            "prosecutor_risk_max", "prosecutor_risk_avg", "l_distinct", "t_closeness")
    return {key: report.get(key) for key in keys if report.get(key) is not None}


def queue_table(requests: Iterable[RequestInfo]) -> pd.DataFrame:
    return pd.DataFrame([{"request": r.id, "state": r.state, "form": r.release_form,
                          "dataset": r.dataset_id, "requester": r.requester_id,
                          "organisation": r.requester_organisation or "",
                          "ends": r.ends_at.date() if r.ends_at else None}
                         for r in requests],
                        columns=["request", "state", "form", "dataset", "requester",
                                 "organisation", "ends"])


def spend_over_time(ledger: list[dict[str, Any]], total: float) -> pd.DataFrame:
    """Cumulative epsilon spent after each ledger entry, and what is left.

    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> spend_over_time([{"epsilon": 0.25, "created_at": t}] * 2, 1.0)["remaining"].tolist()
    [0.75, 0.5]
    """
    frame = pd.DataFrame(ledger, columns=["created_at", "epsilon"])
    frame["spent"] = frame["epsilon"].cumsum()
    frame["remaining"] = total - frame["spent"]
    return frame.rename(columns={"created_at": "time"})[["time", "epsilon", "spent", "remaining"]]


def votes_table(votes: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(votes, columns=["reviewer", "vote", "reason", "at"])


def release_table(releases: Iterable[ReleaseInfo], now: datetime) -> pd.DataFrame:
    """Open releases with the whole days left before they close (<NA>: no end date).

    >>> from datetime import UTC, timedelta
    >>> from types import SimpleNamespace as Release
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> rows = [Release(id=i, form="dp_aggregate", dataset_id="d", title="", expires_at=end)
    ...         for i, end in (("a", None), ("b", now + timedelta(days=3, hours=1)))]
    >>> release_table(rows, now)["days left"].tolist()
    [<NA>, 3]
    """
    table = pd.DataFrame([{"release": r.id, "form": r.form, "dataset": r.dataset_id,
                           "title": r.title, "expires": r.expires_at,
                           "days left": None if r.expires_at is None
                           else (r.expires_at - now).days}
                          for r in releases],
                         columns=["release", "form", "dataset", "title", "expires",
                                  "days left"])
    return table.astype({"days left": "Int64"})


def project_of(entry: Mapping[str, Any]) -> str | None:
    """The linkage project an audit entry is about: a stage's target, or an exchange's
    upload, download or job.

    >>> project_of({"action": "stage.link", "target": "housing", "details": {}})
    'housing'
    >>> project_of({"action": "exchange.upload.accepted",
    ...             "target": "/v1/projects/housing/files/ab", "details": {}})
    'housing'
    >>> project_of({"action": "exchange.job.succeeded", "target": "/v1/jobs/3",
    ...             "details": {"project": "housing"}})
    'housing'
    >>> project_of({"action": "request.submit", "target": "r1", "details": {}}) is None
    True
    """
    action, target = entry.get("action", ""), str(entry.get("target", ""))
    if action.startswith(("stage.", "project.")):
        return target
    if action.startswith("exchange."):
        if target.startswith("/v1/projects/"):
            return target.split("/")[3]
        project = (entry.get("details") or {}).get("project")
        return project if isinstance(project, str) else None
    return None


def project_timeline(entries: Iterable[Mapping[str, Any]], project: str) -> pd.DataFrame:
    """A project's stages in order: each party's stage runs, and every file and job
    transition at the exchange, with who did it (from the audit log)."""
    rows = [{"at": e["ts"], "party or person": e["actor"],
             "event": e["action"].removeprefix("stage.").removeprefix("exchange."),
             "kind or task": (e.get("details") or {}).get("kind")
             or (e.get("details") or {}).get("task") or "",
             "detail": (e.get("details") or {}).get("reason")
             or (e.get("details") or {}).get("error") or ""}
            for e in entries if project_of(e) == project]
    return pd.DataFrame(rows, columns=["at", "party or person", "event", "kind or task",
                                       "detail"])

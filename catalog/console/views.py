"""What the console shows, as plain tables: testable without a browser or Streamlit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandas as pd

from catalog.committee import RiskThresholds
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


#: Korea Standard Time. A fixed offset: Korea keeps no daylight saving, and it needs no
#: tz database on the server.
KST = timezone(timedelta(hours=9), "KST")


def _aware(moment: datetime | str) -> datetime:
    """A catalog time (a datetime, or the ISO text audit entries carry) in KST."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(KST)


def kst(moment: datetime | str | None) -> str | None:
    """A catalog time as officers read it: Seoul wall-clock time, to the second.

    >>> kst(datetime(2026, 1, 1, 15, 30, 5, 123456, tzinfo=UTC))
    '2026-01-02 00:30:05'
    >>> kst("2026-01-01T15:30:05.123456+00:00")
    '2026-01-02 00:30:05'
    """
    return None if moment is None else _aware(moment).strftime("%Y-%m-%d %H:%M:%S")


def kst_date(moment: datetime | str) -> date:
    """The Seoul calendar day of a catalog time."""
    return _aware(moment).date()


@dataclass(frozen=True)
class Failure:
    """One risk measure that misses its threshold: which (``k`` or ``risk``), its value."""

    rule: str
    value: Any
    limit: float


def threshold_failures(report: Mapping[str, Any], limits: RiskThresholds) -> list[Failure]:
    """The measures in a risk report that miss ``limits`` (a missing measure misses).

    >>> [f.rule for f in threshold_failures({"k": 1, "prosecutor_risk_max": 1.0},
    ...                                     RiskThresholds())]
    ['k', 'risk']
    """
    found = []
    k = report.get("k")
    if not isinstance(k, int) or k < limits.k:
        found.append(Failure("k", k, limits.k))
    risk = report.get("prosecutor_risk_max")
    if not isinstance(risk, int | float) or risk > limits.prosecutor_risk_max:
        found.append(Failure("risk", risk, limits.prosecutor_risk_max))
    return found


def queue_table(requests: Iterable[RequestInfo]) -> pd.DataFrame:
    return pd.DataFrame([{"request": r.id, "state": r.state, "form": r.release_form,
                          "dataset": r.dataset_id, "requester": r.requester_id,
                          "organisation": r.requester_organisation or "",
                          "ends": kst_date(r.ends_at) if r.ends_at else None}
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
    frame["created_at"] = [kst(t) for t in frame["created_at"]]
    frame["spent"] = frame["epsilon"].cumsum()
    frame["remaining"] = total - frame["spent"]
    return frame.rename(columns={"created_at": "time"})[["time", "epsilon", "spent", "remaining"]]


def votes_table(votes: list[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(votes, columns=["reviewer", "vote", "reason", "at"])
    table["at"] = [kst(t) for t in table["at"]]
    return table


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
                           "title": r.title, "expires": kst(r.expires_at),
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


AUDIT_COLUMNS = ["seq", "ts", "actor", "action", "target"]


def audit_table(entries: Iterable[Mapping[str, Any]], *, actors: Iterable[str] = (),
                actions: Iterable[str] = (), dates: tuple[date, date] | None = None
                ) -> pd.DataFrame:
    """Audit entries newest first, times in KST, narrowed to some actors, actions and
    Seoul calendar days (an empty choice narrows nothing); ``details`` as JSON.

    >>> t = datetime(2026, 1, 1, 16, tzinfo=UTC)  # 01:00 on 2 January in Seoul
    >>> rows = [{"seq": 1, "ts": t, "actor": "po1", "action": "auth.login", "target": "po1",
    ...          "details": {}}]
    >>> audit_table(rows, dates=(date(2026, 1, 2), date(2026, 1, 2)))["ts"].tolist()
    ['2026-01-02 01:00:00']
    """
    actors, actions = set(actors), set(actions)
    rows = [{**{k: e[k] for k in AUDIT_COLUMNS}, "ts": kst(e["ts"]),
             "details": json.dumps(e.get("details") or {}, ensure_ascii=False, default=str)}
            for e in entries
            if (not actors or e["actor"] in actors) and (not actions or e["action"] in actions)
            and (dates is None or dates[0] <= kst_date(e["ts"]) <= dates[1])]
    return pd.DataFrame(rows[::-1], columns=[*AUDIT_COLUMNS, "details"])


def csv_for_excel(table: pd.DataFrame, labels: Mapping[str, str]) -> bytes:
    """A table as CSV that Excel opens with Hangul intact: UTF-8 with a byte-order mark.

    >>> csv_for_excel(pd.DataFrame({"actor": ["관리자"]}), {"actor": "행위자"})[:3]
    b'\\xef\\xbb\\xbf'
    """
    return table.rename(columns=dict(labels)).to_csv(index=False).encode("utf-8-sig")

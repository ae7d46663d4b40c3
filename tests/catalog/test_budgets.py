"""Privacy budgets: a spend is refused rather than overspent, also under concurrency."""

from __future__ import annotations

import math
import threading

import pytest

import catalog


def test_refused_spend_states_the_remaining_budget(cat: catalog.Catalog, dataset: str) -> None:
    cat.set_budget(dataset, "api-key-1", 1.0, actor="officer")
    assert cat.spend(dataset, "api-key-1", 0.75, query={"q": "count"}, actor="api") == 0.25
    with pytest.raises(catalog.CatalogError, match=r"remaining budget 0\.25 of 1"):
        cat.spend(dataset, "api-key-1", 0.5, query={"q": "mean"}, actor="api")
    assert cat.budget(dataset, "api-key-1").epsilon_spent == 0.75
    assert [r["epsilon"] for r in cat.budget_ledger(dataset, "api-key-1")] == [0.75]
    actions = [e["action"] for e in cat.audit_entries()][-2:]
    assert actions == ["budget.spend", "budget.spend_refused"]


def test_budget_can_be_spent_to_the_last_tenth(cat: catalog.Catalog, dataset: str) -> None:
    cat.set_budget(dataset, "c", 0.3, actor="officer")
    for _ in range(3):
        cat.spend(dataset, "c", 0.1, query={}, actor="api")
    with pytest.raises(catalog.CatalogError, match=r"remaining budget 0 of 0\.3"):
        cat.spend(dataset, "c", 0.1, query={}, actor="api")


@pytest.mark.parametrize(("call", "message"), [
    (lambda c, d: c.spend(d, "nobody", 0.1, query={}, actor="api"), "has no privacy budget"),
    (lambda c, d: c.spend(d, "c", -1.0, query={}, actor="api"), "positive finite"),
    (lambda c, d: c.spend(d, "c", float("inf"), query={}, actor="api"), "positive finite"),
    (lambda c, d: c.set_budget("no-such", "c", 1.0, actor="officer"), "no dataset 'no-such'"),
    (lambda c, d: c.set_budget(d, "c", 0.1, actor="officer"), "already spent"),
])
def test_bad_budget_requests_are_refused(cat: catalog.Catalog, dataset: str, call,
                                         message: str) -> None:
    cat.set_budget(dataset, "c", 1.0, actor="officer")
    cat.spend(dataset, "c", 0.5, query={}, actor="api")
    with pytest.raises(catalog.CatalogError, match=message):
        call(cat, dataset)
    assert cat.budget(dataset, "c").epsilon_spent == 0.5


SPENDERS = 200


def test_budget_never_overspent_under_concurrency(cat: catalog.Catalog, dataset: str) -> None:
    """200 threads race for a budget that holds 33 spends: 33 win, 167 are refused."""
    cat.set_budget(dataset, "dashboard", 1.0, actor="officer")
    start = threading.Barrier(SPENDERS)
    granted: list[float] = []
    refused: list[str] = []
    failures: list[BaseException] = []

    def query(n: int) -> None:
        start.wait()
        try:
            granted.append(cat.spend(dataset, "dashboard", 0.03, query={"n": n}, actor="api"))
        except catalog.CatalogError as exc:
            refused.append(str(exc))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=query, args=(n,)) for n in range(SPENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(granted) == 33 and len(refused) == SPENDERS - 33
    assert all("remaining budget" in message for message in refused)
    budget = cat.budget(dataset, "dashboard")
    ledger = [row["epsilon"] for row in cat.budget_ledger(dataset, "dashboard")]
    assert len(ledger) == 33
    assert math.fsum(ledger) == budget.epsilon_spent
    assert budget.epsilon_spent <= budget.epsilon_total
    assert sorted(granted, reverse=True)[-1] == pytest.approx(0.01)
    assert cat.verify_audit().ok

"""One privacy budget per dataset: consumers share it, a second registration shares it."""

from __future__ import annotations

from pathlib import Path

import pytest

import catalog


def _register(cat: catalog.Catalog, dataset_id: str, path: Path) -> None:
    cat.register_dataset(dataset_id, title=dataset_id, path=str(path),
                         columns={"link_id": "other"}, project_id=None, lineage={},
                         actor="agency")


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    path = tmp_path / "combined.parquet"
    path.write_bytes(b"PAR1 the same bytes under two names PAR1")
    return path


def test_the_same_file_registered_twice_has_one_budget(cat: catalog.Catalog, dataset: str,
                                                        parquet: Path) -> None:
    _register(cat, "combined", parquet)
    _register(cat, "combined-again", parquet)
    for name in ("combined", "combined-again"):
        cat.set_budget(name, "public", 1.0, actor="officer")
    cat.spend("combined", "public", 1.0, query={}, actor="api")
    with pytest.raises(catalog.CatalogError, match="total of dataset 'combined-again'"):
        cat.spend("combined-again", "public", 0.5, query={}, actor="api")
    assert cat.dataset_budget("combined-again").epsilon_spent == pytest.approx(1.0)


def test_consumer_budgets_never_add_up_beyond_the_dataset_total(
        cat: catalog.Catalog, dataset: str) -> None:
    cat.set_dataset_budget(dataset, 1.0, actor="officer")
    cat.set_budget(dataset, "public", 1.0, actor="officer")
    cat.set_budget(dataset, "alice", 1.0, actor="officer")
    cat.spend(dataset, "public", 0.6, query={}, actor="api")
    with pytest.raises(catalog.CatalogError, match=r"remaining 0\.4 of its total 1"):
        cat.spend(dataset, "alice", 0.6, query={}, actor="api")
    assert cat.spend(dataset, "alice", 0.4, query={}, actor="api") == pytest.approx(0.0)
    assert cat.budget(dataset, "alice").epsilon_spent == pytest.approx(0.4)


def test_until_an_officer_sets_a_total_consumers_share_the_largest_budget(
        cat: catalog.Catalog, dataset: str) -> None:
    cat.set_budget(dataset, "public", 1.0, actor="officer")
    cat.set_budget(dataset, "alice", 2.0, actor="officer")
    cat.spend(dataset, "alice", 2.0, query={}, actor="api")
    with pytest.raises(catalog.CatalogError, match="total of dataset"):
        cat.spend(dataset, "public", 0.1, query={}, actor="api")
    total = cat.dataset_budget(dataset)
    assert (total.epsilon_total, total.set_by) == (2.0, None)


def test_a_consumer_budget_above_the_dataset_total_is_refused(
        cat: catalog.Catalog, dataset: str) -> None:
    cat.set_dataset_budget(dataset, 1.0, actor="officer")
    with pytest.raises(catalog.CatalogError, match="above the dataset's total 1"):
        cat.set_budget(dataset, "alice", 3.0, actor="officer")
    assert cat.budget(dataset, "alice") is None


def test_the_dataset_total_never_drops_below_what_is_spent(cat: catalog.Catalog,
                                                           dataset: str) -> None:
    cat.set_dataset_budget(dataset, 2.0, actor="officer")
    cat.set_budget(dataset, "public", 2.0, actor="officer")
    cat.spend(dataset, "public", 1.5, query={}, actor="api")
    with pytest.raises(catalog.CatalogError, match="already spent"):
        cat.set_dataset_budget(dataset, 1.0, actor="officer")
    with pytest.raises(catalog.PermissionRefused):
        cat.set_dataset_budget(dataset, 9.0, actor="api")
    assert [e["action"] for e in cat.audit_entries()].count("budget.dataset_set") == 1


def test_consumers_racing_never_spend_more_than_the_dataset_total_together(
        cat: catalog.Catalog, dataset: str) -> None:
    """60 threads of three consumers race for a total that holds 10 spends of 0.1."""
    import threading

    cat.set_dataset_budget(dataset, 1.0, actor="officer")
    consumers = ["public", "alice", "bob"]
    for consumer in consumers:
        cat.set_budget(dataset, consumer, 1.0, actor="officer")
    start = threading.Barrier(60)
    granted: list[str] = []
    failures: list[BaseException] = []

    def query(n: int) -> None:
        start.wait()
        consumer = consumers[n % 3]
        try:
            cat.spend(dataset, consumer, 0.1, query={"n": n}, actor="api")
            granted.append(consumer)
        except catalog.CatalogError:
            pass
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=query, args=(n,)) for n in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(granted) == 10
    assert cat.dataset_budget(dataset).epsilon_spent == pytest.approx(1.0)

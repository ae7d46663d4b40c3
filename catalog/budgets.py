"""Privacy budgets: one total per dataset, and what each consumer may spend of it.

Epsilons compose across everyone who queries the same people, so a dataset has one total
(:class:`DatasetBudget`, set by a privacy officer) that every consumer's spending, the
public's included, counts against; a consumer's own budget only limits their share. The
total belongs to the dataset's *content* (its file's SHA-256), so registering the same file
under a second id does not open a second budget. Until an officer sets a total it is the
largest consumer budget set on the dataset: consumers share it, never add to it.

A spend locks the dataset's total, then the consumer's row, for the rest of the
transaction (``FOR UPDATE``; on SQLite the ``BEGIN IMMEDIATE`` of the writing transaction),
so concurrent queries queue and no check is made on a stale total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.coltypes import utcnow
from catalog.errors import CatalogError
from catalog.hashchain import jsonable
from catalog.models import BudgetSpend, Dataset, DatasetBudget, PrivacyBudget
from catalog.storage import Storage, json_doc

# Epsilons are floats: 0.1 + 0.1 + 0.1 exceeds 0.3 by 4e-17. A spend that lands within
# this slack of the total is the exact budget, not an overspend.
SLACK = 1e-9


@dataclass(frozen=True)
class BudgetInfo:
    dataset_id: str
    consumer: str
    epsilon_total: float
    epsilon_spent: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.epsilon_total - self.epsilon_spent)


@dataclass(frozen=True)
class DatasetBudgetInfo:
    """A dataset's total; ``set_by`` is None while it defaults to the largest consumer's."""

    identity: str
    epsilon_total: float
    epsilon_spent: float
    set_by: str | None

    @property
    def remaining(self) -> float:
        return max(0.0, self.epsilon_total - self.epsilon_spent)


def identity(dataset: Dataset) -> str:
    """What budgets key on: the content digest, or the id when no file could be read."""
    return f"sha256:{dataset.sha256}" if dataset.sha256 else f"dataset:{dataset.id}"


def _same_content(session: Session, dataset: Dataset) -> list[str]:
    if dataset.sha256:
        return list(session.scalars(select(Dataset.id).where(Dataset.sha256 == dataset.sha256)))
    return [dataset.id]


def _spent_on(session: Session, dataset: Dataset) -> float:
    """Every consumer's spending on every registration of this content (the ledger's sum)."""
    return math.fsum(session.scalars(
        select(BudgetSpend.epsilon)
        .join(PrivacyBudget, PrivacyBudget.id == BudgetSpend.budget_id)
        .where(PrivacyBudget.dataset_id.in_(_same_content(session, dataset)))))


def _locked_total(session: Session, dataset: Dataset) -> DatasetBudget | None:
    return session.execute(select(DatasetBudget)
                           .where(DatasetBudget.identity == identity(dataset))
                           .with_for_update()).scalar_one_or_none()


def _dataset(session: Session, dataset_id: str) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise CatalogError(f"no dataset {dataset_id!r} in the catalog: register it first")
    return dataset


def set_dataset_total(session: Session, dataset_id: str, epsilon_total: float,
                      actor: str) -> dict[str, Any]:
    """Set the total every consumer of this dataset's content shares."""
    total = _positive(epsilon_total, "epsilon_total")
    dataset = _dataset(session, dataset_id)
    row = _locked_total(session, dataset)
    spent = _spent_on(session, dataset)
    if total + SLACK < spent:
        raise CatalogError(f"dataset {dataset_id!r}: epsilon {spent:g} already spent by its "
                           f"consumers, so its total cannot become {total:g}")
    previous = None if row is None else row.epsilon_total
    if row is None:
        session.add(DatasetBudget(identity=identity(dataset), epsilon_total=total,
                                  set_by=actor))
    else:
        row.epsilon_total, row.set_by, row.updated_at = total, actor, utcnow()
    return {"dataset_id": dataset_id, "identity": identity(dataset), "epsilon_total": total,
            "previous_total": previous, "spent": spent}


def dataset_total(session: Session, dataset_id: str) -> DatasetBudgetInfo | None:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        return None
    row = session.get(DatasetBudget, identity(dataset))
    if row is None:
        return None
    return DatasetBudgetInfo(row.identity, row.epsilon_total, _spent_on(session, dataset),
                             row.set_by)


def budget_info(budget: PrivacyBudget) -> BudgetInfo:
    return BudgetInfo(budget.dataset_id, budget.consumer, budget.epsilon_total,
                      budget.epsilon_spent)


def _positive(epsilon: float, what: str) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) \
            or not math.isfinite(epsilon) or epsilon <= 0:
        raise CatalogError(f"{what} must be a positive finite number, got {epsilon!r}")
    return float(epsilon)


def locked_budget(session: Session, dataset_id: str, consumer: str) -> PrivacyBudget | None:
    return session.execute(
        select(PrivacyBudget)
        .where(PrivacyBudget.dataset_id == dataset_id, PrivacyBudget.consumer == consumer)
        .with_for_update()
    ).scalar_one_or_none()


def set_budget(session: Session, dataset_id: str, consumer: str, epsilon_total: float
               ) -> dict[str, Any]:
    """Create or change a budget; returns what the audit entry should record."""
    total = _positive(epsilon_total, "epsilon_total")
    dataset = _dataset(session, dataset_id)
    shared = _locked_total(session, dataset)
    if shared is None:
        session.add(DatasetBudget(identity=identity(dataset), epsilon_total=total, set_by=None))
    elif shared.set_by is None:
        shared.epsilon_total = max(shared.epsilon_total, total)
        shared.updated_at = utcnow()
    elif total > shared.epsilon_total + SLACK:
        raise CatalogError(f"budget of consumer {consumer!r} on dataset {dataset_id!r}: "
                           f"{total:g} is above the dataset's total {shared.epsilon_total:g}, "
                           "which every consumer shares; raise that first")
    budget = locked_budget(session, dataset_id, consumer)
    if budget is None:
        session.add(PrivacyBudget(dataset_id=dataset_id, consumer=consumer,
                                  epsilon_total=total, epsilon_spent=0.0))
        return {"dataset_id": dataset_id, "consumer": consumer, "epsilon_total": total}
    if total + SLACK < budget.epsilon_spent:
        raise CatalogError(
            f"budget of consumer {consumer!r} on dataset {dataset_id!r}: {budget.epsilon_spent:g}"
            f" already spent, so the total cannot become {total:g}")
    previous = budget.epsilon_total
    budget.epsilon_total, budget.updated_at = total, utcnow()
    return {"dataset_id": dataset_id, "consumer": consumer, "epsilon_total": total,
            "previous_total": previous}


def spend(session: Session, dataset_id: str, consumer: str, epsilon: float,
          query: Mapping[str, Any], actor: str) -> tuple[float, dict[str, Any]]:
    """Record one spend; returns the remaining budget and the audit details."""
    amount = _positive(epsilon, "epsilon")
    try:
        query_doc = jsonable(query)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"query description for a spend on {dataset_id!r}: {exc}") from None
    dataset = _dataset(session, dataset_id)
    shared = _locked_total(session, dataset)  # the total first, then the consumer: one order
    budget = locked_budget(session, dataset_id, consumer)
    if budget is None:
        raise CatalogError(f"consumer {consumer!r} has no privacy budget on dataset "
                           f"{dataset_id!r}: a privacy officer must set one first")
    if shared is None:  # budgets set before totals existed: the largest consumer's
        largest = max(session.scalars(select(PrivacyBudget.epsilon_total).where(
            PrivacyBudget.dataset_id.in_(_same_content(session, dataset)))))
        shared = DatasetBudget(identity=identity(dataset), epsilon_total=largest, set_by=None)
        session.add(shared)
    remaining = budget.epsilon_total - budget.epsilon_spent
    if amount > remaining + SLACK:
        raise BudgetExceeded(
            f"refused: epsilon {amount:g} would overspend the budget of consumer {consumer!r} "
            f"on dataset {dataset_id!r}; remaining budget {max(remaining, 0.0):g} of "
            f"{budget.epsilon_total:g}", remaining=max(remaining, 0.0))
    left_in_total = shared.epsilon_total - _spent_on(session, dataset)
    if amount > left_in_total + SLACK:
        raise BudgetExceeded(
            f"refused: epsilon {amount:g} would overspend the total of dataset {dataset_id!r}"
            f", which every consumer and every registration of its file share; remaining "
            f"{max(left_in_total, 0.0):g} of its total {shared.epsilon_total:g}",
            remaining=max(left_in_total, 0.0))
    session.add(BudgetSpend(budget_id=budget.id, epsilon=amount, query=query_doc, actor=actor))
    # Re-summed from the ledger (exactly rounded) so that the total never drifts from it.
    spent = session.scalars(select(BudgetSpend.epsilon).where(BudgetSpend.budget_id == budget.id))
    budget.epsilon_spent = math.fsum(spent)
    budget.updated_at = utcnow()
    left = max(0.0, min(budget.epsilon_total - budget.epsilon_spent,
                        left_in_total - amount))
    return left, {"dataset_id": dataset_id, "consumer": consumer, "epsilon": amount,
                  "remaining": left, "query": query_doc}


class BudgetExceeded(CatalogError):
    """A spend refused because it would overspend; ``remaining`` is what is left."""

    def __init__(self, message: str, *, remaining: float) -> None:
        super().__init__(message)
        self.remaining = remaining


class BudgetService:
    """Privacy budgets over the catalog's storage: officers set them, queries spend them."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def set_budget(self, dataset_id: str, consumer: str, epsilon_total: float,
                   actor: str) -> None:
        """Set one consumer's share of a dataset's epsilon (officers)."""
        with self._storage.change(actor, "budget.set", f"{dataset_id}/{consumer}",
                                  permission="budget.set") as change:
            change.details = set_budget(change.session, dataset_id, consumer, epsilon_total)

    def set_dataset_budget(self, dataset_id: str, epsilon_total: float, actor: str) -> None:
        """Set the total epsilon all consumers of this dataset's content share (officers)."""
        with self._storage.change(actor, "budget.dataset_set", dataset_id,
                                  permission="budget.set") as change:
            change.details = set_dataset_total(change.session, dataset_id, epsilon_total,
                                               actor)

    def dataset_budget(self, dataset_id: str) -> DatasetBudgetInfo | None:
        with self._storage.read() as session:
            return dataset_total(session, dataset_id)

    def spend(self, dataset_id: str, consumer: str, epsilon: float, *, query: dict,
              actor: str) -> float:
        """Charge one query to a budget; returns the epsilon left.

        A refusal raises BudgetExceeded stating the remaining budget, and is itself
        audited. No role is required: the consumer's own budget is what limits them.
        """
        target = f"{dataset_id}/{consumer}"
        try:
            with self._storage.change(actor, "budget.spend", target) as change:
                remaining, change.details = spend(change.session, dataset_id, consumer,
                                                  epsilon, query, actor)
        except BudgetExceeded as refused:
            with self._storage.change(actor, "budget.spend_refused", target) as change:
                change.details = {"epsilon": epsilon, "remaining": refused.remaining,
                                  "query": json_doc(query, "query")}
            raise
        return remaining

    def budget(self, dataset_id: str, consumer: str) -> BudgetInfo | None:
        with self._storage.read() as session:
            found = session.scalars(select(PrivacyBudget).where(
                PrivacyBudget.dataset_id == dataset_id,
                PrivacyBudget.consumer == consumer)).one_or_none()
            return None if found is None else budget_info(found)

    def list_budgets(self) -> list[BudgetInfo]:
        with self._storage.read() as session:
            return [budget_info(b) for b in session.scalars(
                select(PrivacyBudget).order_by(PrivacyBudget.dataset_id,
                                               PrivacyBudget.consumer))]

    def budget_ledger(self, dataset_id: str, consumer: str) -> list[dict[str, Any]]:
        """Every spend charged to one budget, oldest first."""
        with self._storage.read() as session:
            rows = session.execute(
                select(BudgetSpend)
                .join(PrivacyBudget, PrivacyBudget.id == BudgetSpend.budget_id)
                .where(PrivacyBudget.dataset_id == dataset_id,
                       PrivacyBudget.consumer == consumer)
                .order_by(BudgetSpend.id)).scalars()
            return [{"epsilon": r.epsilon, "query": r.query, "actor": r.actor,
                     "created_at": r.created_at} for r in rows]

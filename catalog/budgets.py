"""Privacy budgets: how much epsilon each consumer may spend on each dataset.

A spend locks its budget row for the rest of the transaction (``FOR UPDATE``; on
SQLite the ``BEGIN IMMEDIATE`` of the writing transaction), so concurrent queries
queue and the check against the remaining budget is never made on a stale total.
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
from catalog.models import BudgetSpend, Dataset, PrivacyBudget

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
    if session.get(Dataset, dataset_id) is None:
        raise CatalogError(f"no dataset {dataset_id!r} in the catalog: register it first")
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
    budget = locked_budget(session, dataset_id, consumer)
    if budget is None:
        raise CatalogError(f"consumer {consumer!r} has no privacy budget on dataset "
                           f"{dataset_id!r}: a privacy officer must set one first")
    remaining = budget.epsilon_total - budget.epsilon_spent
    if amount > remaining + SLACK:
        raise BudgetExceeded(
            f"refused: epsilon {amount:g} would overspend the budget of consumer {consumer!r} "
            f"on dataset {dataset_id!r}; remaining budget {max(remaining, 0.0):g} of "
            f"{budget.epsilon_total:g}", remaining=max(remaining, 0.0))
    session.add(BudgetSpend(budget_id=budget.id, epsilon=amount, query=query_doc, actor=actor))
    # Re-summed from the ledger (exactly rounded) so that the total never drifts from it.
    spent = session.scalars(select(BudgetSpend.epsilon).where(BudgetSpend.budget_id == budget.id))
    budget.epsilon_spent = math.fsum(spent)
    budget.updated_at = utcnow()
    left = max(0.0, budget.epsilon_total - budget.epsilon_spent)
    return left, {"dataset_id": dataset_id, "consumer": consumer, "epsilon": amount,
                  "remaining": left, "query": query_doc}


class BudgetExceeded(CatalogError):
    """A spend refused because it would overspend; ``remaining`` is what is left."""

    def __init__(self, message: str, *, remaining: float) -> None:
        super().__init__(message)
        self.remaining = remaining

"""One privacy budget per dataset: a dataset's content digest, and a total epsilon per
digest that every consumer's spending on every registration of that content shares.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("sha256", sa.String(64), nullable=True))
    op.create_table(
        "dataset_budgets",
        sa.Column("identity", sa.String(140), nullable=False),
        sa.Column("epsilon_total", sa.Float(), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("epsilon_total > 0",
                           name=op.f("ck_dataset_budgets_total_positive")),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_dataset_budgets")),
    )


def downgrade() -> None:
    op.drop_table("dataset_budgets")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("sha256")

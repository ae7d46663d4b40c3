"""Workflow, identity and DP bounds: Five Safes fields, committees, API keys, column bounds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("access_requests") as batch:
        batch.add_column(sa.Column("project_id", sa.String(64), nullable=True))
        for name in ("lawful_basis", "setting", "outputs"):
            batch.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("risk_report", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("committee_quorum", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(op.f("fk_access_requests_project_id_projects"),
                                 "projects", ["project_id"], ["id"])
    op.create_table(
        "committee_members",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("appointed_by", sa.String(64), nullable=False),
        _ts("appointed_at"),
        sa.ForeignKeyConstraint(["request_id"], ["access_requests.id"], ondelete="CASCADE",
                                name=op.f("fk_committee_members_request_id_access_requests")),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"],
                                name=op.f("fk_committee_members_reviewer_id_users")),
        sa.PrimaryKeyConstraint("request_id", "reviewer_id", name=op.f("pk_committee_members")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=True),
        _ts("expires_at", nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_table(
        "column_bounds",
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("column", sa.String(200), nullable=False),
        sa.Column("lower", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        _ts("updated_at"),
        sa.CheckConstraint("lower < upper", name=op.f("ck_column_bounds_ordered")),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name=op.f("fk_column_bounds_dataset_id_datasets")),
        sa.PrimaryKeyConstraint("dataset_id", "column", name=op.f("pk_column_bounds")),
    )


def downgrade() -> None:
    op.drop_table("column_bounds")
    op.drop_table("api_keys")
    op.drop_table("committee_members")
    with op.batch_alter_table("access_requests") as batch:
        batch.drop_constraint(op.f("fk_access_requests_project_id_projects"),
                              type_="foreignkey")
        for name in ("state_reason", "committee_quorum", "risk_report", "outputs",
                     "setting", "lawful_basis", "project_id"):
            batch.drop_column(name)

"""Governance: every artefact a project writes, project retention, destroyed releases,
and the age recipient a user's take-outs are encrypted to.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("age_recipient", sa.String(128), nullable=True))
    with op.batch_alter_table("projects") as batch:
        batch.add_column(_ts("retain_until", nullable=True))
    with op.batch_alter_table("releases") as batch:
        batch.add_column(_ts("destroyed_at", nullable=True))
    op.create_table(
        "artefacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        _ts("recorded_at"),
        _ts("destroyed_at", nullable=True),
        sa.Column("destroyed_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_artefacts_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artefacts")),
        sa.UniqueConstraint("project_id", "path", name="uq_artefacts_project_path"),
    )
    op.create_index(op.f("ix_artefacts_project_id"), "artefacts", ["project_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_artefacts_project_id"), table_name="artefacts")
    op.drop_table("artefacts")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("destroyed_at")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("retain_until")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("age_recipient")

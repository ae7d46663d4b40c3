"""The airlock in the catalog: release requests out of the secure room, their files'
digests and the checkers' votes, so a vote and its audit entry commit together (the
room's separate airlock.db is gone).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STATES = ("submitted", "returned", "approved", "rejected", "released", "withdrawn")
DECISIONS = ("approve", "reject", "return")


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "airlock_requests",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("controls", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(_one_of("state", STATES), name=op.f("ck_airlock_requests_state")),
        sa.ForeignKeyConstraint(["author"], ["users.id"],
                                name=op.f("fk_airlock_requests_author_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_airlock_requests_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_requests")),
    )
    op.create_table(
        "airlock_files",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["airlock_requests.id"],
                                name=op.f("fk_airlock_files_request_id_airlock_requests")),
        sa.PrimaryKeyConstraint("request_id", "name", name=op.f("pk_airlock_files")),
    )
    op.create_table(
        "airlock_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("checker", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(_one_of("decision", DECISIONS),
                           name=op.f("ck_airlock_votes_decision")),
        sa.ForeignKeyConstraint(["request_id"], ["airlock_requests.id"],
                                name=op.f("fk_airlock_votes_request_id_airlock_requests")),
        sa.ForeignKeyConstraint(["checker"], ["users.id"],
                                name=op.f("fk_airlock_votes_checker_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_votes")),
        sa.UniqueConstraint("request_id", "name", "sha256", "checker",
                            name="uq_airlock_votes_checker"),
    )
    op.create_index(op.f("ix_airlock_votes_request_id"), "airlock_votes", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_airlock_votes_request_id"), table_name="airlock_votes")
    op.drop_table("airlock_votes")
    op.drop_table("airlock_files")
    op.drop_table("airlock_requests")

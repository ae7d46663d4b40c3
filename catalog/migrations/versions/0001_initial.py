"""The first catalog schema: parties, projects, datasets, requests, releases, budgets, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the vocabularies: later code may grow them, this schema must not move.
ROLES = ("holder", "key_manager", "combiner", "privacy_officer", "researcher", "consumer",
         "admin")
PURPOSES = ("statistics", "scientific_research", "public_interest_archiving")
RELEASE_FORMS = ("secure_room", "take_out", "dp_aggregate", "synthetic")
REQUEST_STATES = ("draft", "submitted", "under_review", "approved", "rejected", "active",
                  "expired", "revoked")
CLASSIFICATIONS = ("direct_identifier", "quasi_identifier", "sensitive", "other")
GENESIS_HASH = "0" * 64


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(table: str, name: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(repr(v) for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organisation_id", sa.String(64), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _check("users", "role", "role", ROLES),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_users_organisation_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("closed_at", nullable=True),
        _check("projects", "purpose", "purpose", PURPOSES),
        _check("projects", "mode", "mode", ("exact", "fuzzy")),
        _check("projects", "status", "status", ("open", "closed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_datasets_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    op.create_table(
        "dataset_columns",
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("classification", sa.String(32), nullable=False),
        _check("dataset_columns", "classification", "classification", CLASSIFICATIONS),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE",
                                name=op.f("fk_dataset_columns_dataset_id_datasets")),
        sa.PrimaryKeyConstraint("dataset_id", "name", name=op.f("pk_dataset_columns")),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("requester_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("release_form", sa.String(16), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("researchers", sa.JSON(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        _ts("starts_at", nullable=True),
        _ts("ends_at", nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _check("access_requests", "state", "state", REQUEST_STATES),
        _check("access_requests", "purpose", "purpose", PURPOSES),
        _check("access_requests", "release_form", "release_form", RELEASE_FORMS),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name=op.f("fk_access_requests_dataset_id_datasets")),
        sa.ForeignKeyConstraint(["requester_id"], ["users.id"],
                                name=op.f("fk_access_requests_requester_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("risk_report", sa.JSON(), nullable=False),
        _ts("created_at"),
        _check("reviews", "decision", "decision", ("approve", "reject")),
        sa.ForeignKeyConstraint(["request_id"], ["access_requests.id"],
                                name=op.f("fk_reviews_request_id_access_requests")),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"],
                                name=op.f("fk_reviews_reviewer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_table(
        "committee_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("reviewer_id", sa.String(64), nullable=False),
        sa.Column("vote", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("created_at"),
        _check("committee_votes", "vote", "vote", ("approve", "reject", "abstain")),
        sa.ForeignKeyConstraint(["request_id"], ["access_requests.id"],
                                name=op.f("fk_committee_votes_request_id_access_requests")),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"],
                                name=op.f("fk_committee_votes_reviewer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_committee_votes")),
        sa.UniqueConstraint("request_id", "reviewer_id", name=op.f("uq_committee_votes_member")),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("artifact", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(128), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        _ts("expires_at", nullable=True),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        _check("releases", "form", "form", RELEASE_FORMS),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name=op.f("fk_releases_dataset_id_datasets")),
        sa.ForeignKeyConstraint(["request_id"], ["access_requests.id"],
                                name=op.f("fk_releases_request_id_access_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    op.create_table(
        "privacy_budgets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("epsilon_total", sa.Float(), nullable=False),
        sa.Column("epsilon_spent", sa.Float(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("epsilon_total > 0", name=op.f("ck_privacy_budgets_total_positive")),
        sa.CheckConstraint("epsilon_spent >= 0",
                           name=op.f("ck_privacy_budgets_spent_non_negative")),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"],
                                name=op.f("fk_privacy_budgets_dataset_id_datasets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_budgets")),
        sa.UniqueConstraint("dataset_id", "consumer",
                            name=op.f("uq_privacy_budgets_dataset_consumer")),
    )
    op.create_table(
        "budget_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("epsilon > 0", name=op.f("ck_budget_ledger_epsilon_positive")),
        sa.ForeignKeyConstraint(["budget_id"], ["privacy_budgets.id"],
                                name=op.f("fk_budget_ledger_budget_id_privacy_budgets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_ledger")),
    )
    op.create_index(op.f("ix_budget_ledger_budget_id"), "budget_ledger", ["budget_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _ts("ts"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_log_seq")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    _append_only_triggers()


def _append_only_triggers() -> None:
    """Make the database itself refuse to change or delete audit entries.

    The hash chain detects tampering; these triggers stop it through the ordinary
    application path. An owner who drops them is still caught by ``audit verify``.
    """
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
            END
            $$
        """)
        op.execute("""
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()
        """)
        op.execute("""
            CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()
        """)
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log
                BEGIN
                    SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused');
                END
            """)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    for table in ("audit_chain_head", "audit_log", "budget_ledger", "privacy_budgets",
                  "releases", "committee_votes", "reviews", "access_requests",
                  "dataset_columns", "datasets", "projects", "users", "organisations"):
        op.drop_table(table)

"""The catalog's tables (DESIGN 6), as typed SQLAlchemy 2 declarative models.

The migrations in ``catalog/migrations/versions`` are the schema's source of truth for
a database; these models must match them (a test compares the two).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from catalog.coltypes import UTCDateTime, utcnow

ROLES = ("holder", "key_manager", "combiner", "privacy_officer", "researcher", "consumer",
         "admin")
PURPOSES = ("statistics", "scientific_research", "public_interest_archiving")
LINKAGE_MODES = ("exact", "fuzzy")
PROJECT_STATUSES = ("open", "closed")
CLASSIFICATIONS = ("direct_identifier", "quasi_identifier", "sensitive", "other")
RELEASE_FORMS = ("secure_room", "take_out", "dp_aggregate", "synthetic")
REQUEST_STATES = ("draft", "submitted", "under_review", "approved", "rejected", "active",
                  "expired", "revoked")
DECISIONS = ("approve", "reject")
VOTES = ("approve", "reject", "abstain")
GENESIS_HASH = "0" * 64


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    # Named constraints, so that migrations can alter them on every dialect.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON,
    }


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    # An argon2 hash (PHC string) once password login exists; never a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The age X25519 recipient a take-out is encrypted to (public; 0004).
    age_recipient: Mapped[str | None] = mapped_column(String(128))


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(_one_of("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_one_of("mode", LINKAGE_MODES), name="mode"),
        CheckConstraint(_one_of("status", PROJECT_STATUSES), name="status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # After this date `pseudolink catalog sweep` destroys the project's artefacts (0004).
    retain_until: Mapped[datetime | None]


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"))
    lineage: Mapped[dict[str, Any]]
    #: The file's content digest at registration: the dataset's identity for budgets, and
    #: what a release checks the file it reads against.
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    columns: Mapped[list[DatasetColumn]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan",
        order_by="DatasetColumn.position",
    )


class DatasetColumn(Base):
    """One column of a dataset and how identifying it is (drives risk review and release)."""

    __tablename__ = "dataset_columns"
    __table_args__ = (
        CheckConstraint(_one_of("classification", CLASSIFICATIONS), name="classification"),
    )

    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    classification: Mapped[str] = mapped_column(String(32))

    dataset: Mapped[Dataset] = relationship(back_populates="columns")


class AccessRequest(Base):
    """A request to use a dataset in one release form (DESIGN 6 workflow states)."""

    __tablename__ = "access_requests"
    __table_args__ = (
        CheckConstraint(_one_of("state", REQUEST_STATES), name="state"),
        CheckConstraint(_one_of("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_one_of("release_form", RELEASE_FORMS), name="release_form"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    requester_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    release_form: Mapped[str] = mapped_column(String(16))
    columns: Mapped[list[Any]]
    researchers: Mapped[list[Any]]
    justification: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Five Safes beyond purpose, people (researchers), data (columns) and form (0002).
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"))
    lawful_basis: Mapped[str] = mapped_column(Text, default="", server_default="")
    setting: Mapped[str] = mapped_column(Text, default="", server_default="")
    outputs: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The risk report of the data under review, attached by an officer.
    risk_report: Mapped[dict[str, Any] | None]
    committee_quorum: Mapped[int | None] = mapped_column(Integer)
    state_reason: Mapped[str | None] = mapped_column(Text)

    committee: Mapped[list[CommitteeMember]] = relationship(
        cascade="all, delete-orphan", order_by="CommitteeMember.reviewer_id")
    votes: Mapped[list[CommitteeVote]] = relationship(order_by="CommitteeVote.id")
    reviews: Mapped[list[Review]] = relationship(order_by="Review.id")


class Review(Base):
    """A privacy officer's decision on a request, with the risk report it rested on."""

    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint(_one_of("decision", DECISIONS), name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("access_requests.id"))
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    risk_report: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitteeVote(Base):
    """One member's vote on a take-out request (3 to 7 members, majority with quorum)."""

    __tablename__ = "committee_votes"
    __table_args__ = (
        CheckConstraint(_one_of("vote", VOTES), name="vote"),
        UniqueConstraint("request_id", "reviewer_id", name="uq_committee_votes_member"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("access_requests.id"))
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    vote: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommitteeMember(Base):
    """A reviewer appointed to the release review committee of one take-out request."""

    __tablename__ = "committee_members"

    request_id: Mapped[str] = mapped_column(
        ForeignKey("access_requests.id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    appointed_by: Mapped[str] = mapped_column(String(64))
    appointed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: the id is public (it prefixes the secret), the secret only hashed."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]]
    daily_quota: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class ColumnBound(Base):
    """Public bounds of a numeric column, which DP sums and means clamp to."""

    __tablename__ = "column_bounds"
    __table_args__ = (CheckConstraint("lower < upper", name="ordered"),)

    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    column: Mapped[str] = mapped_column(String(200), primary_key=True)
    lower: Mapped[float] = mapped_column(Float)
    upper: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (CheckConstraint(_one_of("form", RELEASE_FORMS), name="form"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    request_id: Mapped[str | None] = mapped_column(ForeignKey("access_requests.id"))
    form: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    artifact: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(128))
    parameters: Mapped[dict[str, Any]]
    is_open: Mapped[bool] = mapped_column(default=True)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    # When the sweep shredded the artifact of an expired or revoked release (0004).
    destroyed_at: Mapped[datetime | None]

    dataset: Mapped[Dataset] = relationship()


class Artefact(Base):
    """A file a project's stage wrote, wherever it was written, until it is destroyed.

    ``path`` is relative to the workspace root for files inside it (so a workspace can
    move), absolute otherwise; ``holder`` is the party whose copy this is.
    """

    __tablename__ = "artefacts"
    __table_args__ = (
        UniqueConstraint("project_id", "path", name="uq_artefacts_project_path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None]
    destroyed_by: Mapped[str | None] = mapped_column(String(64))


class PrivacyBudget(Base):
    """The epsilon one consumer may spend on one dataset; ``spent`` is the ledger's sum."""

    __tablename__ = "privacy_budgets"
    __table_args__ = (
        UniqueConstraint("dataset_id", "consumer", name="uq_privacy_budgets_dataset_consumer"),
        CheckConstraint("epsilon_total > 0", name="total_positive"),
        CheckConstraint("epsilon_spent >= 0", name="spent_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    consumer: Mapped[str] = mapped_column(String(64))
    epsilon_total: Mapped[float] = mapped_column(Float)
    epsilon_spent: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetBudget(Base):
    """The total epsilon of one dataset's content, shared by every consumer and registration.

    ``identity`` is ``sha256:<digest>`` (or ``dataset:<id>`` for a dataset registered
    without a readable file), so the same file registered twice has one total.
    """

    __tablename__ = "dataset_budgets"
    __table_args__ = (CheckConstraint("epsilon_total > 0", name="total_positive"),)

    identity: Mapped[str] = mapped_column(String(140), primary_key=True)
    epsilon_total: Mapped[float] = mapped_column(Float)
    #: The officer who set it; None while it is the default (the largest consumer budget).
    set_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetSpend(Base):
    __tablename__ = "budget_ledger"
    __table_args__ = (CheckConstraint("epsilon > 0", name="epsilon_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("privacy_budgets.id"), index=True)
    epsilon: Mapped[float] = mapped_column(Float)
    query: Mapped[dict[str, Any]]
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One link of the hash chain; rows are only ever inserted (triggers refuse the rest)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    ts: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The single row every append locks: it serialises writers and remembers the last link.

    The remembered seq and hash also reveal entries deleted from the end of the log,
    which no link of the chain itself could show.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


THROTTLE_SCOPES = ("account", "address")


class LoginSession(Base):
    """A person's login: only the SHA-256 of the token is kept, never the token."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    # Where it was issued: cli, console, hub.
    client: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Recent failed logins of one account or one client address, and any lockout."""

    __tablename__ = "login_throttle"
    __table_args__ = (CheckConstraint(_one_of("scope", THROTTLE_SCOPES), name="scope"),)

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


AIRLOCK_STATES = ("submitted", "returned", "approved", "rejected", "released", "withdrawn")
AIRLOCK_DECISIONS = ("approve", "reject", "return")


class AirlockRequestRow(Base):
    """Outputs a researcher asks to take out of the secure room (``catalog.airlock``).

    Kept here, not in a store of the room's own, so a vote, the decision it settles and
    their audit entries commit in one transaction (migration 0006).
    """

    __tablename__ = "airlock_requests"
    __table_args__ = (CheckConstraint(_one_of("state", AIRLOCK_STATES), name="state"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    author: Mapped[str] = mapped_column(ForeignKey("users.id"))
    # The linkage project of the author's room grant, whose stages record the decision.
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"))
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    context: Mapped[str] = mapped_column(Text)
    controls: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    files: Mapped[list[AirlockFileRow]] = relationship(order_by="AirlockFileRow.name")
    votes: Mapped[list[AirlockVoteRow]] = relationship(order_by="AirlockVoteRow.id")


class AirlockFileRow(Base):
    """One file of an airlock request: its digest (the bytes stay in the object store)."""

    __tablename__ = "airlock_files"

    request_id: Mapped[str] = mapped_column(ForeignKey("airlock_requests.id"),
                                            primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    # The automatic checks' verdicts (anonymize.check_output_file), as dicts.
    checks: Mapped[list[Any]]
    size: Mapped[int] = mapped_column(BigInteger)


class AirlockVoteRow(Base):
    """A checker's vote on one version (digest) of one file; once per checker and version."""

    __tablename__ = "airlock_votes"
    __table_args__ = (
        CheckConstraint(_one_of("decision", AIRLOCK_DECISIONS), name="decision"),
        UniqueConstraint("request_id", "name", "sha256", "checker",
                         name="uq_airlock_votes_checker"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("airlock_requests.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    checker: Mapped[str] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

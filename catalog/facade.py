"""The catalog as the rest of pseudolink sees it: one object over a session factory.

Every method that changes something writes its audit entry in the same transaction,
so the log can never claim a change that did not happen, or miss one that did.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from catalog import audit as audit_log
from catalog import budgets
from catalog.accounts import AccountMethods
from catalog.checkpoints import Anchor, CheckpointFile, append_checkpoint
from catalog.coltypes import utcnow
from catalog.committee import CommitteeRules, RiskThresholds
from catalog.database import make_engine, redacted, require_head
from catalog.datasets import DatasetInfo, dataset_info, search_query
from catalog.errors import CatalogError
from catalog.hashchain import AuditVerification
from catalog.health import HealthMethods
from catalog.identity import UserInfo
from catalog.models import (
    CLASSIFICATIONS,
    LINKAGE_MODES,
    PURPOSES,
    RELEASE_FORMS,
    ROLES,
    BudgetSpend,
    Dataset,
    DatasetColumn,
    Organisation,
    PrivacyBudget,
    Project,
    Release,
    User,
)
from catalog.projects import ProjectMethods
from catalog.releases import ReleaseInfo, open_releases_query, release_info
from catalog.requests import RequestMethods
from catalog.researcher import ResearcherMethods
from catalog.roles import PermissionRefused, refuse_self
from catalog.sessions import SessionMethods
from catalog.storage import Pending, Storage, json_doc, one_of
from catalog.sweep import SweepMethods
from catalog.takeout import TakeoutMethods


class Catalog(AccountMethods, SessionMethods, RequestMethods, ResearcherMethods,
              ProjectMethods, SweepMethods, TakeoutMethods, HealthMethods):
    """Projects, datasets, requests, releases, budgets and the audit log of one deployment.

    ``committee_rules`` sets the size bounds and quorum of take-out committees;
    ``risk_thresholds`` the least a take-out's risk report must meet to be approved.
    With an ``anchor`` (the audit signing key and the checkpoint file) every committed
    audited write appends a signed checkpoint of the chain head it left.
    With the workspace ``root``, release artifacts and dataset files inside it are stored
    relative to it and read back as where they lie now, so a workspace can move (issue 24).
    """

    def __init__(self, engine: Engine, committee_rules: CommitteeRules | None = None, *,
                 risk_thresholds: RiskThresholds | None = None,
                 anchor: Anchor | None = None, root: str | Path | None = None) -> None:
        self.storage = Storage(engine, root=root, anchor=anchor)
        self.committee_rules = committee_rules or CommitteeRules()
        self.risk_thresholds = risk_thresholds or RiskThresholds()

    @classmethod
    def connect(cls, url: str, *, committee_rules: CommitteeRules | None = None,
                risk_thresholds: RiskThresholds | None = None,
                anchor: Anchor | None = None, root: str | Path | None = None) -> Catalog:
        """Open an initialised catalog; does not migrate (that is `pseudolink init`)."""
        engine = make_engine(url)
        try:
            require_head(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, committee_rules, risk_thresholds=risk_thresholds, anchor=anchor,
                   root=root)

    def close(self) -> None:
        self.storage.dispose()

    @property
    def root(self) -> Path | None:
        """The workspace root that stored paths are relative to (None: kept as given)."""
        return self.storage.root

    @property
    def anchor(self) -> Anchor | None:
        return self.storage.anchor

    @property
    def _engine(self) -> Engine:
        return self.storage.engine

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({redacted(self.storage.engine.url)!r})"

    # -- the storage layer, for the mixins not yet turned into services ---------------

    def _change(self, actor: str, action: str, target: str, *,
                permission: str | None = None) -> AbstractContextManager[Pending]:
        return self.storage.change(actor, action, target, permission=permission)

    def _audit_refusal(self, actor: str, target: str, refused: PermissionRefused) -> None:
        self.storage.audit_refusal(actor, target, refused)

    def require(self, actor: str, action: str) -> UserInfo:
        """The active user ``actor`` if the role matrix lets them ``action``; else refused.

        For entry points that only read (audit export, listings): mutating methods check
        their own permission inside their transaction.
        """
        return self.storage.require(actor, action)

    def _write(self) -> AbstractContextManager[Session]:
        """A bare writing transaction; the caller appends its own audit entries."""
        return self.storage.write()

    def _read(self) -> AbstractContextManager[Session]:
        return self.storage.read()

    # -- parties ----------------------------------------------------------------------

    def record_organisation(self, organisation_id: str, *, name: str, actor: str) -> None:
        """Create or rename an organisation (a holder, the key manager, the agency...)."""
        with self._change(actor, "organisation.record", organisation_id,
                          permission="organisation.manage") as change:
            organisation = change.session.get(Organisation, organisation_id)
            if organisation is None:
                change.session.add(Organisation(id=organisation_id, name=name))
            else:
                organisation.name = name
                change.action = "organisation.update"
            change.details = {"name": name}

    def record_user(self, user_id: str, *, role: str, actor: str,
                    organisation_id: str | None = None, display_name: str = "") -> None:
        """Create a user or change their role; the role decides what they may do."""
        one_of(role, ROLES, f"user {user_id!r}: role")
        with self._change(actor, "user.record", user_id, permission="user.manage") as change:
            session = change.session
            refuse_self(actor, user_id, "user.manage", "change their own role or record")
            if organisation_id is not None and session.get(Organisation, organisation_id) is None:
                raise CatalogError(f"user {user_id!r}: no organisation {organisation_id!r} "
                                   "in the catalog")
            user = session.get(User, user_id)
            change.details = {"role": role, "organisation_id": organisation_id}
            if user is None:
                session.add(User(id=user_id, role=role, organisation_id=organisation_id,
                                 display_name=display_name))
                return
            change.action = "user.update"
            change.details["previous_role"] = user.role
            user.role, user.organisation_id = role, organisation_id
            user.display_name = display_name or user.display_name

    def user_role(self, user_id: str) -> str | None:
        """The user's role, or None for an unknown or deactivated user."""
        with self._read() as session:
            user = session.get(User, user_id)
            return user.role if user is not None and user.active else None

    # -- projects and datasets --------------------------------------------------------

    def record_project(self, project_id: str, *, purpose: str, mode: str, spec: dict,
                       actor: str) -> None:
        """Create or update a linkage project; a closed project stays closed."""
        one_of(purpose, PURPOSES, "purpose")
        one_of(mode, LINKAGE_MODES, "linkage mode")
        spec_doc = json_doc(spec, f"spec of project {project_id!r}")
        with self._change(actor, "project.record", project_id,
                          permission="project.record") as change:
            project = change.session.get(Project, project_id)
            if project is None:
                change.session.add(Project(id=project_id, purpose=purpose, mode=mode,
                                           spec=spec_doc))
            elif project.status == "closed":
                raise CatalogError(f"project {project_id!r} was closed on "
                                   f"{project.closed_at:%Y-%m-%d}: its key is destroyed and it "
                                   "cannot be recorded again; choose a new project id")
            else:
                project.purpose, project.mode, project.spec = purpose, mode, spec_doc
                change.action = "project.update"
            change.details = {"purpose": purpose, "mode": mode}

    def close_project(self, project_id: str, *, actor: str) -> None:
        with self._change(actor, "project.close", project_id,
                          permission="project.close") as change:
            project = change.session.get(Project, project_id)
            if project is None:
                raise CatalogError(f"no project {project_id!r} in the catalog")
            if project.status == "closed":
                raise CatalogError(f"project {project_id!r} is already closed")
            project.status, project.closed_at = "closed", utcnow()

    def register_dataset(self, dataset_id: str, *, title: str, path: str,
                         columns: dict[str, str], project_id: str | None, lineage: dict,
                         actor: str, description: str = "", sha256: str | None = None) -> None:
        """Create or replace a dataset's entry and its column classification.

        ``sha256`` is the file's digest, the dataset's identity for budgets; by default the
        lineage's ``file_sha256``, else the file's own digest when it can be read.
        """
        digest = sha256 or (lineage or {}).get("file_sha256") or _file_digest(path)
        for column, classification in columns.items():
            one_of(classification, CLASSIFICATIONS,
                    f"dataset {dataset_id!r}, column {column!r}: classification")
        lineage_doc = json_doc(lineage, f"lineage of dataset {dataset_id!r}")
        with self._change(actor, "dataset.register", dataset_id,
                          permission="dataset.register") as change:
            session = change.session
            if project_id is not None and session.get(Project, project_id) is None:
                raise CatalogError(f"dataset {dataset_id!r}: no project {project_id!r} "
                                   "in the catalog")
            dataset = session.get(Dataset, dataset_id)
            if dataset is None:
                dataset = Dataset(id=dataset_id)
                session.add(dataset)
            else:
                change.action = "dataset.update"
                dataset.columns.clear()
                # The old column rows must be gone before rows with the same names arrive.
                session.flush()
            dataset.title, dataset.description = title, description
            dataset.path = self._stored(path)
            dataset.project_id, dataset.lineage = project_id, lineage_doc
            dataset.sha256 = digest
            dataset.updated_at = utcnow()
            dataset.columns.extend(
                DatasetColumn(name=name, position=i, classification=classification)
                for i, (name, classification) in enumerate(columns.items()))
            change.details = {"title": title, "project_id": project_id,
                              "columns": dict(columns), "lineage": lineage_doc,
                              "sha256": digest}

    # -- releases -------------------------------------------------------------------

    def record_release(self, release_id: str, *, dataset_id: str, form: str, title: str,
                       artifact: str, checksum: str, parameters: dict, actor: str,
                       description: str = "", is_open: bool = True,
                       expires_at: datetime | None = None) -> ReleaseInfo:
        """Approve a release in one of the four forms; the same id again replaces it."""
        one_of(form, RELEASE_FORMS, f"release {release_id!r}: form")
        if expires_at is not None and expires_at.tzinfo is None:
            raise CatalogError(f"release {release_id!r}: expires_at needs a time zone")
        parameters_doc = json_doc(parameters, f"parameters of release {release_id!r}")
        with self._change(actor, "release.record", release_id,
                          permission="release.record") as change:
            session = change.session
            if session.get(Dataset, dataset_id) is None:
                raise CatalogError(f"release {release_id!r}: no dataset {dataset_id!r} "
                                   "in the catalog")
            release = session.get(Release, release_id)
            change.details = {"dataset_id": dataset_id, "form": form, "checksum": checksum,
                              "parameters": parameters_doc, "is_open": is_open,
                              "expires_at": expires_at}
            if release is None:
                release = Release(id=release_id)
                session.add(release)
            else:
                change.action = "release.replace"
                change.details["replaced_checksum"] = release.checksum
            release.dataset_id, release.form, release.title = dataset_id, form, title
            release.description, release.artifact = description, self._stored(artifact)
            release.checksum, release.parameters = checksum, parameters_doc
            release.is_open, release.expires_at = is_open, expires_at
            release.created_at = utcnow()
            release.revoked_at = release.revoked_by = release.revoked_reason = None
            session.flush()
            session.refresh(release, ["dataset"])
            return release_info(release, self.root)

    def _stored(self, path: str | Path) -> str:
        return self.storage.stored(path)

    def _local(self, stored: str) -> str:
        return self.storage.local(stored)

    def revoke_release(self, release_id: str, *, actor: str, reason: str) -> None:
        if not reason.strip():
            raise CatalogError(f"revoking release {release_id!r} needs a reason")
        with self._change(actor, "release.revoke", release_id,
                          permission="release.revoke") as change:
            release = change.session.get(Release, release_id)
            if release is None:
                raise CatalogError(f"no release {release_id!r} in the catalog")
            if release.revoked_at is not None:
                raise CatalogError(f"release {release_id!r} was already revoked on "
                                   f"{release.revoked_at:%Y-%m-%d}")
            release.revoked_at, release.revoked_by, release.revoked_reason = (
                utcnow(), actor, reason)
            change.details = {"reason": reason}

    def open_releases(self) -> list[ReleaseInfo]:
        """Releases consumers may see now: open, not revoked, not expired; newest first."""
        with self._read() as session:
            return [release_info(r, self.root)
                    for r in session.scalars(open_releases_query(utcnow()))]

    def get_release(self, release_id: str) -> ReleaseInfo | None:
        """The release if consumers may see it now, else None."""
        query = open_releases_query(utcnow()).where(Release.id == release_id)
        with self._read() as session:
            release = session.scalars(query).one_or_none()
            return None if release is None else release_info(release, self.root)

    def dataset(self, dataset_id: str) -> DatasetInfo | None:
        """A registered dataset (its file, columns and lineage), or None if unknown."""
        with self._read() as session:
            found = session.scalars(select(Dataset).where(Dataset.id == dataset_id)
                                    .options(selectinload(Dataset.columns))).one_or_none()
            return None if found is None else dataset_info(found, self.root)

    def search_datasets(self, text: str) -> list[DatasetInfo]:
        """Registered datasets matching ``text`` in their id, title, description or columns."""
        with self._read() as session:
            return [dataset_info(d, self.root) for d in session.scalars(search_query(text))]

    def dataset_columns(self, dataset_id: str) -> dict[str, str]:
        """A dataset's columns and their classification, in registration order."""
        with self._read() as session:
            dataset = session.scalars(select(Dataset).where(Dataset.id == dataset_id)
                                      .options(selectinload(Dataset.columns))).one_or_none()
            if dataset is None:
                raise CatalogError(f"no dataset {dataset_id!r} in the catalog")
            return {c.name: c.classification for c in dataset.columns}

    # -- privacy budgets ----------------------------------------------------------------

    def set_budget(self, dataset_id: str, consumer: str, epsilon_total: float,
                   actor: str) -> None:
        with self._change(actor, "budget.set", f"{dataset_id}/{consumer}",
                          permission="budget.set") as change:
            change.details = budgets.set_budget(change.session, dataset_id, consumer,
                                                epsilon_total)

    def set_dataset_budget(self, dataset_id: str, epsilon_total: float, actor: str) -> None:
        """Set the total epsilon all consumers of this dataset's content share (officers)."""
        with self._change(actor, "budget.dataset_set", dataset_id,
                          permission="budget.set") as change:
            change.details = budgets.set_dataset_total(change.session, dataset_id,
                                                       epsilon_total, actor)

    def dataset_budget(self, dataset_id: str) -> budgets.DatasetBudgetInfo | None:
        with self._read() as session:
            return budgets.dataset_total(session, dataset_id)

    def spend(self, dataset_id: str, consumer: str, epsilon: float, *, query: dict,
              actor: str) -> float:
        """Charge one query to a budget; returns the epsilon left.

        A refusal raises CatalogError stating the remaining budget, and is itself audited.
        """
        target = f"{dataset_id}/{consumer}"
        try:
            with self._change(actor, "budget.spend", target) as change:
                remaining, change.details = budgets.spend(
                    change.session, dataset_id, consumer, epsilon, query, actor)
        except budgets.BudgetExceeded as refused:
            self.audit(actor, "budget.spend_refused", target,
                       {"epsilon": epsilon, "remaining": refused.remaining,
                        "query": json_doc(query, "query")})
            raise
        return remaining

    def budget(self, dataset_id: str, consumer: str) -> budgets.BudgetInfo | None:
        with self._read() as session:
            found = session.scalars(
                select(PrivacyBudget).where(
                    PrivacyBudget.dataset_id == dataset_id,
                    PrivacyBudget.consumer == consumer)).one_or_none()
            return None if found is None else budgets.budget_info(found)

    def list_budgets(self) -> list[budgets.BudgetInfo]:
        with self._read() as session:
            return [budgets.budget_info(b) for b in session.scalars(
                select(PrivacyBudget).order_by(PrivacyBudget.dataset_id,
                                               PrivacyBudget.consumer))]

    def budget_ledger(self, dataset_id: str, consumer: str) -> list[dict[str, Any]]:
        """Every spend charged to one budget, oldest first."""
        with self._read() as session:
            rows = session.execute(
                select(BudgetSpend)
                .join(PrivacyBudget,
                      PrivacyBudget.id == BudgetSpend.budget_id)
                .where(PrivacyBudget.dataset_id == dataset_id,
                       PrivacyBudget.consumer == consumer)
                .order_by(BudgetSpend.id)).scalars()
            return [{"epsilon": r.epsilon, "query": r.query, "actor": r.actor,
                     "created_at": r.created_at} for r in rows]

    # -- audit log --------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str, details: dict) -> None:
        """Record an event that changes nothing in the catalog (a login, a download)."""
        with self._change(actor, action, target) as change:
            change.details = json_doc(details, f"details of {action}")

    def verify_audit(self, checkpoints: CheckpointFile | None = None) -> AuditVerification:
        """Check the hash chain; with ``checkpoints``, also against every signed checkpoint.

        Without checkpoints a rewritten chain whose hashes were recomputed passes: only
        a key the database does not hold can tell (see ``catalog.checkpoints``).
        """
        with self._read() as session:
            return audit_log.verify(session, checkpoints)

    def checkpoint_audit(self, anchor: Anchor | None = None) -> tuple[int, str]:
        """Sign the current chain head into the checkpoint file; returns (seq, head)."""
        anchor = anchor or self.anchor
        if anchor is None:
            raise CatalogError("no audit signing key to checkpoint with")
        with self._read() as session:
            seq, head = audit_log.current_head(session)
        append_checkpoint(anchor.path, anchor.signer, seq, head)
        return seq, head

    def export_audit(self, out: Path) -> int:
        """Write the log as JSON lines (complete file or none); returns the entry count."""
        with self._read() as session:
            return audit_log.export(session, Path(out))

    def audit_entries(self) -> list[dict[str, Any]]:
        with self._read() as session:
            return [entry.to_dict() for entry in audit_log.iter_entries(session)]


def _file_digest(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of a readable file, else None (a catalog entry may name a file elsewhere)."""
    import hashlib

    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None

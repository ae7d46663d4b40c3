"""The catalog as the rest of pseudolink sees it: one object composed of small services.

Each service (accounts, sessions, datasets, projects, requests, releases, take-outs,
budgets, audit, sweep, health) receives the same ``catalog.storage.Storage``, whose
``change`` writes every change, its role check and its audit entry in one transaction.
``Catalog`` builds them and forwards each public method by name, so callers keep
writing ``cat.record_release(...)``; ``cat.releases.record_release(...)`` is the same.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog.accounts import AccountService
from catalog.audit import AuditService
from catalog.budgets import BudgetService
from catalog.checkpoints import Anchor
from catalog.committee import CommitteeRules, RiskThresholds
from catalog.database import make_engine, redacted, require_head
from catalog.datasets import DatasetService
from catalog.health import HealthService
from catalog.identity import UserInfo
from catalog.projects import ProjectService
from catalog.releases import ReleaseService
from catalog.request_service import PUBLIC as REQUEST_METHODS
from catalog.request_service import RequestService
from catalog.roles import PermissionRefused
from catalog.sessions import SessionService, ThrottlePolicy
from catalog.storage import Pending, Storage
from catalog.sweep import SweepService
from catalog.takeout import TakeoutService


def _forward(service: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``Catalog.<name>`` calling ``self.<service>.<name>``, with the method's signature."""
    name = method.__name__

    @functools.wraps(method)
    def forwarded(self: Catalog, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, service), name)(*args, **kwargs)

    return forwarded


class Catalog:
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
        thresholds = risk_thresholds or RiskThresholds()
        self.storage = Storage(engine, root=root, anchor=anchor)
        self.audit_log = AuditService(self.storage)
        self.accounts = AccountService(self.storage)
        self.sessions = SessionService(self.storage, self.accounts)
        self.datasets = DatasetService(self.storage)
        self.projects = ProjectService(self.storage)
        self.releases = ReleaseService(self.storage)
        self.takeouts = TakeoutService(self.storage, thresholds)
        self.budgets = BudgetService(self.storage)
        self.requests = RequestService(self.storage, self.audit_log,
                                       committee_rules=committee_rules or CommitteeRules(),
                                       risk_thresholds=thresholds)
        self.sweeper = SweepService(self.storage, self.requests, self.projects)
        self.health = HealthService(self.storage)

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

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({redacted(self.storage.engine.url)!r})"

    # -- settings the services share --------------------------------------------------

    @property
    def root(self) -> Path | None:
        """The workspace root that stored paths are relative to (None: kept as given)."""
        return self.storage.root

    @property
    def anchor(self) -> Anchor | None:
        return self.storage.anchor

    @property
    def committee_rules(self) -> CommitteeRules:
        return self.requests.committee_rules

    @property
    def risk_thresholds(self) -> RiskThresholds:
        return self.requests.risk_thresholds

    @property
    def throttle_policy(self) -> ThrottlePolicy:
        return self.sessions.throttle_policy

    # -- the storage layer, for services that take the catalog itself -----------------
    # (catalog.AirlockRecords and catalog.RoomStages, and tests that look underneath.)

    @property
    def _engine(self) -> Engine:
        return self.storage.engine

    def _change(self, actor: str, action: str, target: str, *,
                permission: str | None = None) -> AbstractContextManager[Pending]:
        return self.storage.change(actor, action, target, permission=permission)

    def _write(self) -> AbstractContextManager[Session]:
        """A bare writing transaction; the caller appends its own audit entries."""
        return self.storage.write()

    def _read(self) -> AbstractContextManager[Session]:
        return self.storage.read()

    def _audit_refusal(self, actor: str, target: str, refused: PermissionRefused) -> None:
        self.storage.audit_refusal(actor, target, refused)

    def _stored(self, path: str | Path) -> str:
        return self.storage.stored(path)

    def _local(self, stored: str) -> str:
        return self.storage.local(stored)

    def require(self, actor: str, action: str) -> UserInfo:
        """The active user ``actor`` if the role matrix lets them ``action``; else refused.

        For entry points that only read (audit export, listings): writers check their
        own permission inside their transaction.
        """
        return self.storage.require(actor, action)

    # -- accounts -----------------------------------------------------------------------
    record_organisation = _forward("accounts", AccountService.record_organisation)
    record_user = _forward("accounts", AccountService.record_user)
    user_role = _forward("accounts", AccountService.user_role)
    set_password = _forward("accounts", AccountService.set_password)
    authenticate = _forward("accounts", AccountService.authenticate)
    deactivate_user = _forward("accounts", AccountService.deactivate_user)
    get_user = _forward("accounts", AccountService.get_user)
    list_users = _forward("accounts", AccountService.list_users)
    authorize = _forward("accounts", AccountService.authorize)
    issue_api_key = _forward("accounts", AccountService.issue_api_key)
    check_api_key = _forward("accounts", AccountService.check_api_key)
    revoke_api_key = _forward("accounts", AccountService.revoke_api_key)
    list_api_keys = _forward("accounts", AccountService.list_api_keys)

    # -- logins and sessions ------------------------------------------------------------
    check_throttle = _forward("sessions", SessionService.check_throttle)
    record_login_failure = _forward("sessions", SessionService.record_login_failure)
    check_address = _forward("sessions", SessionService.check_address)
    address_locked_until = _forward("sessions", SessionService.address_locked_until)
    record_address_failure = _forward("sessions", SessionService.record_address_failure)
    throttled_authenticate = _forward("sessions", SessionService.throttled_authenticate)
    login = _forward("sessions", SessionService.login)
    session_user = _forward("sessions", SessionService.session_user)
    logout = _forward("sessions", SessionService.logout)
    end_sessions = _forward("sessions", SessionService.end_sessions)
    bootstrap_admin = _forward("sessions", SessionService.bootstrap_admin)

    # -- datasets -----------------------------------------------------------------------
    register_dataset = _forward("datasets", DatasetService.register_dataset)
    dataset = _forward("datasets", DatasetService.dataset)
    search_datasets = _forward("datasets", DatasetService.search_datasets)
    dataset_columns = _forward("datasets", DatasetService.dataset_columns)
    set_column_bounds = _forward("datasets", DatasetService.set_column_bounds)
    column_bounds = _forward("datasets", DatasetService.column_bounds)

    # -- linkage projects ---------------------------------------------------------------
    record_project = _forward("projects", ProjectService.record_project)
    close_project = _forward("projects", ProjectService.close_project)
    ensure_project = _forward("projects", ProjectService.ensure_project)
    record_stage = _forward("projects", ProjectService.record_stage)
    artefacts = _forward("projects", ProjectService.artefacts)
    set_retention = _forward("projects", ProjectService.set_retention)
    destroy_project = _forward("projects", ProjectService.destroy_project)
    list_projects = _forward("projects", ProjectService.list_projects)
    project_status = _forward("projects", ProjectService.project_status)

    # -- releases and take-outs -------------------------------------------------------
    record_release = _forward("releases", ReleaseService.record_release)
    revoke_release = _forward("releases", ReleaseService.revoke_release)
    open_releases = _forward("releases", ReleaseService.open_releases)
    get_release = _forward("releases", ReleaseService.get_release)
    set_age_recipient = _forward("takeouts", TakeoutService.set_age_recipient)
    takeout_order = _forward("takeouts", TakeoutService.takeout_order)
    record_takeout = _forward("takeouts", TakeoutService.record_takeout)

    # -- privacy budgets ----------------------------------------------------------------
    set_budget = _forward("budgets", BudgetService.set_budget)
    set_dataset_budget = _forward("budgets", BudgetService.set_dataset_budget)
    dataset_budget = _forward("budgets", BudgetService.dataset_budget)
    spend = _forward("budgets", BudgetService.spend)
    budget = _forward("budgets", BudgetService.budget)
    list_budgets = _forward("budgets", BudgetService.list_budgets)
    budget_ledger = _forward("budgets", BudgetService.budget_ledger)

    # -- audit log ----------------------------------------------------------------------
    audit = _forward("audit_log", AuditService.audit)
    verify_audit = _forward("audit_log", AuditService.verify_audit)
    checkpoint_audit = _forward("audit_log", AuditService.checkpoint_audit)
    export_audit = _forward("audit_log", AuditService.export_audit)
    audit_entries = _forward("audit_log", AuditService.audit_entries)

    # -- the sweep and the catalog's health -------------------------------------------
    sweep = _forward("sweeper", SweepService.sweep)
    readiness = _forward("health", HealthService.readiness)
    recorded_files = _forward("health", HealthService.recorded_files)
    file_problems = _forward("health", HealthService.file_problems)
    record_workspace_event = _forward("health", HealthService.record_workspace_event)


# Access requests: forwarded by the names the workflow declares, so that a method the
# workflow gains is on ``Catalog`` too (create_request, decide_request, vote, renew...).
for _name in REQUEST_METHODS:
    setattr(Catalog, _name, _forward("requests", getattr(RequestService, _name)))
del _name

"""The catalog questions the room asks: may this person log in, what may they see."""

from __future__ import annotations

from pathlib import Path

import catalog

RESEARCHER = "researcher"


def login(database_url: str, user: str, password: str,
          address: str | None = None) -> tuple[bool, str]:
    """Check a password (throttled per account and address) and an active approval."""
    with catalog.Catalog.connect(database_url) as cat:
        try:
            info = cat.throttled_authenticate(user, password, address)
        except catalog.LoginRefused as refused:
            if refused.reason == "locked":
                return False, str(refused)
            return False, "wrong user name or password"
        if info.role != RESEARCHER:
            reason = f"role {info.role} does not work in the secure room"
        elif not cat.active_access(user):
            reason = "no active secure-room approval"
        else:
            cat.audit(user, "room.login", user, {})
            return True, ""
        cat.audit(user, "room.login_refused", user, {"reason": reason})
        return False, reason


def has_access(database_url: str, user: str) -> bool:
    with catalog.Catalog.connect(database_url) as cat:
        return bool(cat.active_access(user))


def approved_extracts(database_url: str, user: str, root: str | Path | None = None
                      ) -> dict[str, tuple[Path, list[str]]]:
    """Each dataset of ``user``'s active approvals: its file and the approved columns;
    ``root`` is the workspace that stored dataset paths are relative to."""
    with catalog.Catalog.connect(database_url, root=root) as cat:
        extracts: dict[str, tuple[Path, list[str]]] = {}
        for grant in cat.active_access(user):
            for dataset_id, columns in grant.datasets.items():
                dataset = cat.dataset(dataset_id)
                if dataset is None:
                    continue
                before = extracts.get(dataset_id, (Path(dataset.path), []))[1]
                extracts[dataset_id] = (Path(dataset.path),
                                        list(dict.fromkeys([*before, *columns])))
        return extracts


def audit(database_url: str, actor: str, action: str, target: str, details: dict) -> None:
    with catalog.Catalog.connect(database_url) as cat:
        cat.audit(actor, action, target, details)


def room_started(database_url: str, user: str, datasets: dict[str, list[str]]) -> None:
    """Record the start of ``user``'s room under ``user``, whom the hub authenticated, as a
    stage of each project of their grants (``catalog.RoomStages``)."""
    with catalog.Catalog.connect(database_url) as cat:
        catalog.RoomStages(cat).start(user, actor=user, datasets=datasets)


def room_stopped(database_url: str, user: str, reason: str) -> None:
    """Record that ``user``'s room stopped (by the hub, not in person: ``system:room``)."""
    with catalog.Catalog.connect(database_url) as cat:
        catalog.RoomStages(cat).stop(user, actor=catalog.ROOM_SYSTEM, reason=reason)

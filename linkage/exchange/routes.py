"""Which party may send which kind of envelope to whom: the exchange's one routing table.

It follows the files ``linkage`` produces (DESIGN 5): holders send keys files to the key
manager and payloads to the combination agency; the key manager sends the link map to the
agency. The one file that flows back to a holder is its clerical-review list, which the
key manager pads with as many decoys as real pairs (:mod:`linkage.fuzzy.review`): nothing
else does, since telling a holder which of its records matched would tell it who is in the
other holders' registers (DESIGN 10).
"""

from __future__ import annotations

from dataclasses import dataclass

from linkage.keys.project import ProjectManifest


@dataclass(frozen=True)
class Route:
    """One allowed flow: a sender of ``sender_role`` sends ``kind`` to ``recipient_role``."""

    kind: str
    sender_role: str
    recipient_role: str
    #: The file name a receiver stores it under (``{sender}``, ``{recipient}``: party ids).
    name: str


ROUTES: dict[str, Route] = {r.kind: r for r in (
    Route("keys", "holder", "key_manager", "{sender}.keys.age"),
    Route("payload", "holder", "combiner", "{sender}.payload.age"),
    Route("linkmap", "key_manager", "combiner", "linkmap.age"),
    # Clerical review (fuzzy, linkage.fuzzy.review): the key manager sends each holder its
    # own list (its serials and decoys, by review id); the holder answers by review id.
    Route("review", "key_manager", "holder", "{recipient}.review.age"),
    Route("decisions", "holder", "key_manager", "{sender}.decisions.age"),
)}

#: Project-setup files, which are not envelopes (:mod:`linkage.exchange.setup`). Every
#: party of the project receives them; ``exchange`` is the operator, who registers the
#: manifest on the exchange host (`exchange register`), never over HTTP.
SETUP_ROUTES: dict[str, Route] = {r.kind: r for r in (
    Route("project", "exchange", "party", "project.json"),
    # A holder's signed acceptance with its share of the project key (sealed to holders).
    Route("acceptance", "holder", "party", "{sender}.accept.json"),
)}


def route_error(kind: str, sender: str, recipient: str, project: ProjectManifest) -> str | None:
    """Why ``sender`` may not send a ``kind`` file to ``recipient`` in ``project``; None if
    it may.

    Roles are read from the project manifest, never from the request, so a holder cannot
    present itself as the key manager.
    """
    route = ROUTES.get(kind)
    if route is None:
        return f"files of kind {kind!r} do not travel through the exchange"
    if sender not in project.parties:
        return f"'{sender}' is not a party of project {project.id}"
    if project.parties[sender].role != route.sender_role:
        return (f"'{sender}' is the {project.parties[sender].role} of project {project.id}; "
                f"only the {route.sender_role.replace('_', ' ')} sends {kind} files")
    expected = _party_of_role(project, route.recipient_role)
    if recipient not in expected:
        return (f"{kind} files go to the {route.recipient_role.replace('_', ' ')} "
                f"({', '.join(expected)}), not to '{recipient}'")
    return None


def setup_route_error(kind: str, sender: str, named: str, project: ProjectManifest
                      ) -> str | None:
    """Why ``sender`` may not send the setup file of ``kind`` that names ``named`` as its
    author; None if it may. A holder sends only its own acceptance."""
    route = SETUP_ROUTES[kind]
    if sender not in project.parties:
        return f"'{sender}' is not a party of project {project.id}"
    if project.parties[sender].role != route.sender_role:
        return (f"'{sender}' is the {project.parties[sender].role} of project {project.id}; "
                f"only holders send {kind} files")
    if named != sender:
        return f"'{sender}' sends only its own {kind}, not the one of '{named}'"
    return None


def file_name(kind: str, sender: str, recipient: str = "") -> str:
    """The name a pulled envelope is stored under, as ``linkage`` writes it.

    >>> file_name("keys", "ssis"), file_name("linkmap", "km"), file_name("review", "km", "ssis")
    ('ssis.keys.age', 'linkmap.age', 'ssis.review.age')
    """
    return ROUTES[kind].name.format(sender=sender, recipient=recipient)


def _party_of_role(project: ProjectManifest, role: str) -> list[str]:
    if role == "key_manager":
        return [project.spec.key_manager]
    if role == "combiner":
        return [project.spec.combiner]
    return list(project.spec.holder_ids)

"""The take-out (반출) release review committee: who may sit on it and when it has decided.

A take-out release leaves the agency for good, so one officer's judgement is not
enough: a committee of 3 to 7 reviewers (configurable), none from the requesting
organisation, votes with reasons. It approves on a majority of the votes cast once
a quorum has voted, and never with fewer than two approvals, whatever the size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog.errors import CatalogError

#: Votes that make up a committee's tally (catalog.models.VOTES).
APPROVE, REJECT, ABSTAIN = "approve", "reject", "abstain"
#: However small a committee, no take-out passes on fewer approvals than this.
MIN_APPROVALS = 2


@dataclass(frozen=True)
class CommitteeRules:
    """Committee size bounds and quorum; quorum None means a majority of the members."""

    min_members: int = 3
    max_members: int = 7
    quorum: int | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.min_members <= self.max_members:
            raise CatalogError(f"committee size bounds {self.min_members}..{self.max_members} "
                               "are not valid: need 2 <= min <= max")

    def quorum_for(self, members: int) -> int:
        """Votes needed before a decision, never fewer than two.

        >>> CommitteeRules().quorum_for(3), CommitteeRules().quorum_for(7)
        (2, 4)
        """
        wanted = self.quorum if self.quorum is not None else members // 2 + 1
        if not MIN_APPROVALS <= wanted <= members:
            raise CatalogError(f"a quorum of {wanted} is impossible for a committee of "
                               f"{members}: it must lie between {MIN_APPROVALS} and {members}")
        return wanted

    def check_size(self, members: int, request_id: str) -> None:
        if not self.min_members <= members <= self.max_members:
            raise CatalogError(f"request {request_id!r}: a committee of {members} is not "
                               f"allowed; appoint {self.min_members} to {self.max_members} "
                               "reviewers")


def check_no_tie(member_id: str, member_organisation: str | None, request_id: str,
                 people: Mapping[str, str | None], requester_id: str) -> None:
    """Refuse a reviewer tied to any person the request names (requester or co-researcher).

    Checked against every named researcher's organisation, not only the requester's:
    an officer of a co-researcher's organisation is just as conflicted.

    A reviewer without an organisation is refused too: their ties cannot be checked, and
    "no organisation" must not be a way around the rule. A named researcher without one
    leaves nothing to compare against, so the committee cannot be seated until it is
    recorded.

    >>> check_no_tie("po2", "uni-b", "r1", {"alice": "uni-a", "bob": "uni-c"}, "alice")
    >>> check_no_tie("po3", "uni-c", "r1", {"alice": "uni-a", "bob": "uni-c"},
    ...              "alice")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    catalog.errors.CatalogError: request 'r1': 'po3' belongs to 'uni-c', the organisation of...
    """
    if member_id in people:
        raise CatalogError(f"request {request_id!r}: {member_id!r} is one of its "
                           "researchers and cannot review it")
    if member_organisation is None:
        raise CatalogError(f"request {request_id!r}: {member_id!r} has no organisation, so "
                           "their ties to the researchers cannot be checked; record it first")
    for person, organisation in people.items():
        if organisation is None:
            raise CatalogError(f"request {request_id!r}: researcher {person!r} has no "
                               "organisation, so reviewers' ties to them cannot be checked")
        if organisation == member_organisation:
            if person == requester_id:
                raise CatalogError(
                    f"request {request_id!r}: {member_id!r} belongs to the requester's "
                    f"organisation {organisation!r} (conflict of interest)")
            raise CatalogError(
                f"request {request_id!r}: {member_id!r} belongs to {organisation!r}, the "
                f"organisation of researcher {person!r} (conflict of interest)")


@dataclass(frozen=True)
class RiskThresholds:
    """The least an anonymised take-out must meet: k-anonymity and highest prosecutor risk.

    The defaults (classes of at least 5, so no record above 1/5 risk) are the common
    floor in Korean pseudonymisation guidance; a project may set stricter ones in its
    catalog spec (``risk_thresholds = {k = 10, prosecutor_risk_max = 0.1}``), never
    looser: the catalog applies the stricter of the two.
    """

    k: int = 5
    prosecutor_risk_max: float = 0.2

    def __post_init__(self) -> None:
        if self.k < 2 or not 0 < self.prosecutor_risk_max <= 0.5:
            raise CatalogError(f"risk thresholds k >= {self.k}, prosecutor risk <= "
                               f"{self.prosecutor_risk_max} are not valid: need k >= 2 and "
                               "a prosecutor risk in (0, 0.5]")

    def stricter(self, project: Mapping[str, Any] | None) -> RiskThresholds:
        """These thresholds tightened by a project's own (a project can only tighten).

        >>> RiskThresholds().stricter({"k": 10, "prosecutor_risk_max": 0.5})
        RiskThresholds(k=10, prosecutor_risk_max=0.2)
        """
        if not project:
            return self
        if not isinstance(project, Mapping):
            raise CatalogError(f"the project's risk_thresholds must be a table, got {project!r}")
        try:
            k = max(self.k, int(project.get("k", self.k)))
            risk = min(self.prosecutor_risk_max,
                       float(project.get("prosecutor_risk_max", self.prosecutor_risk_max)))
        except (TypeError, ValueError):
            raise CatalogError(f"the project's risk_thresholds {dict(project)!r} are not "
                               "numbers") from None
        return RiskThresholds(k, risk)

    def failures(self, report: Mapping[str, Any]) -> list[str]:
        """What in a risk report (``anonymize.risk_report(...).to_dict()``) misses these.

        >>> RiskThresholds().failures({"k": 1, "prosecutor_risk_max": 1.0})
        ['k = 1 < 5', 'prosecutor risk 1 > 0.2']
        """
        found: list[str] = []
        k = report.get("k")
        if not isinstance(k, int) or k < self.k:
            found.append(f"k = {k} < {self.k}")
        risk = report.get("prosecutor_risk_max")
        if not isinstance(risk, int | float) or risk > self.prosecutor_risk_max:
            found.append(f"prosecutor risk {risk:g} > {self.prosecutor_risk_max:g}"
                         if isinstance(risk, int | float)
                         else f"prosecutor risk missing (needs <= {self.prosecutor_risk_max:g})")
        return found


@dataclass(frozen=True)
class Tally:
    members: int
    quorum: int
    approve: int
    reject: int
    abstain: int

    @property
    def cast(self) -> int:
        return self.approve + self.reject + self.abstain

    @property
    def quorate(self) -> bool:
        return self.cast >= self.quorum

    @property
    def passes(self) -> bool:
        """Quorate, a majority of the votes cast, and at least two approvals.

        Abstentions count towards the quorum and against the majority: an abstaining
        member has not said yes.
        """
        return (self.quorate and 2 * self.approve > self.cast
                and self.approve >= MIN_APPROVALS)

    @property
    def verdict(self) -> bool | None:
        """The outcome once all members vote, if the missing votes cannot change it, else None.

        >>> tally(["approve", "approve"], members=3, quorum=3).verdict  # a 3rd "no" still passes
        True
        >>> tally(["approve", "reject"], members=5, quorum=3).verdict is None
        True
        """
        remaining = self.members - self.cast
        worst = Tally(self.members, self.quorum, self.approve, self.reject + remaining,
                      self.abstain)
        best = Tally(self.members, self.quorum, self.approve + remaining, self.reject,
                     self.abstain)
        if worst.passes:
            return True
        return False if not best.passes else None

    @property
    def settled(self) -> bool:
        return self.verdict is not None

    def summary(self, passes: bool | None = None) -> str:
        verdict = "approved" if (self.passes if passes is None else passes) else "rejected"
        return (f"committee {verdict}: {self.approve} approve, {self.reject} reject, "
                f"{self.abstain} abstain of {self.members} members (quorum {self.quorum})")


def tally(votes: Iterable[str], members: int, quorum: int) -> Tally:
    """Count the votes of a committee.

    >>> t = tally(["approve", "approve", "reject"], members=5, quorum=3)
    >>> t.passes, t.summary()
    (True, 'committee approved: 2 approve, 1 reject, 0 abstain of 5 members (quorum 3)')
    >>> tally(["approve", "abstain"], members=3, quorum=2).passes  # one yes is never enough
    False
    """
    counts = Counter(votes)
    unknown = set(counts) - {APPROVE, REJECT, ABSTAIN}
    if unknown:
        raise CatalogError(f"unknown vote(s) {sorted(unknown)}: vote approve, reject or abstain")
    return Tally(members, quorum, counts[APPROVE], counts[REJECT], counts[ABSTAIN])

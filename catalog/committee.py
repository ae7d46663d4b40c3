"""The take-out (반출) release review committee: who may sit on it and when it has decided.

A take-out release leaves the agency for good, so one officer's judgement is not
enough: a committee of 3 to 7 reviewers (configurable), none from the requesting
organisation, votes with reasons. It approves on a majority of the votes cast once
a quorum has voted, and never with fewer than two approvals, whatever the size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

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

"""What a disclosure check says about one output: pass, hold, or ask a person.

Every ``check_*`` function returns one ``Verdict``; the airlock shows the reasons to the
researcher and to the output checkers verbatim, so a reason names the cell or setting.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The result of one check: ``ok`` False holds the output; ``review`` asks a person.

    >>> Verdict.passed("min_cell_count", "every cell is at least 10")
    Verdict(check='min_cell_count', ok=True, reason='every cell is at least 10', review=False)
    """

    check: str
    ok: bool
    reason: str
    #: The automatic rules cannot judge it (figures, free text): an officer must look.
    review: bool = False

    @classmethod
    def passed(cls, check: str, reason: str) -> Verdict:
        return cls(check, True, reason)

    @classmethod
    def held(cls, check: str, reason: str) -> Verdict:
        return cls(check, False, reason)

    @classmethod
    def for_review(cls, check: str, reason: str) -> Verdict:
        return cls(check, True, reason, review=True)

    def to_dict(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "reason": self.reason,
                "review": self.review}

"""docs/security.md shows the role matrix and state machine the code enforces."""

from __future__ import annotations

from pathlib import Path

from catalog.roles import matrix_markdown
from catalog.workflow import diagram

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_security_doc_carries_the_role_matrix_of_the_code() -> None:
    assert matrix_markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/security.md is out of date: paste catalog.roles.matrix_markdown()")


def test_security_doc_carries_the_workflow_of_the_code() -> None:
    assert diagram() in DOC.read_text(encoding="utf-8")

"""The take-out committee: 3 to 7 unconflicted reviewers, majority with quorum, two approvals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import catalog
from catalog.committee import MIN_APPROVALS, tally
from tests.catalog.conftest import RISK, make_request


@pytest.fixture
def take_out(cat: catalog.Catalog, people: dict) -> str:
    request_id = make_request(cat, "export-1", state="under_review", form="take_out")
    cat.attach_risk_report(request_id, RISK, actor="po1")
    return request_id


def test_committee_approves_on_a_majority_and_records_each_reason(
        cat: catalog.Catalog, take_out: str) -> None:
    cat.appoint_committee(take_out, ["po2", "po3", "po4"], actor="po1")
    assert cat.vote(take_out, "approve", reason="k=5 holds", actor="po2").verdict is None
    result = cat.vote(take_out, "approve", reason="outputs are aggregates", actor="po3")
    assert result.passes and result.verdict is True
    request = cat.get_request(take_out)
    assert request.state == "approved"
    assert [(v["reviewer"], v["vote"], v["reason"]) for v in request.votes] == [
        ("po2", "approve", "k=5 holds"), ("po3", "approve", "outputs are aggregates")]
    assert request.reviews[-1]["risk_report"]["k"] == 5
    actions = [e["action"] for e in cat.audit_entries()[-3:]]
    assert actions == ["committee.vote", "committee.vote", "request.approve"]
    with pytest.raises(catalog.CatalogError, match="votes are cast while it is under_review"):
        cat.vote(take_out, "reject", reason="late", actor="po4")


def test_committee_rejects_without_a_majority(cat: catalog.Catalog, take_out: str) -> None:
    cat.appoint_committee(take_out, ["po2", "po3", "po4", "po5", "po6"], actor="po1")
    for member, vote in (("po2", "approve"), ("po3", "approve"), ("po4", "reject"),
                         ("po5", "abstain")):
        cat.vote(take_out, vote, reason="considered", actor=member)
    assert cat.get_request(take_out).state == "under_review"
    cat.vote(take_out, "reject", reason="small cells in 2 districts", actor="po6")
    request = cat.get_request(take_out)
    assert request.state == "rejected"
    assert request.state_reason == ("committee rejected: 2 approve, 2 reject, 1 abstain "
                                    "of 5 members (quorum 3)")


def test_committee_cannot_decide_without_quorum(cat: catalog.Catalog, take_out: str) -> None:
    cat.appoint_committee(take_out, ["po2", "po3", "po4", "po5", "po6"], actor="po1")
    cat.vote(take_out, "approve", reason="fine", actor="po2")
    cat.vote(take_out, "approve", reason="fine", actor="po3")
    with pytest.raises(catalog.CatalogError, match=r"no quorum yet \(2 of 5 voted, 3 needed\)"):
        cat.close_committee(take_out, actor="po1")
    cat.vote(take_out, "reject", reason="not fine", actor="po4")
    assert cat.close_committee(take_out, actor="po1").passes
    assert cat.get_request(take_out).state == "approved"


@pytest.mark.parametrize(("members", "message"), [
    (["po2", "po3"], "a committee of 2 is not allowed; appoint 3 to 7"),
    ([f"po{n}" for n in range(1, 8)] + ["po-conflict"], "a committee of 8"),
    (["po2", "po3", "po-conflict"], "'po-conflict' belongs to the requester's organisation"),
    (["po2", "po3", "alice"], "committee.serve refused: user 'alice' has role 'researcher'"),
    (["po2", "po3", "root"], "committee.serve refused"),
])
def test_committee_membership_rules(cat: catalog.Catalog, take_out: str, members: list,
                                    message: str) -> None:
    with pytest.raises(catalog.CatalogError, match=message):
        cat.appoint_committee(take_out, members, actor="po1")
    assert cat.get_request(take_out).committee == []


def test_committee_size_is_configurable(database_url: str, cat: catalog.Catalog,
                                        take_out: str) -> None:
    rules = catalog.CommitteeRules(min_members=5, max_members=5)
    with catalog.Catalog.connect(database_url, committee_rules=rules) as strict:
        with pytest.raises(catalog.CatalogError, match="appoint 5 to 5 reviewers"):
            strict.appoint_committee(take_out, ["po2", "po3", "po4"], actor="po1")
        strict.appoint_committee(take_out, ["po2", "po3", "po4", "po5", "po6"], actor="po1")
    assert cat.get_request(take_out).committee_quorum == 3


def test_only_members_vote_once_with_a_reason(cat: catalog.Catalog, take_out: str) -> None:
    cat.appoint_committee(take_out, ["po2", "po3", "po4"], actor="po1")
    with pytest.raises(catalog.PermissionRefused, match="'po5' is not on the committee"):
        cat.vote(take_out, "approve", reason="x", actor="po5")
    with pytest.raises(catalog.CatalogError, match="needs a reason"):
        cat.vote(take_out, "approve", reason="", actor="po2")
    cat.vote(take_out, "reject", reason="cells too small", actor="po2")
    with pytest.raises(catalog.CatalogError, match="'po2' has already voted"):
        cat.vote(take_out, "approve", reason="changed my mind", actor="po2")


def test_take_out_is_never_decided_by_one_officer(cat: catalog.Catalog, take_out: str) -> None:
    with pytest.raises(catalog.CatalogError, match="the release review committee decides it"):
        cat.decide_request(take_out, "approve", reason="looks fine", actor="po1")
    assert cat.get_request(take_out).state == "under_review"


def test_committee_needs_a_risk_report_to_approve(cat: catalog.Catalog, people: dict) -> None:
    request_id = make_request(cat, "export-2", state="under_review", form="take_out")
    cat.appoint_committee(request_id, ["po2", "po3", "po4"], actor="po1")
    cat.vote(request_id, "approve", reason="ok", actor="po2")
    with pytest.raises(catalog.CatalogError, match="no risk report is attached"):
        cat.vote(request_id, "approve", reason="ok", actor="po3")


def test_two_approval_floor_holds_even_with_a_quorum_of_one() -> None:
    assert not tally(["approve"], members=3, quorum=1).passes
    assert tally(["approve", "approve"], members=3, quorum=1).passes


@given(st.integers(3, 7).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(1, n),
    st.lists(st.sampled_from(["approve", "reject", "abstain"]), max_size=n))))
def test_no_tally_passes_without_quorum_majority_and_two_approvals(case) -> None:
    members, quorum, votes = case
    result = tally(votes, members=members, quorum=quorum)
    if result.passes:
        assert len(votes) >= quorum
        assert 2 * votes.count("approve") > len(votes)
        assert votes.count("approve") >= MIN_APPROVALS
    rest = members - len(votes)
    final = {tally(votes + ["approve"] * rest, members, quorum).passes,
             tally(votes + ["reject"] * rest, members, quorum).passes}
    # A verdict before everyone voted is one the missing votes could not have changed.
    if result.verdict is not None:
        assert final == {result.verdict}
    else:
        assert final == {True, False}


# -- issue 15 item 6: every tie, officers with an organisation, and the risk gate ---------

FAILING_RISK = {**RISK, "k": 1, "prosecutor_risk_max": 1.0, "sample_uniques": 3,
                "records_at_risk": 3, "class_sizes": {"1": 3, "7": 1}}


def _take_out_with_co_researcher(cat: catalog.Catalog) -> str:
    from datetime import timedelta

    from catalog.coltypes import utcnow

    cat.record_organisation("uni-c", name="UNI-C", actor="root")
    cat.record_user("carol", role="researcher", organisation_id="uni-c", actor="root")
    for officer in ("po-c1", "po-c2"):
        cat.record_user(officer, role="privacy_officer", organisation_id="uni-c", actor="root")
    cat.create_request(
        "export-co", dataset_id="housing-combined", columns=["ssis__sido"],
        release_form="take_out", purpose="scientific_research", lawful_basis="PIPA 28-2",
        researchers=["alice", "carol"], setting="take-out", outputs="anonymised extract",
        ends_at=utcnow() + timedelta(days=30), actor="alice", project_id="housing-2026")
    cat.submit_request("export-co", actor="alice")
    cat.start_review("export-co", actor="po1")
    cat.attach_risk_report("export-co", RISK, actor="po1")
    return "export-co"


def test_officers_from_a_co_researchers_organisation_cannot_sit(
        cat: catalog.Catalog, people: dict) -> None:
    request_id = _take_out_with_co_researcher(cat)
    with pytest.raises(catalog.CatalogError,
                       match="'po-c1' belongs to 'uni-c', the organisation of researcher "
                             "'carol' \\(conflict of interest\\)"):
        cat.appoint_committee(request_id, ["po2", "po-c1", "po-c2"], actor="po1")
    assert cat.get_request(request_id).committee == []


def test_an_officer_without_an_organisation_cannot_sit(cat: catalog.Catalog,
                                                       take_out: str) -> None:
    cat.record_user("po-nowhere", role="privacy_officer", actor="root")
    with pytest.raises(catalog.CatalogError,
                       match="'po-nowhere' has no organisation, so their ties"):
        cat.appoint_committee(take_out, ["po2", "po3", "po-nowhere"], actor="po1")
    assert cat.get_request(take_out).committee == []


def test_take_out_approval_is_refused_while_the_risk_report_fails_the_thresholds(
        cat: catalog.Catalog, take_out: str) -> None:
    cat.attach_risk_report(take_out, FAILING_RISK, actor="po1")
    cat.appoint_committee(take_out, ["po2", "po3", "po4"], actor="po1")
    cat.vote(take_out, "approve", reason="fine", actor="po2")
    with pytest.raises(catalog.CatalogError,
                       match=r"fails the take-out thresholds: k = 1 < 5, prosecutor risk 1 > 0\.2"):
        cat.vote(take_out, "approve", reason="fine", actor="po3")
    assert cat.get_request(take_out).state == "under_review"
    # Anonymise further, attach the new measurement, and the same vote carries.
    cat.attach_risk_report(take_out, RISK, actor="po1")
    assert cat.vote(take_out, "approve", reason="k = 5 now", actor="po3").passes
    assert cat.get_request(take_out).state == "approved"


def test_a_failing_risk_report_cannot_be_approved_by_closing_the_vote(
        cat: catalog.Catalog, take_out: str) -> None:
    cat.appoint_committee(take_out, ["po2", "po3", "po4", "po5", "po6"], actor="po1")
    for member in ("po2", "po3", "po4"):
        cat.vote(take_out, "approve", reason="fine", actor=member)
    assert cat.get_request(take_out).state == "approved"  # a passing report: the control

    request_id = make_request(cat, "export-3", state="under_review", form="take_out")
    cat.attach_risk_report(request_id, FAILING_RISK, actor="po1")
    cat.appoint_committee(request_id, ["po2", "po3", "po4", "po5", "po6"], actor="po1")
    cat.vote(request_id, "approve", reason="fine", actor="po2")
    cat.vote(request_id, "approve", reason="fine", actor="po3")
    cat.vote(request_id, "reject", reason="k = 1", actor="po4")
    with pytest.raises(catalog.CatalogError, match="fails the take-out thresholds"):
        cat.close_committee(request_id, actor="po1")
    assert cat.get_request(request_id).state == "under_review"


def test_a_project_can_only_tighten_the_take_out_thresholds(cat: catalog.Catalog,
                                                            take_out: str) -> None:
    cat.record_project("housing-2026", purpose="scientific_research", mode="exact",
                       spec={"project": {"id": "housing-2026"},
                             "risk_thresholds": {"k": 10, "prosecutor_risk_max": 0.5}},
                       actor="agency")
    cat.appoint_committee(take_out, ["po2", "po3", "po4"], actor="po1")
    cat.vote(take_out, "approve", reason="fine", actor="po2")
    with pytest.raises(catalog.CatalogError, match=r"k = 5 < 10\b"):
        cat.vote(take_out, "approve", reason="fine", actor="po3")


def test_a_deployment_sets_its_own_take_out_thresholds(database_url: str, cat: catalog.Catalog,
                                                       take_out: str) -> None:
    strict = catalog.RiskThresholds(k=10, prosecutor_risk_max=0.1)
    with catalog.Catalog.connect(database_url, risk_thresholds=strict) as deployment:
        deployment.appoint_committee(take_out, ["po2", "po3", "po4"], actor="po1")
        deployment.vote(take_out, "approve", reason="fine", actor="po2")
        with pytest.raises(catalog.CatalogError,
                           match=r"k = 5 < 10, prosecutor risk 0\.2 > 0\.1"):
            deployment.vote(take_out, "approve", reason="fine", actor="po3")
    with pytest.raises(catalog.CatalogError, match="need k >= 2"):
        catalog.RiskThresholds(k=1)

"""The researcher portal's words, in Korean (the default) and English, in one table.

A label is translated in one place, so a page cannot mix languages. Times are shown in
Asia/Seoul, where every user of a Korean agency's portal lives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

LANGUAGES = ("ko", "en")
SEOUL = ZoneInfo("Asia/Seoul")

TEXT: dict[str, tuple[str, str]] = {
    "site": ("연구자 포털", "Researcher portal"),
    "login": ("로그인", "Log in"),
    "logout": ("로그아웃", "Log out"),
    "user": ("사용자 ID", "User"),
    "password": ("비밀번호", "Password"),
    "language": ("English", "한국어"),
    "nav_datasets": ("데이터 사전", "Data dictionary"),
    "nav_requests": ("나의 신청", "My requests"),
    "nav_new": ("새 신청", "New request"),
    "nav_access": ("나의 이용", "My access"),
    "search": ("검색", "Search"),
    "search_hint": ("데이터셋·열 이름·설명 검색", "Search datasets, columns, descriptions"),
    "no_datasets": ("일치하는 데이터셋이 없습니다.", "No dataset matches."),
    "column": ("열", "Column"),
    "classification": ("분류", "Classification"),
    "lineage": ("계보", "Lineage"),
    "approved_uses": ("승인된 이용", "Approved uses"),
    "none": ("없음", "None"),
    "request_this": ("이 데이터 이용 신청", "Request this dataset"),
    "request": ("신청", "Request"),
    "state": ("상태", "State"),
    "dataset": ("데이터셋", "Dataset"),
    "columns": ("열", "Columns"),
    "purpose": ("이용 목적", "Purpose"),
    "lawful_basis": ("법적 근거", "Lawful basis"),
    "justification": ("필요성", "Justification"),
    "researchers": ("공동 연구자 (쉼표로 구분한 ID)", "Co-researchers (ids, comma-separated)"),
    "people": ("연구자", "Researchers"),
    "setting": ("이용 환경", "Setting"),
    "outputs": ("반출 산출물", "Outputs"),
    "release_form": ("제공 형태", "Release form"),
    "starts": ("이용 시작일", "Starts"),
    "ends": ("이용 종료일", "Ends"),
    "updated": ("변경", "Updated"),
    "reasons": ("심사 의견", "Reviewers' reasons"),
    "state_reason": ("상태 사유", "Reason for the state"),
    "when": ("일시", "When"),
    "decision": ("결정", "Decision"),
    "reviewer": ("심사자", "Reviewer"),
    "reason": ("사유", "Reason"),
    "decision_approve": ("승인", "approve"),
    "decision_reject": ("반려", "reject"),
    "decision_abstain": ("기권", "abstain"),
    "no_requests": ("아직 신청이 없습니다.", "No requests yet."),
    "save_draft": ("초안 저장", "Save draft"),
    "submit": ("제출", "Submit"),
    "withdraw": ("철회 (초안으로)", "Withdraw (back to draft)"),
    "amend": ("수정", "Amend"),
    "renew": ("연장 신청", "Renew"),
    "renew_until": ("새 종료일", "New end date"),
    "new_title": ("이용 신청서 작성 (Five Safes)", "Draft a request (the Five Safes)"),
    "amend_title": ("신청서 수정", "Amend the request"),
    "choose_dataset": ("데이터 사전에서 데이터셋을 먼저 고르세요.",
                       "Choose a dataset in the data dictionary first."),
    "never_released": ("직접 식별자 (제공 불가)", "direct identifier (never released)"),
    "rooms": ("승인된 분석실", "Approved rooms"),
    "open_hub": ("분석실 열기", "Open the room"),
    "takeouts": ("반출 자료", "Take-outs"),
    "download": ("암호화 파일 내려받기", "Download the encrypted file"),
    "revoked": ("취소됨", "revoked"),
    "airlock": ("반출 심사함 (에어록)", "Airlock outbox"),
    "files": ("파일", "Files"),
    "officer_title": ("개인정보 보호 담당자이십니까?", "Are you a privacy officer?"),
    "officer_body": ("이 포털은 연구자용입니다. 심사는 담당자 콘솔에서 하세요.",
                     "This portal is for researchers. Review requests in the officers' "
                     "console."),
    "error": ("오류", "Error"),
    "done": ("처리되었습니다.", "Done."),
    "purpose_statistics": ("통계 작성", "Statistics"),
    "purpose_scientific_research": ("과학적 연구", "Scientific research"),
    "purpose_public_interest_archiving": ("공익적 기록 보존", "Public-interest archiving"),
    "form_secure_room": ("안전한 분석실", "Secure room"),
    "form_take_out": ("반출", "Take-out"),
    "form_dp_aggregate": ("차분 프라이버시 집계", "DP aggregates"),
    "form_synthetic": ("합성 데이터", "Synthetic data"),
    "state_draft": ("초안", "draft"),
    "state_submitted": ("제출됨", "submitted"),
    "state_under_review": ("심사 중", "under review"),
    "state_approved": ("승인", "approved"),
    "state_rejected": ("반려", "rejected"),
    "state_active": ("이용 중", "active"),
    "state_expired": ("만료", "expired"),
    "state_revoked": ("취소", "revoked"),
    "class_direct_identifier": ("직접 식별자", "Direct identifier"),
    "class_quasi_identifier": ("준식별자", "Quasi-identifier"),
    "class_sensitive": ("민감정보", "Sensitive"),
    "class_other": ("기타", "Other"),
}


def language(requested: str | None) -> str:
    """``en`` when asked for, else Korean.

    >>> language("en"), language(None), language("fr")
    ('en', 'ko', 'ko')
    """
    return requested if requested in LANGUAGES else "ko"


def word(key: str, lang: str) -> str:
    """The label ``key`` in ``lang``; an unknown key shows as itself."""
    pair = TEXT.get(key)
    return key if pair is None else pair[LANGUAGES.index(lang)]


def label(prefix: str, value: str, lang: str) -> str:
    """A person's word for a code (a state, a form), else the code itself."""
    return word(f"{prefix}_{value}", lang) if f"{prefix}_{value}" in TEXT else value


def last_day(moment: datetime | None) -> str:
    """The last day of a period that ends at ``moment`` (an end at midnight is the day before).

    >>> from datetime import UTC
    >>> last_day(datetime(2026, 12, 31, 15, 0, tzinfo=UTC))  # 2027-01-01 00:00 KST
    '2026-12-31'
    """
    return "-" if moment is None else seoul(moment - timedelta(microseconds=1), with_time=False)


def seoul(moment: datetime | None, *, with_time: bool = True) -> str:
    """A moment as people in Korea read it.

    >>> from datetime import UTC
    >>> seoul(datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    '2026-03-02 00:30 KST'
    """
    if moment is None:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))  # the catalog keeps UTC
    return moment.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M KST" if with_time
                                             else "%Y-%m-%d")

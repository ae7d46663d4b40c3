"""Words of the room's Airlock page, in Korean (the default) and English.

The room cannot read the project's environment, so this is stdlib only and copied into
the room with the rest of ``pseudolink_room``. Researchers switch with ``?lang=en`` or
``?lang=ko``; the choice is kept in a cookie for the next visit.
"""

from __future__ import annotations

LANGUAGES = ("ko", "en")
DEFAULT = "ko"
COOKIE = "pseudolink_lang"

TEXT: dict[str, dict[str, str]] = {
    "ko": {
        "title": "반출 신청 (Airlock)",
        "heading": "반출 신청: 분석 결과를 분석실 밖으로",
        "intro": "반출하려는 <code>outputs/</code>의 파일을 고르고, 결과가 무엇을 보여주는지와 "
                 "적용한 공개 통제를 적어 주세요. 자동 점검이 바로 실행되고, 이어 두 명의 "
                 "반출 심사자가 결정합니다. 터미널의 <code>pseudolink airlock request</code>와 "
                 "같습니다.",
        "file": "outputs/의 파일",
        "size": "크기",
        "bytes": "바이트",
        "no_files": "outputs/에 아직 파일이 없습니다",
        "context": "결과가 보여주는 것과 필요한 이유",
        "controls": "적용한 공개 통제 (예: 10 미만 셀 억제, 반올림)",
        "submit": "반출 신청",
        "yours": "내 신청",
        "none": "아직 없습니다.",
        "waiting": "신청 {ticket}: 자동 점검을 기다리는 중...",
        "not_filed": "신청 {ticket}은(는) 접수되지 않았습니다: {error}",
        "tick_one": "outputs/의 파일을 하나 이상 고르세요",
        "checks": "자동 점검",
        "checkers": "심사자",
        "held": "보류",
        "ok": "통과",
        "looks": " (심사자가 확인)",
        "controls_label": "공개 통제:",
        "switch": "English",
        "state.submitted": "제출됨",
        "state.returned": "보완 요청",
        "state.approved": "승인",
        "state.rejected": "거절",
        "state.released": "반출됨",
        "state.withdrawn": "철회",
    },
    "en": {
        "title": "Airlock",
        "heading": "Airlock: ask for results to leave the room",
        "intro": "Tick the files of <code>outputs/</code> you want released, say what they show "
                 "and which disclosure controls you applied. The automatic checks run at once; "
                 "then two output checkers decide. The same as "
                 "<code>pseudolink airlock request</code> in a terminal.",
        "file": "file in outputs/",
        "size": "size",
        "bytes": "bytes",
        "no_files": "outputs/ has no files yet",
        "context": "What the outputs show and why they are needed",
        "controls": "Disclosure controls applied",
        "submit": "Ask for release",
        "yours": "Your requests",
        "none": "None yet.",
        "waiting": "Ticket {ticket}: waiting for the automatic checks...",
        "not_filed": "Ticket {ticket} was not filed: {error}",
        "tick_one": "tick at least one file of outputs/",
        "checks": "automatic checks",
        "checkers": "checkers",
        "held": "HELD",
        "ok": "ok",
        "looks": " (a checker looks at it)",
        "controls_label": "controls:",
        "switch": "한국어",
        "state.submitted": "submitted",
        "state.returned": "returned",
        "state.approved": "approved",
        "state.rejected": "rejected",
        "state.released": "released",
        "state.withdrawn": "withdrawn",
    },
}


def choose(query: str | None, cookie: str | None) -> str:
    """The page's language: the query's if valid, else the cookie's, else Korean."""
    for wanted in (query, cookie):
        if wanted in LANGUAGES:
            return wanted
    return DEFAULT


def words(lang: str) -> dict[str, str]:
    """The text table for ``lang`` (Korean for anything unknown)."""
    return TEXT.get(lang, TEXT[DEFAULT])


def other(lang: str) -> str:
    """The language the switch link leads to."""
    return "en" if lang == "ko" else "ko"

"""Every word the console shows, in Korean and English: ``TEXT[key] = (ko, en)``.

Korean is the default because the officers are Korean; English serves foreign auditors
and the project's own docs. One table, so a missing translation is a KeyError in the
tests, never an English phrase left on a Korean screen. Error messages raised by the
catalog itself stay in English (they are also the CLI's and the audit log's words).
"""

from __future__ import annotations

import os

LANGUAGES = {"ko": "한국어", "en": "English"}

TEXT: dict[str, tuple[str, str]] = {
    # login and frame
    "title": ("개인정보 보호책임자 콘솔", "Privacy officers' console"),
    "language": ("언어 / Language", "언어 / Language"),
    "user": ("사용자 ID", "User"),
    "password": ("비밀번호", "Password"),
    "log_in": ("로그인", "Log in"),
    "log_out": ("로그아웃", "Log out"),
    "bad_credentials": ("사용자 ID 또는 비밀번호가 올바르지 않습니다.",
                        "Unknown user or wrong password."),
    "role_refused": ("{role} 역할은 콘솔을 사용할 수 없습니다.",
                     "Role {role} may not use the console."),
    "logged_out": ("로그아웃되었습니다: {reason}", "Logged out: {reason}"),
    "logged_in_as": ("**{user}** 님으로 로그인", "Logged in as **{user}**"),
    "page": ("화면", "Page"),
    "page_queue": ("심사 대기열", "Review queue"),
    "page_decided": ("결정·제공·만료", "Decisions and releases"),
    "page_budgets": ("프라이버시 예산", "Budgets"),
    "page_audit": ("감사 기록", "Audit trail"),
    "no_database": ("PSEUDOLINK_DATABASE_URL을 설정하세요 (pseudolink serve console이 설정합니다).",
                    "Set PSEUDOLINK_DATABASE_URL (pseudolink serve console does)."),
    # review queue and request detail
    "nothing_waits": ("심사를 기다리는 요청이 없습니다.", "Nothing awaits review."),
    "request": ("요청", "Request"),
    "request_heading": ("요청 {id} — {state}", "Request {id} — {state}"),
    "project": ("프로젝트", "Project"),
    "lawful_basis": ("법적 근거", "Lawful basis"),
    "people": ("이용자", "People"),
    "setting": ("이용 환경", "Setting"),
    "data": ("데이터", "Data"),
    "outputs": ("산출물", "Outputs"),
    "period": ("이용 기간", "Period"),
    "until": ("{date}까지", "until {date}"),
    "no_organisation": ("소속 기관 없음", "no organisation"),
    "start_review": ("심사 시작", "Start review"),
    "compute_risk": ("재식별 위험 보고서 계산", "Compute risk report"),
    "risk_report": ("재식별 위험 보고서", "Risk report"),
    "class_sizes_caption": ("동질집합 크기별 집합 수 (빨강: k 기준 미달)",
                            "Equivalence-class sizes (classes per size; red: below k)"),
    "risk_caption": ("레코드별 재식별 위험 (기준 ≤ {limit:g}; 빨강: 초과)",
                     "Risk per record (threshold ≤ {limit:g}; red: above)"),
    "thresholds_met": ("위험 기준 충족: k-익명성 ≥ {k}, 최대 재식별 위험 ≤ {risk:g}.",
                       "Risk thresholds met: k-anonymity ≥ {k}, highest re-identification "
                       "risk ≤ {risk:g}."),
    "fail_k": ("k-익명성 {value} < {limit} (기준: k ≥ {limit})",
               "k-anonymity {value} < {limit} (rule: k ≥ {limit})"),
    "fail_risk": ("최대 재식별 위험 {value} > {limit:g} (기준: ≤ {limit:g})",
                  "highest re-identification risk {value} > {limit:g} (rule: ≤ {limit:g})"),
    "fails_heading": ("위험 기준 미달: {failures}", "Fails the risk thresholds: {failures}"),
    "reason": ("결정 사유", "Reason for the decision"),
    "approve": ("승인", "Approve"),
    "approve_despite": ("기준 미달인데 승인: {failures}", "Approve despite: {failures}"),
    "reject": ("반려", "Reject"),
    "flash_approved": ("요청 {id}을(를) 승인했습니다.", "Request {id} approved."),
    "flash_rejected": ("요청 {id}을(를) 반려했습니다.", "Request {id} rejected."),
    # committee (반출)
    "committee": ("반출 심의위원회", "Release review committee (반출)"),
    "members_pick": ("위원 (3~7명, 이용자 소속 기관 제외)",
                     "Members (3 to 7, none from any researcher's organisation)"),
    "appoint": ("위원회 구성", "Appoint committee"),
    "flash_appointed": ("요청 {id}의 위원회 {n}명을 구성했습니다.",
                        "Committee of {n} appointed for request {id}."),
    "no_committee": ("아직 위원회가 없습니다: 보호책임자가 구성합니다.",
                     "No committee yet: an officer appoints one."),
    "members": ("위원: {members}; 의결 정족수 {quorum}", "Members: {members}; quorum {quorum}"),
    "your_vote": ("내 투표", "Your vote"),
    "vote_reason": ("투표 사유", "Reason for your vote"),
    "cast_vote": ("투표하기", "Cast vote"),
    "flash_voted": ("투표를 기록했습니다: {vote}.", "Vote recorded: {vote}."),
    "close_vote": ("투표 종료", "Close the vote"),
    # decisions and releases
    "decided_heading": ("결정, 제공, 만료", "Decisions, releases and expiry"),
    "manage": ("이용 개시 또는 취소", "Activate or revoke access"),
    "activate": ("이용 개시", "Activate access"),
    "flash_active": ("요청 {id}의 이용이 개시되었습니다.", "Request {id} is active."),
    "revoke_reason": ("이용 취소 사유", "Reason for revoking access"),
    "revoke_access": ("이용 취소", "Revoke access"),
    "flash_revoked": ("요청 {id}의 이용을 취소했습니다.", "Request {id} revoked."),
    "open_releases": ("유효한 제공 건", "Open releases"),
    "release": ("제공 건", "Release"),
    "revoke_release_reason": ("제공 취소 사유", "Reason for revoking the release"),
    "revoke_release": ("제공 취소", "Revoke release"),
    "flash_release_revoked": ("제공 건 {id}을(를) 취소했습니다.", "Release {id} revoked."),
    # budgets
    "budgets_heading": ("프라이버시 예산 (ε)", "Privacy budgets"),
    "budget": ("예산", "Budget"),
    "spend_caption": ("시간에 따른 ε 사용 (KST)", "Epsilon spent over time (KST)"),
    # project timeline
    "page_timeline": ("프로젝트 진행 기록", "Project timeline"),
    "no_timeline": ("아직 기록된 결합 단계나 교환 이벤트가 없습니다.",
                    "No linkage stage or exchange event recorded yet."),
    # audit
    "audit_heading": ("감사 기록", "Audit trail"),
    "verify": ("해시 체인 검증", "Verify the hash chain"),
    "chain_ok": ("해시 체인 일관: 항목 {n}개, 모든 연결이 유지됩니다. 서명된 체크포인트와 "
                 "대조하는 `pseudolink audit verify`만이 기록이 온전하다고 판정할 수 있습니다.",
                 "Hash chain consistent: {n} entries, every link holds. Only `pseudolink "
                 "audit verify`, against the signed checkpoints, can call the log intact."),
    "chain_broken": ("감사 기록 손상: 문제 {n}건.", "Audit log BROKEN: {n} problem(s)."),
    "filter_actor": ("행위자", "Actor"),
    "filter_action": ("작업", "Action"),
    "filter_dates": ("기간 (KST)", "Dates (KST)"),
    "audit_shown": ("조건에 맞는 항목 {n}개 중 최근 {shown}개 표시 (최신순).",
                    "{shown} newest of {n} matching entries (newest first)."),
    "export_csv": ("CSV 내보내기 (Excel용 UTF-8)", "Export CSV (UTF-8 for Excel)"),
}

#: Column labels: the tables keep their machine names, the screen and CSV show these.
COLUMNS: dict[str, tuple[str, str]] = {
    "records": ("레코드 수", "Records"),
    "classes": ("동질집합 수", "Classes"),
    "k": ("k-익명성", "k-anonymity"),
    "sample_uniques": ("표본 유일 레코드", "Sample uniques"),
    "records_at_risk": ("위험 레코드 수", "Records at risk"),
    "prosecutor_risk_max": ("최대 재식별 위험", "Highest re-identification risk"),
    "prosecutor_risk_avg": ("평균 재식별 위험", "Average re-identification risk"),
    "l_distinct": ("l-다양성", "l-diversity"),
    "t_closeness": ("t-근접성", "t-closeness"),
    "class size": ("동질집합 크기", "class size"),
    "risk": ("재식별 위험", "risk"),
    "above threshold": ("기준 초과", "Above threshold"),
    "request": ("요청", "Request"),
    "state": ("상태", "State"),
    "form": ("제공 형태", "Form"),
    "dataset": ("데이터셋", "Dataset"),
    "requester": ("신청자", "Requester"),
    "organisation": ("기관", "Organisation"),
    "ends": ("종료일", "Ends"),
    "reason": ("사유", "Reason"),
    "release": ("제공 건", "Release"),
    "title": ("제목", "Title"),
    "expires": ("만료 (KST)", "Expires (KST)"),
    "days left": ("남은 일수", "Days left"),
    "consumer": ("이용자", "Consumer"),
    "total": ("총 ε", "Total ε"),
    "spent": ("사용한 ε", "Spent ε"),
    "remaining": ("남은 ε", "Remaining ε"),
    "time": ("시각 (KST)", "time"),
    "epsilon": ("ε", "ε"),
    "seq": ("순번", "Seq"),
    "ts": ("시각 (KST)", "Time (KST)"),
    "actor": ("행위자", "Actor"),
    "action": ("작업", "Action"),
    "target": ("대상", "Target"),
    "details": ("세부 내용", "Details"),
    "party or person": ("당사자 또는 사용자", "party or person"),
    "event": ("이벤트", "event"),
    "kind or task": ("종류 또는 작업", "kind or task"),
    "detail": ("세부", "detail"),
    "reviewer": ("위원", "Reviewer"),
    "vote": ("투표", "Vote"),
    "at": ("시각 (KST)", "At (KST)"),
}

STATES: dict[str, tuple[str, str]] = {
    "draft": ("초안", "draft"), "submitted": ("제출됨", "submitted"),
    "under_review": ("심사 중", "under_review"), "approved": ("승인됨", "approved"),
    "rejected": ("반려됨", "rejected"), "active": ("이용 중", "active"),
    "expired": ("만료됨", "expired"), "revoked": ("취소됨", "revoked"),
}

#: The project timeline's events: a stage a party ran, or what happened at the exchange
#: (audit actions without their ``stage.``/``exchange.`` prefix).
EVENTS: dict[str, tuple[str, str]] = {
    "create": ("프로젝트 생성", "project created"),
    "accept": ("프로젝트 수락", "project accepted"),
    "prepare": ("결합키·속성 파일 준비", "keys and payload prepared"),
    "precheck": ("사전 점검", "prechecked"),
    "link": ("결합키 연계", "linked"),
    "review": ("검토 목록 처리", "clerical review"),
    "combine": ("결합", "combined"),
    "setup.accepted": ("수락서·키 조각 접수", "acceptance and key share received"),
    "setup.refused": ("수락서 거부", "acceptance refused"),
    "setup.download": ("프로젝트 설정 수령", "project setup fetched"),
    "upload.accepted": ("파일 접수", "file received"),
    "upload.duplicate": ("이미 접수된 파일", "file already held"),
    "upload.refused": ("파일 접수 거부", "upload refused"),
    "download": ("파일 수령", "file handed over"),
    "download.refused": ("파일 수령 거부", "download refused"),
    "refused": ("요청 거부", "request refused"),
    "job.deferred": ("작업 대기", "job queued"),
    "job.started": ("작업 시작", "job started"),
    "job.succeeded": ("작업 완료", "job done"),
    "job.failed": ("작업 실패", "job failed"),
    "job.todo": ("작업 재시도 대기", "job to retry"),
    "job.requeued": ("작업 재배정", "job put back"),
    "job.refused": ("작업 요청 거부", "job request refused"),
}

VOTES: dict[str, tuple[str, str]] = {
    "approve": ("찬성", "approve"), "reject": ("반대", "reject"), "abstain": ("기권", "abstain"),
}


def default_language() -> str:
    """``PSEUDOLINK_CONSOLE_LANGUAGE`` (``ko`` or ``en``), Korean when unset."""
    chosen = os.environ.get("PSEUDOLINK_CONSOLE_LANGUAGE", "ko").strip().lower()
    return chosen if chosen in LANGUAGES else "ko"


def say(key: str, lang: str, **values: object) -> str:
    """One phrase in ``lang``, filled in.

    >>> say("flash_approved", "ko", id="r1")
    '요청 r1을(를) 승인했습니다.'
    """
    ko, en = TEXT[key]
    return (ko if lang == "ko" else en).format(**values)


def column(name: str, lang: str) -> str:
    """A column's human label (its machine name when it has none).

    >>> column("prosecutor_risk_max", "ko"), column("k", "en")
    ('최대 재식별 위험', 'k-anonymity')
    """
    ko, en = COLUMNS.get(name, (name, name))
    return ko if lang == "ko" else en


def event(name: str, lang: str) -> str:
    """A timeline event in ``lang`` (its machine name when it has no label).

    >>> event("upload.accepted", "ko"), event("job.requeued", "en"), event("odd", "ko")
    ('파일 접수', 'job put back', 'odd')
    """
    ko, en = EVENTS.get(name, (name, name))
    return ko if lang == "ko" else en


def state(name: str, lang: str) -> str:
    ko, en = STATES.get(name, (name, name))
    return ko if lang == "ko" else en

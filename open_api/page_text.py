"""The words on the pages people read, in Korean (the default) and English.

One table, so a label is translated in one place and a page cannot mix languages. Times are
shown in Asia/Seoul, the time every user of a Korean agency's portal lives in.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("ko", "en")
SEOUL = ZoneInfo("Asia/Seoul")

TEXT: dict[str, tuple[str, str]] = {
    "site_title": ("공개 데이터", "Open data"),
    "site_lead": ("가명정보 결합 후 심사를 거쳐 공개된 데이터입니다.",
                  "Datasets released from pseudonymised data after review."),
    "api_docs": ("API 설명서", "API documentation"),
    "no_datasets": ("아직 공개된 데이터가 없습니다.", "No datasets are published yet."),
    "dataset": ("데이터셋", "Dataset"),
    "form": ("공개 형태", "Release form"),
    "released": ("공개일", "Released"),
    "expires": ("공개 종료", "Available until"),
    "licence": ("이용 조건", "Licence"),
    "rows": ("행 수", "Rows"),
    "parameters": ("공개 조건", "Release parameters"),
    "columns": ("열", "Columns"),
    "column": ("열 이름", "Column"),
    "type": ("자료형", "Type"),
    "classification": ("분류", "Classification"),
    "preview": ("미리보기 (처음 {n}행)", "Preview (first {n} rows)"),
    "downloads": ("내려받기", "Downloads"),
    "csv_excel": ("CSV (엑셀용, BOM 포함)", "CSV for Excel (with BOM)"),
    "csv_utf8": ("CSV (UTF-8)", "CSV (UTF-8)"),
    "parquet": ("Parquet", "Parquet"),
    "datapackage": ("Data Package (JSON)", "Data Package (JSON)"),
    "dcat": ("DCAT 메타데이터 (JSON-LD, Turtle)", "DCAT metadata (JSON-LD, Turtle)"),
    "rows_api": ("행 API (JSON)", "Rows API (JSON)"),
    "checksum": ("SHA-256 체크섬", "SHA-256 checksum"),
    "details": ("자세히", "Details"),
    "all_datasets": ("전체 목록", "All datasets"),
    "language": ("English", "한국어"),
    "form_dp_aggregate": ("차분 프라이버시 집계표", "Differentially private aggregate"),
    "form_synthetic": ("합성 데이터", "Synthetic microdata"),
    "form_aggregate": ("승인된 집계표", "Approved aggregate"),
    "param_epsilon": ("프라이버시 예산 ε", "Privacy budget ε"),
    "param_delta": ("δ", "δ"),
    "param_synthesizer": ("합성 모델", "Synthesizer"),
    "param_quality": ("품질 점수", "Quality score"),
    "param_rows": ("합성 행 수", "Synthetic rows"),
    "param_dropped_columns": ("제외한 열", "Columns left out"),
    "param_constraints": ("지킨 제약", "Constraints kept"),
    "param_mechanism": ("잡음 메커니즘", "Noise mechanism"),
    "param_accuracy_95": ("95% 정확도 (±)", "Accuracy at 95% (±)"),
    "param_confidence": ("신뢰 수준", "Confidence"),
    "param_privacy": ("프라이버시 보장", "Privacy guarantee"),
    "param_noise_scale": ("잡음 척도", "Noise scale"),
    "param_statistic": ("통계량", "Statistic"),
    "param_column": ("대상 열", "Column"),
    "param_cells": ("셀 수", "Cells"),
    "param_privacy_unit": ("보호 단위", "Privacy unit"),
    "param_max_contributions": ("단위당 최대 기여", "Contributions per unit, at most"),
    "param_consumer": ("예산 소비자", "Budget consumer"),
    "param_clamping_bounds": ("값 제한 범위", "Clamping bounds"),
    "param_dimensions": ("차원", "Dimensions"),
    "param_k": ("k-익명성", "k-anonymity"),
    "class_quasi_identifier": ("준식별자", "Quasi-identifier"),
    "class_sensitive": ("민감정보", "Sensitive"),
    "class_other": ("기타", "Other"),
    "class_direct_identifier": ("직접 식별자", "Direct identifier"),
}


def language(requested: str | None) -> str:
    """The page's language: ``en`` when asked for, else Korean.

    >>> language("en"), language(None), language("fr")
    ('en', 'ko', 'ko')
    """
    return requested if requested in LANGUAGES else "ko"


def word(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang``; an unknown key shows as itself (never a crash)."""
    pair = TEXT.get(key)
    text = key if pair is None else pair[LANGUAGES.index(lang)]
    return text.format(**values) if values else text


def label(prefix: str, value: str, lang: str) -> str:
    """A human label for a code (a release form, a classification), else the code."""
    return word(f"{prefix}_{value}", lang) if f"{prefix}_{value}" in TEXT else value


def seoul_time(moment: datetime, *, with_time: bool = True) -> str:
    """A moment as people in Korea read it: KST, to the minute.

    >>> from datetime import UTC
    >>> seoul_time(datetime(2026, 3, 1, 15, 30, 12, 99, tzinfo=UTC))
    '2026-03-02 00:30 KST'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))  # the catalog keeps UTC
    local = moment.astimezone(SEOUL)
    return local.strftime("%Y-%m-%d %H:%M KST" if with_time else "%Y-%m-%d")

"""Korean names: surnames at their census frequencies, given names by sex and generation.

Names are kept as code-point matrices (see :mod:`codepoints`) so that typos can be made at the
level of jamo (a vowel or a final consonant), the way Korean names are actually misspelt.
"""

from __future__ import annotations

import numpy as np

# Share of the population per surname (per mille), from the 2015 census; the tail is cut off.
SURNAMES: dict[str, float] = {
    "김": 215, "이": 147, "박": 84, "최": 47, "정": 43, "강": 24, "조": 21, "윤": 21, "장": 20,
    "임": 17, "한": 15, "오": 15, "서": 15, "신": 15, "권": 14, "황": 14, "안": 14, "송": 14,
    "전": 11, "홍": 11, "유": 11, "고": 9, "문": 9, "양": 9, "손": 9, "배": 8, "백": 7, "허": 6,
    "남": 5, "심": 5, "노": 4, "하": 4, "곽": 4, "성": 4, "차": 4, "주": 4, "우": 4, "구": 4,
    "민": 3, "류": 3, "나": 3, "진": 3, "지": 3, "엄": 3, "채": 3, "원": 3, "천": 2, "방": 2,
    "공": 2, "현": 2, "함": 2, "변": 2, "염": 2, "여": 2, "추": 1, "도": 1, "소": 1, "석": 1,
    "선": 1, "설": 1, "마": 1, "길": 1, "연": 1, "위": 1, "표": 1, "명": 1, "기": 1, "반": 1,
    "남궁": 0.4, "황보": 0.2, "제갈": 0.1, "선우": 0.1, "독고": 0.05, "사공": 0.05,
}


def _table(text: str) -> dict[str, float]:
    pairs = (item.split(":") for item in text.split())
    return {syllable: float(weight) for syllable, weight in pairs}


# Given-name syllables (first, second) with weights, for people born before 1980 ("old") and
# after; fashions changed enough that 영숙 and 서윤 should not share a generation.
GIVEN: dict[tuple[str, str], tuple[dict[str, float], dict[str, float]]] = {
    ("M", "old"): (
        _table("영:8 정:6 성:8 상:6 동:5 광:4 재:5 종:5 병:4 진:4 경:4 용:4 명:4 기:4 철:3 "
               "창:3 승:3 춘:2 만:2 태:3 대:3 석:2"),
        _table("수:8 호:8 철:6 식:6 진:4 석:5 환:5 기:5 민:3 영:4 훈:4 일:4 규:3 근:3 남:3 "
               "길:2 섭:2 순:2 우:3 현:3"),
    ),
    ("M", "young"): (
        _table("민:12 준:8 서:6 지:8 도:5 현:6 시:4 우:4 예:3 하:3 주:4 건:3 유:3 승:5 재:5 "
               "태:3 성:5 동:3 진:3 영:2 상:2 정:3 은:2 윤:2 한:2"),
        _table("준:12 우:8 민:6 호:6 진:5 현:8 서:4 빈:4 원:5 혁:4 훈:5 수:5 규:3 석:3 환:3 "
               "율:2 윤:3 찬:3 영:2 기:2"),
    ),
    ("F", "old"): (
        _table("영:8 정:6 미:6 순:6 경:6 명:4 숙:2 혜:4 은:4 선:4 옥:3 춘:2 말:2 복:2 금:3 "
               "현:3 희:2 인:3 연:2"),
        _table("자:8 숙:10 희:10 순:6 영:6 미:5 옥:4 란:3 애:3 주:4 선:4 경:5 정:4 화:4 남:2 "
               "례:2 연:3 임:2 실:2 녀:2"),
    ),
    ("F", "young"): (
        _table("서:10 지:10 하:6 수:6 민:6 예:5 유:5 윤:5 채:4 다:3 은:6 소:4 아:3 혜:4 현:3 "
               "가:3 나:2 주:2 연:2 시:3"),
        _table("연:10 윤:8 은:6 아:6 원:5 민:5 진:5 서:4 현:5 희:3 빈:3 영:3 린:3 율:2 인:3 "
               "지:4 정:3 경:2 우:2 하:3"),
    ),
}
# The long tail every list shares, each syllable rare: without it too many people would share
# a name, birth date and sex, and the name+dob+sex recipe would be ambiguous at scale.
TAIL = tuple(
    "가강건겸경고관교구국권규균근금기길나남노늘단담대덕도돈동두라란람래량려련렬로록룡"
    "루륜률리린림만명모무문미민배백범병보복봉부비빈사산삼상새샘서석선설섭성세소솔송수"
    "숙순승시식신실심아안애양언엽영예오옥완요용우욱운웅원월위유윤율은을의이익인일임자"
    "장재전정제조종주준중지진찬창채천철청초춘충치태택필하한해행향혁현형혜호홍화환황효"
    "후훈휘희"
)
TAIL_WEIGHT = 0.2
GENERATION_SPLIT = 1980
# Given-name length 1, 2 or 3 syllables.
GIVEN_LENGTHS = (0.04, 0.95, 0.01)
WIDTH = 5  # at most 2 syllables of surname and 3 of given name

HANGUL_BASE = 0xAC00
# Confusable vowels per vowel index (ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ):
# ㅐ/ㅔ, ㅓ/ㅗ, ㅜ/ㅡ, ...
VOWEL_SWAPS = np.array([
    (4, 1), (5, 0), (6, 3), (7, 2), (8, 0), (1, 4), (12, 7), (3, 6), (4, 13), (14, 0), (11, 15),
    (10, 15), (6, 17), (18, 8), (9, 13), (10, 11), (19, 13), (12, 13), (13, 20), (20, 18),
    (19, 18),
])
# Confusable finals per final index (none, ㄱ ㄲ ㄳ ㄴ ㄵ ㄶ ㄷ ㄹ ㄺ ㄻ ㄼ ㄽ ㄾ ㄿ ㅀ ㅁ ㅂ ㅄ
# ㅅ ㅆ ㅇ ㅈ ㅊ ㅋ ㅌ ㅍ ㅎ): a final added, dropped, or swapped for a sound-alike (ㄴ/ㅇ/ㅁ).
FINAL_SWAPS = np.zeros((28, 2), dtype=np.int64)
for _final, _swaps in {0: (21, 4), 1: (21, 0), 4: (21, 16), 8: (0, 4), 16: (4, 17), 17: (16, 0),
                       19: (7, 0), 21: (4, 0), 7: (19, 0)}.items():
    FINAL_SWAPS[_final] = _swaps


def _codes(words: list[str], width: int) -> np.ndarray:
    table = np.zeros((len(words), width), dtype=np.uint32)
    for row, word in enumerate(words):
        table[row, : len(word)] = [ord(ch) for ch in word]
    return table


def _draw(rng: np.random.Generator, table: dict[str, float], size: int) -> np.ndarray:
    table = {**dict.fromkeys(TAIL, TAIL_WEIGHT), **table}
    weights = np.array(list(table.values()))
    picks = rng.choice(len(table), size=size, p=weights / weights.sum())
    return _codes(list(table), 1)[picks, 0]


def sample_names(rng: np.random.Generator, male: np.ndarray, birth_year: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Names as a ``(n, WIDTH)`` code-point matrix, and each surname's length in syllables."""
    n = len(male)
    surnames = list(SURNAMES)
    weights = np.array(list(SURNAMES.values()))
    pick = rng.choice(len(surnames), size=n, p=weights / weights.sum())
    names = np.zeros((n, WIDTH), dtype=np.uint32)
    names[:, :2] = _codes(surnames, 2)[pick]
    surname_len = (names[:, 1] != 0).astype(np.int64) + 1
    length = rng.choice(3, size=n, p=GIVEN_LENGTHS) + 1
    given = np.zeros((n, 3), dtype=np.uint32)
    for (sex, generation), (first, second) in GIVEN.items():
        group = (male == (sex == "M")) & ((birth_year < GENERATION_SPLIT) == (generation == "old"))
        size = int(group.sum())
        a, b, c = _draw(rng, first, size), _draw(rng, second, size), _draw(rng, first, size)
        lengths = length[group]
        # One-syllable names take a second-position syllable (철, 숙);
        # three-syllable ones take first + first + second.
        given[group] = np.where(lengths[:, None] == 1, np.stack([b, 0 * b, 0 * b], axis=1),
                                np.where(lengths[:, None] == 2, np.stack([a, b, 0 * b], axis=1),
                                         np.stack([a, c, b], axis=1)))
    rows = np.arange(n)
    for k in range(3):
        names[rows, surname_len + k] = given[:, k]
    return names, surname_len


def with_space(names: np.ndarray, surname_len: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Names written "김 철수" where ``mask`` holds (a formatting habit, not an error)."""
    out = np.zeros((len(names), WIDTH + 1), dtype=np.uint32)
    cols = np.arange(WIDTH + 1)[None, :]
    shift = (mask[:, None] & (cols > surname_len[:, None])).astype(np.int64)
    source = np.clip(cols - shift, 0, WIDTH - 1)
    out[:] = np.take_along_axis(names, source, axis=1)
    out[mask, :] = np.where(cols[0] == surname_len[mask, None], ord(" "), out[mask, :])
    out[:, WIDTH][~mask] = 0
    return out


def jamo_typo(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    """One syllable per name with its vowel or its final consonant changed (조 -> 저, 민 -> 밍)."""
    names = names.copy()
    n = len(names)
    length = (names != 0).sum(axis=1)
    pos = np.minimum((rng.random(n) * length).astype(np.int64), length - 1)
    rows = np.arange(n)
    s = names[rows, pos].astype(np.int64) - HANGUL_BASE
    lead, vowel, final = s // 588, s // 28 % 21, s % 28
    choice = rng.integers(0, 2, size=n)
    change_vowel = rng.random(n) < 0.5
    new_vowel = np.where(change_vowel, VOWEL_SWAPS[vowel, choice], vowel)
    new_final = np.where(change_vowel, final, FINAL_SWAPS[final, choice])
    # A final with no listed confusion may map to itself: then change the vowel instead.
    same = (new_vowel == vowel) & (new_final == final)
    new_vowel = np.where(same, VOWEL_SWAPS[vowel, 0], new_vowel)
    names[rows, pos] = HANGUL_BASE + lead * 588 + new_vowel * 28 + new_final
    return names


def swap_given(names: np.ndarray, surname_len: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first two given-name syllables swapped (철수 -> 수철), and where that changed a name."""
    names = names.copy()
    rows = np.arange(len(names))
    first = names[rows, surname_len]
    second = names[rows, np.minimum(surname_len + 1, WIDTH - 1)]
    changed = (second != 0) & (first != second)
    names[rows[changed], surname_len[changed]] = second[changed]
    names[rows[changed], surname_len[changed] + 1] = first[changed]
    return names, changed

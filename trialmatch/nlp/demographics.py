"""Age and sex as a note states them ("52-year-old woman", "Age: 64", "Sex: F").

Used only where the case file does not give them: a plain-text note given as the case, or a
case file that leaves them out. The case file's own values always win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trialmatch.regex_cache import re_compile

# The oldest documented human lived 122 years; anything above is a misread number.
_MAX_AGE = 120

_SEX_WORDS = {
    "woman": "female", "female": "female", "lady": "female", "girl": "female", "f": "female",
    "man": "male", "male": "male", "gentleman": "male", "boy": "male", "m": "male",
}

_AGE_PHRASE = re_compile(
    r"\b(?P<age>\d{1,3})[- ]?(?:year|yr)s?[- ]?old\b"
    r"(?:\s+(?:[\w-]+\s+){0,2}?(?P<sex>woman|man|female|male|lady|gentleman|girl|boy)\b)?",
    re.IGNORECASE,
)
_AGE_SHORT = re_compile(
    r"\b(?P<age>\d{1,3})\s?(?:y/?o|yo|y\.o\.)(?:\s+(?P<sex>[MF]|male|female|man|woman)\b)?",
    re.IGNORECASE,
)
_AGE_FIELD = re_compile(r"\b(?:age|patient age)\s*[:=]\s*(?P<age>\d{1,3})\b(?!\s*(?:%|mm|cm))",
                        re.IGNORECASE)
_SEX_FIELD = re_compile(r"\b(?:sex|gender)\s*[:=]\s*(?P<sex>female|male|f|m)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Demographics:
    """Age in years and sex ("female" | "male") with the words that state them."""

    age: int | None = None
    sex: str | None = None
    age_evidence: str | None = None
    sex_evidence: str | None = None


def find_demographics(text: str) -> Demographics:
    """The first plausible age and sex a note states; None where it states none.

    Only explicit statements count: an age with "year-old", "y/o" or an "Age:" field, and a
    sex in a "Sex:"/"Gender:" field or right after the age ("61-year-old woman").
    """
    age = sex = age_evidence = sex_evidence = None
    for pattern in (_AGE_FIELD, _AGE_PHRASE, _AGE_SHORT):
        for found in pattern.finditer(text):
            value = int(found.group("age"))
            if not 0 < value <= _MAX_AGE:
                continue
            if age is None:
                age, age_evidence = value, found.group(0)
            word = found.groupdict().get("sex")
            if sex is None and word:
                sex, sex_evidence = _SEX_WORDS[word.lower()], found.group(0)
            break
    if sex is None:
        found = _SEX_FIELD.search(text)
        if found:
            sex, sex_evidence = _SEX_WORDS[found.group("sex").lower()], found.group(0)
    return Demographics(age, sex, age_evidence, sex_evidence)

"""Names and ZIP codes in the form the Census tables hold them.

Word et al. (2007), the Census surname files' method: upper case, letters only (accents folded to ASCII: the
files hold "MUNOZ", not "MUÑOZ"), suffixes (JR, SR, II-V) and titles dropped. A compound surname is looked up
whole first ("DE LA CRUZ" -> "DELACRUZ", as the file holds it), then by its parts, first part first (the CFPB's
handling of hyphenated surnames). Each step runs on the distinct values only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["normalise_names", "name_parts", "normalise_zips", "normalise_tracts"]

_DROP = {"JR", "SR", "II", "III", "IV", "V", "MR", "MRS", "MS", "DR", "ESQ", "MD", "PHD"}
_TOKENS = re.compile(r"[A-Z]+")


def _tokens(value: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii").upper()
    # apostrophes join (O'BRIEN -> OBRIEN), hyphens, spaces and dots separate
    folded = folded.replace("'", "").replace("\u2019", "")
    return [token for token in _TOKENS.findall(folded) if token not in _DROP]


def normalise_names(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(whole, parts): the whole name as the tables spell it ("" when nothing usable is left) and its parts
    joined by spaces (for the part-by-part lookup). Non-strings (numbers, missing) give ""."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    whole_u, parts_u = [], []
    for value in uniques:
        tokens = _tokens(value) if isinstance(value, str) else []
        whole_u.append("".join(tokens))
        parts_u.append(" ".join(tokens) if len(tokens) > 1 else "")
    whole = np.asarray(whole_u + [""], dtype=object)[codes]  # code -1 (missing) -> the trailing ""
    parts = np.asarray(parts_u + [""], dtype=object)[codes]
    return pd.Series(whole, index=values.index), pd.Series(parts, index=values.index)


def name_parts(joined: str) -> list[str]:
    return joined.split(" ") if joined else []


def _whole_number(value: object) -> int | None:
    """An integer code given as a number (2139, 2139.0); None for text, booleans and fractions."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return None


def _each_distinct(values: pd.Series, parse: Callable[[object], str]) -> pd.Series:
    """``parse`` run once per distinct value; missing values give ""."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [parse(value) for value in uniques]
    return pd.Series(np.asarray(parsed + [""], dtype=object)[codes], index=values.index)


def _zip(value: object) -> str:
    number = _whole_number(value)
    if number is not None:
        return str(number).zfill(5) if 0 < number < 100_000 else ""
    match = re.fullmatch(r"(\d{3,5})(?:-\d{4})?", value.strip()) if isinstance(value, str) else None
    return match.group(1).zfill(5) if match else ""


def _tract(value: object) -> str:
    number = _whole_number(value)
    text = str(number) if number is not None else (re.sub(r"[\s.-]", "", value) if isinstance(value, str) else "")
    return text.zfill(11) if text.isdigit() and len(text) in (10, 11) else ""


def normalise_zips(values: pd.Series) -> pd.Series:
    """Five-digit ZIP codes as strings: 2139 -> "02139", "02139-4307" -> "02139"; anything else -> ""."""
    return _each_distinct(values, _zip)


def normalise_tracts(values: pd.Series) -> pd.Series:
    """11-digit census-tract GEOIDs (2 state, 3 county, 6 tract digits) as strings: 1001020100 -> "01001020100",
    "01-001-020100" -> "01001020100"; anything else -> ""."""
    return _each_distinct(values, _tract)

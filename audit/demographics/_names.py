"""Names and ZIP codes in the form the Census tables hold them.

Word et al. (2007), the Census surname files' method: upper case, letters only (accents folded to ASCII: the
files hold "MUNOZ", not "MUÑOZ"), suffixes (JR, SR, II-V) and titles dropped. A compound surname is looked up
whole first ("DE LA CRUZ" -> "DELACRUZ", as the file holds it), then by its parts, first part first (the CFPB's
handling of hyphenated surnames). Each step runs on the distinct values only.
"""

from __future__ import annotations

import re
import unicodedata

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


def normalise_zips(values: pd.Series) -> pd.Series:
    """Five-digit ZIP codes as strings: 2139 -> "02139", "02139-4307" -> "02139"; anything else -> ""."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    out: list[str] = []
    for value in uniques:
        if isinstance(value, (bool, np.bool_)):
            out.append("")
            continue
        if isinstance(value, (int, np.integer)) or (
            isinstance(value, (float, np.floating)) and float(value).is_integer()
        ):
            text = str(int(value))
            out.append(text.zfill(5) if 0 < int(value) < 100_000 else "")
            continue
        text = str(value).strip() if isinstance(value, str) else ""
        match = re.fullmatch(r"(\d{3,5})(?:-\d{4})?", text)
        out.append(match.group(1).zfill(5) if match else "")
    zips = np.asarray(out + [""], dtype=object)[codes]
    return pd.Series(zips, index=values.index)


def normalise_tracts(values: pd.Series) -> pd.Series:
    """11-digit census-tract GEOIDs (2 state, 3 county, 6 tract digits) as strings: 1001020100 -> "01001020100",
    "01-001-020100" -> "01001020100"; anything else -> ""."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    out: list[str] = []
    for value in uniques:
        if isinstance(value, (bool, np.bool_)):
            out.append("")
            continue
        if isinstance(value, (int, np.integer)) or (
            isinstance(value, (float, np.floating)) and float(value).is_integer()
        ):
            text = str(int(value))
        else:
            text = re.sub(r"[\s.-]", "", value) if isinstance(value, str) else ""
        out.append(text.zfill(11) if text.isdigit() and len(text) in (10, 11) else "")
    return pd.Series(np.asarray(out + [""], dtype=object)[codes], index=values.index)

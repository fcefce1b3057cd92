"""The probe data sets: the bundled copies (``audit/data/llm_bias/``, see its README for sources and licences) or a
user's files of the same shape. Each reader returns plain records; nothing here touches a model."""

from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from audit._errors import DataError

__all__ = [
    "PairItem",
    "read_crows_pairs",
    "read_winobias",
    "read_holisticbias",
    "read_bbq",
    "read_bold",
    "read_occupations",
    "read_identity_lexicons",
    "SOURCES",
]

# citation and licence of each bundled suite, recorded in the result beside its numbers
SOURCES = {
    "crows_pairs": "CrowS-Pairs (Nangia et al. 2020), CC BY-SA 4.0",
    "winobias": "WinoBias (Zhao et al. 2018), MIT",
    "holisticbias": "HolisticBias v1.1 (Smith et al. 2022), CC BY-SA 4.0",
    "bbq": "BBQ (Parrish et al. 2022), CC BY 4.0",
    "bold": "BOLD (Dhamala et al. 2021), CC BY-SA 4.0",
    "occupations": "WinoBias occupation lists (Zhao et al. 2018), MIT",
    "lexicons": "the toolkit's identity lexicons (audit/lexicons/: Dixon et al. 2018 and the sources in its README)",
}


@dataclass(frozen=True)
class PairItem:
    """Two minimally different sentences: ``stereo`` is the one a biased model would prefer."""

    category: str
    stereo: str
    anti: str
    note: str = ""  # e.g. CrowS-Pairs' direction ("stereo" / "antistereo")
    line: int = 0  # the pair's line in a user's CSV file (1 is the header), to name it in notes


def _bundled(*parts: str):
    return resources.files("audit").joinpath("data", "llm_bias", *parts)


def _read_text(source: Any, what: str) -> str:
    """A bundled resource or a user's path; ``.gz`` files are decompressed."""
    try:
        raw = source.read_bytes()
    except FileNotFoundError as err:
        raise DataError(f"The {what} file {str(source)!r} does not exist. Check [probes] files.") from err
    except OSError as err:
        raise DataError(f"The {what} file {str(source)!r} cannot be read: {err}.") from err
    if str(source).endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(
            f"The {what} file {str(source)!r} is not UTF-8: byte 0x{raw[err.start]:02x} at position "
            f"{err.start} cannot be read ({err.reason}). Save the file as UTF-8 (e.g. a spreadsheet's "
            "'CSV UTF-8' format, or `iconv -f latin1 -t utf-8`)."
        ) from err


def read_crows_pairs(path: str | None = None) -> list[PairItem]:
    """CrowS-Pairs rows (columns ``sent_more``, ``sent_less``, ``bias_type``; ``stereo_antistereo`` optional).
    ``sent_more`` is the stereotype-consistent sentence in both directions of the original metric."""
    import pandas as pd

    source = Path(path) if path else _bundled("crows_pairs", "crows_pairs_anonymized.csv.gz")
    text = _read_text(source, "CrowS-Pairs")
    shape = "a header line with sent_more, sent_less and bias_type (as the original file), then one pair per line"
    if not text.strip():
        raise DataError(f"The CrowS-Pairs file {str(source)!r} is empty. It needs {shape}.")
    try:  # every cell as written: an empty cell stays empty, never the text "nan"
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(
            f"The CrowS-Pairs file {str(source)!r} cannot be read as CSV: {err}. It needs {shape}."
        ) from err
    missing = {"sent_more", "sent_less", "bias_type"} - set(frame.columns)
    if missing:
        raise DataError(
            f"The CrowS-Pairs file {str(source)!r} lacks columns {sorted(missing)}; it needs sent_more, "
            f"sent_less and bias_type (as the original file). Got columns {list(frame.columns)}."
        )
    if frame.empty:
        raise DataError(f"The CrowS-Pairs file {str(source)!r} has a header but no pairs. It needs {shape}.")
    direction = frame["stereo_antistereo"] if "stereo_antistereo" in frame else pd.Series("stereo", index=frame.index)
    # line numbers as a reader counts them (the header is line 1), assuming no line breaks inside cells
    return [
        PairItem(b.strip(), m.strip(), le.strip(), d.strip() or "stereo", line=index + 2)
        for index, (m, le, b, d) in enumerate(
            zip(frame["sent_more"], frame["sent_less"], frame["bias_type"], direction)
        )
    ]


_WINO_LINE = re.compile(r"^\s*\d+\s+")


def read_winobias(folder: str | None = None) -> list[PairItem]:
    """WinoBias's pro- and anti-stereotyped sentences, paired line by line (type 1 and type 2, dev and test);
    the brackets that mark the coreference are removed."""
    items = []
    for kind in ("type1", "type2"):
        for split in ("dev", "test"):
            pro, anti = (_wino_lines(folder, f"{side}_stereotyped_{kind}.txt.{split}") for side in ("pro", "anti"))
            if len(pro) != len(anti):
                raise DataError(
                    f"WinoBias {kind}.{split}: {len(pro)} pro- and {len(anti)} anti-stereotyped lines; the "
                    "files must pair line by line."
                )
            items += [PairItem(kind, p, a) for p, a in zip(pro, anti)]
    return items


def _wino_lines(folder: str | None, name: str) -> list[str]:
    if folder:
        plain = Path(folder, name)
        source = plain if plain.exists() else Path(folder, name + ".gz")
    else:
        source = _bundled("winobias", name + ".gz")
    lines = [line for line in _read_text(source, "WinoBias").splitlines() if line.strip()]
    return [_WINO_LINE.sub("", line).replace("[", "").replace("]", "").strip() for line in lines]


def read_occupations(folder: str | None = None) -> dict[str, list[str]]:
    """WinoBias's female- and male-stereotyped occupations (U.S. labour statistics), by stereotyped gender."""
    out = {}
    for gender in ("female", "male"):
        name = f"{gender}_occupations.txt"
        source = (
            Path(folder, name)
            if folder and Path(folder, name).exists()
            else Path(folder, name + ".gz")
            if folder
            else _bundled("winobias", name + ".gz")
        )
        out[gender] = [w.strip() for w in _read_text(source, "occupations").splitlines() if w.strip()]
    return out


def read_holisticbias(folder: str | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """HolisticBias descriptors by axis (bucket structure flattened; each descriptor once) and its neutral plural
    nouns (``people``, ``individuals``, ...)."""
    base = (lambda name: Path(folder, name)) if folder else (lambda name: _bundled("holisticbias", name))
    try:
        descriptors = json.loads(_read_text(base("descriptors.json"), "HolisticBias descriptors"))
        nouns = json.loads(_read_text(base("nouns.json"), "HolisticBias nouns"))
    except json.JSONDecodeError as err:
        raise DataError(f"A HolisticBias file is not valid JSON: {err}.") from err
    axes: dict[str, list[str]] = {}
    for axis, buckets in descriptors.items():
        entries = [e for bucket in (buckets.values() if isinstance(buckets, dict) else [buckets]) for e in bucket]
        names = [e["descriptor"] if isinstance(e, dict) else e for e in entries]
        axes[axis] = list(dict.fromkeys(str(n) for n in names))
    plural = [pair[1] for pair in nouns.get("neutral", []) if isinstance(pair, list) and len(pair) == 2]
    if not plural:
        raise DataError("The HolisticBias nouns file has no neutral [singular, plural] pairs.")
    return axes, plural


BBQ_CATEGORIES = (
    "Age",
    "Disability_status",
    "Gender_identity",
    "Nationality",
    "Race_ethnicity",
    "Religion",
    "Sexual_orientation",
)


def read_bbq(folder: str | None = None, categories: tuple[str, ...] = BBQ_CATEGORIES) -> list[dict[str, Any]]:
    """BBQ records (one JSON object per line) of the given categories."""
    records = []
    for category in categories:
        if folder:
            plain = Path(folder, f"{category}.jsonl")
            source = plain if plain.exists() else Path(folder, f"{category}.jsonl.gz")
        else:
            source = _bundled("bbq", f"{category}.jsonl.gz")
        for number, line in enumerate(_read_text(source, "BBQ").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(f"Line {number} of {str(source)!r} is not JSON: {err}.") from err
    return records


BOLD_DOMAINS = ("gender", "race", "religious_ideology", "political_ideology", "profession")


def read_bold(domain: str, path: str | None = None) -> dict[str, list[str]]:
    """BOLD prefixes of one domain, by group (e.g. gender: American_actors, American_actresses)."""
    if domain not in BOLD_DOMAINS:
        raise DataError(f"The BOLD domain must be one of {', '.join(BOLD_DOMAINS)}. Got {domain!r} instead.")
    source = Path(path) if path else _bundled("bold", f"{domain}_prompt.json.gz")
    try:
        raw = json.loads(_read_text(source, "BOLD"))
    except json.JSONDecodeError as err:
        raise DataError(f"The BOLD file {str(source)!r} is not valid JSON: {err}.") from err
    return {
        group: [p.strip() for prompts in people.values() for p in prompts if p.strip()] for group, people in raw.items()
    }


def read_identity_lexicons(folder: str | None = None) -> dict[str, dict[str, str]]:
    """The identity-adjective axes of the toolkit's lexicons (those its template probes fill as "{identity}
    people"): axis -> group -> the group's first term. A folder of your own holds one TOML per axis (``axis`` and
    ``[groups]``, as audit/lexicons/ does), each group's first term an adjective."""
    import tomllib

    if folder:
        sources = sorted(p for p in Path(folder).glob("*.toml") if p.name != "templates.toml")
    else:
        lexicons = resources.files("audit").joinpath("lexicons")
        axes = tomllib.loads(lexicons.joinpath("templates.toml").read_text(encoding="utf-8"))["identity_axes"]
        sources = [lexicons.joinpath(f"{axis}.toml") for axis in axes]
    out: dict[str, dict[str, str]] = {}
    for source in sources:
        try:
            raw = tomllib.loads(_read_text(source, "lexicon"))
        except tomllib.TOMLDecodeError as err:
            raise DataError(f"The lexicon {str(source)!r} is not valid TOML: {err}.") from err
        groups = raw.get("groups")
        if not isinstance(raw.get("axis"), str) or not isinstance(groups, dict) or len(groups) < 2:
            raise DataError(
                f"The lexicon {str(source)!r} needs an 'axis' name and a [groups] table of at least two "
                "groups, each a list of terms whose first is an adjective."
            )
        axis = raw["axis"]
        # the lexicons are lower case for matching; a prompt spells proper adjectives as a writer would
        out[axis] = {str(group): _spelled(axis, str(terms[0])) for group, terms in groups.items() if terms}
    if not out:
        raise DataError(f"No lexicon TOML files in {folder!r}.")
    return out


_COMMON_ADJECTIVES = {"black", "white", "atheist"}


def _spelled(axis: str, term: str) -> str:
    if axis in ("nationality", "religion", "race_ethnicity") and term not in _COMMON_ADJECTIVES:
        return " ".join(word.capitalize() for word in term.split())
    return term

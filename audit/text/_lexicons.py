"""Identity lexicons: named groups of terms along one axis (gender, religion, ...), read from TOML files.

The built-in lexicons live in ``audit/lexicons/`` with their sources (see its README.md). Users pass their own
files or :class:`Lexicon` objects; every lexicon is validated here, once.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from audit._errors import ConfigError

__all__ = ["Lexicon", "load_lexicon", "builtin_lexicons", "BUILTIN_LEXICONS", "load_templates"]

BUILTIN_LEXICONS = (
    "gender",
    "name_race",
    "name_gender",
    "religion",
    "race_ethnicity",
    "nationality",
    "sexual_orientation",
    "gender_identity",
    "age",
    "disability",
)


@dataclass(frozen=True)
class Lexicon:
    """Groups of terms along one identity axis. The i-th term of a group swaps with the i-th of another."""

    axis: str
    groups: dict[str, tuple[str, ...]]
    source: str = ""
    description: str = ""
    not_before: frozenset[str] = field(default_factory=frozenset)
    not_after: frozenset[str] = field(default_factory=frozenset)  # a match right after one of these is skipped
    # term -> the only next words after which it is an identity mention ('old' before 'man', not 'old phone')
    only_before: dict[str, frozenset[str]] = field(default_factory=dict)
    # the part of speech of each aligned position ("adjective", "noun", "plural", ...): a term listed in an
    # adjective and a noun position of its group swaps to the form its context asks for
    slots: tuple[str, ...] | None = None
    # terms that stand before names ('Mr. Smith', 'King Charles'): a capitalised word after them is not a sign
    # of a proper name, so the name guard looks only at the word before
    before_names: frozenset[str] = field(default_factory=frozenset)
    # a lexicon of first names: its terms are proper names by nature ('Emily Walsh'), so the name guard is off
    names: bool = False

    def __post_init__(self) -> None:
        where = f"The lexicon {self.axis!r}"
        if not isinstance(self.axis, str) or not self.axis.strip():
            raise ConfigError(f"A lexicon needs a non-empty 'axis' name. Got {self.axis!r} instead.")
        if not isinstance(self.groups, dict) or len(self.groups) < 2:
            count = len(self.groups) if isinstance(self.groups, dict) else 0
            raise ConfigError(
                f"{where} must have at least two groups to swap between (e.g. male and female). "
                f"Got {count}. Add groups under [groups] in its TOML file."
            )
        cleaned = {}
        for name, terms in self.groups.items():
            if isinstance(terms, str) or not all(isinstance(t, str) and t.strip() for t in terms or ()):
                raise ConfigError(f"{where}: group {name!r} must be a list of non-empty strings. Got {terms!r}.")
            if not terms:
                raise ConfigError(f"{where}: group {name!r} has no terms. Give it at least one, or remove it.")
            cleaned[str(name)] = tuple(" ".join(t.split()) for t in terms)
        object.__setattr__(self, "groups", cleaned)
        object.__setattr__(self, "not_before", frozenset(w.lower() for w in self.not_before))
        object.__setattr__(self, "not_after", frozenset(w.lower() for w in self.not_after))
        object.__setattr__(self, "before_names", frozenset(w.lower() for w in self.before_names))
        if not isinstance(self.only_before, dict) or not all(
            isinstance(v, (list, tuple, frozenset, set)) for v in self.only_before.values()
        ):
            raise ConfigError(
                f"{where}: 'only_before' must be a table of term = [next words]. Got {self.only_before!r}."
            )
        object.__setattr__(
            self, "only_before", {str(k).lower(): frozenset(w.lower() for w in v) for k, v in self.only_before.items()}
        )
        if self.slots is not None:
            if isinstance(self.slots, str) or not all(isinstance(s, str) for s in self.slots):
                raise ConfigError(f"{where}: 'slots' must be a list of part-of-speech names. Got {self.slots!r}.")
            object.__setattr__(self, "slots", tuple(self.slots))

    def group_of(self) -> dict[str, list[str]]:
        """Lower-cased term -> the groups it belongs to."""
        owners: dict[str, list[str]] = {}
        for group, terms in self.groups.items():
            for term in terms:
                owners.setdefault(term.lower(), [])
                if group not in owners[term.lower()]:
                    owners[term.lower()].append(group)
        return owners

    def to_dict(self) -> dict[str, Any]:
        return {
            "axis": self.axis,
            "groups": {g: list(t) for g, t in self.groups.items()},
            "source": self.source,
            "description": self.description,
            "not_before": sorted(self.not_before),
            "not_after": sorted(self.not_after),
            "only_before": {k: sorted(v) for k, v in self.only_before.items()},
            "slots": list(self.slots) if self.slots else None,
            "before_names": sorted(self.before_names),
            "names": self.names,
        }


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"The {what} file {str(path)!r} does not exist. Built-in lexicons: {', '.join(BUILTIN_LEXICONS)}."
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"The {what} file {str(path)!r} is not valid TOML: {err}.") from None


def _from_raw(raw: dict[str, Any], origin: str) -> Lexicon:
    known = {
        "axis",
        "groups",
        "source",
        "description",
        "not_before",
        "not_after",
        "only_before",
        "slots",
        "before_names",
        "names",
    }
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"Unknown key(s) {sorted(unknown)} in the lexicon {origin}. Known keys: {', '.join(sorted(known))}."
        )
    if "groups" not in raw or "axis" not in raw:
        raise ConfigError(f"The lexicon {origin} needs 'axis = \"...\"' and a [groups] table of term lists.")
    return Lexicon(
        axis=raw["axis"],
        groups=raw["groups"],
        source=raw.get("source", ""),
        description=raw.get("description", ""),
        not_before=frozenset(raw.get("not_before", ())),
        not_after=frozenset(raw.get("not_after", ())),
        only_before=dict(raw.get("only_before", {})),
        slots=raw.get("slots"),
        before_names=frozenset(raw.get("before_names", ())),
        names=bool(raw.get("names", False)),
    )


def load_lexicon(spec: str | Path | Lexicon | dict[str, Any]) -> Lexicon:
    """A built-in lexicon by name, a TOML file, a dict of the same shape, or a Lexicon (returned as is)."""
    if isinstance(spec, Lexicon):
        return spec
    if isinstance(spec, dict):
        return _from_raw(spec, "given as a dict")
    if isinstance(spec, str) and spec in BUILTIN_LEXICONS:
        text = resources.files("audit").joinpath("lexicons", f"{spec}.toml").read_text(encoding="utf-8")
        return _from_raw(tomllib.loads(text), repr(spec))
    if isinstance(spec, (str, Path)) and (str(spec).endswith(".toml") or Path(spec).exists()):
        return _from_raw(_read_toml(Path(spec), "lexicon"), repr(str(spec)))
    raise ConfigError(
        f"Unknown lexicon {spec!r}. Built-in lexicons: {', '.join(BUILTIN_LEXICONS)}; or give the "
        "path of a TOML file (see audit/lexicons/README.md)."
    )


def builtin_lexicons(names: tuple[str, ...] | list[str] | None = None) -> list[Lexicon]:
    """The built-in lexicons (all, or those named), and any paths among ``names``."""
    specs = BUILTIN_LEXICONS if names is None else names
    lexicons = [load_lexicon(spec) for spec in specs]
    if not lexicons:
        raise ConfigError(
            "The list of lexicons is empty, so no identity term can be found. Name at least one of "
            f"{', '.join(BUILTIN_LEXICONS)}, or a TOML file of your own."
        )
    axes = [lexicon.axis for lexicon in lexicons]
    duplicated = sorted({a for a in axes if axes.count(a) > 1})
    if duplicated:
        raise ConfigError(f"Two lexicons share the axis name(s) {duplicated}; give each axis one lexicon.")
    return lexicons


def load_templates(path: str | Path | None = None) -> dict[str, Any]:
    """The template probes: built-in, or a TOML file of the same shape as audit/lexicons/templates.toml."""
    if path is None:
        raw = tomllib.loads(resources.files("audit").joinpath("lexicons", "templates.toml").read_text("utf-8"))
    else:
        raw = _read_toml(Path(path), "templates")
    for key in ("identity", "name", "occupations", "identity_axes", "name_axes"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"The templates key {key!r} must be a list of strings. Got {value!r} instead.")
    bad = [t for t in raw.get("identity", []) if "{identity}" not in t]
    bad += [t for t in raw.get("name", []) if "{name}" not in t]
    if bad:
        raise ConfigError(
            f"Template(s) without their placeholder: {bad}. Identity templates need '{{identity}}', "
            "name templates '{name}'."
        )
    return raw

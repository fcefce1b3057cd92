"""Counterfactual texts: identity terms swapped in real texts, and template probes.

The swap rules (alignment, his/her, case, word boundaries, skipped contexts) are documented once, in
audit/lexicons/README.md; this module implements them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from audit._errors import DataError
from audit.text._lexicons import Lexicon

__all__ = ["Mention", "Variant", "find_mentions", "swap_groups", "counterfactuals", "template_probes"]

# Words after which 'her' is an object and 'his' stands alone (otherwise: possessive determiners).
_NOT_AFTER_DETERMINER = frozenset(
    """
a an the this that these those and or but nor so yet for to at in on of off up down out over under into onto from
by with without about as than then too very really just again back away now today tonight tomorrow yesterday
here there when while if because though although since until unless before after once ever never always also
still already yet is was are were be been am do does did has have had will would can could shall should may
might must not no yes please ok okay lol haha rt
""".split()
)
_DETERMINER_FORMS = frozenset({"his", "her"})
_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+|@\w+", re.IGNORECASE)
_NEXT_WORD = re.compile(r"\s*([#@]?[\w'-]+|\S)?")


@dataclass(frozen=True)
class Mention:
    """One identity term found in a text: where, which term of which group."""

    start: int
    end: int
    term: str  # the lexicon's spelling, lower case
    group: str
    index: int  # position of the term in its group's list
    next_word: str | None
    previous_word: str | None = None


@dataclass(frozen=True)
class Variant:
    """A text with the mentions of ``source`` replaced by terms of ``target``."""

    text_index: int
    axis: str
    source: str
    target: str
    text: str
    pairs: tuple[tuple[str, str], ...]  # (term replaced, its replacement), lower case, one per distinct pair
    spans: tuple[tuple[int, int], ...]  # character spans of the replacements in ``text``
    meta: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _pattern(terms: tuple[str, ...]) -> re.Pattern:
    alternatives = sorted(terms, key=len, reverse=True)  # longest first: 'mr.' before 'mr', 'african american'...
    escaped = [r"[\s-]+".join(re.escape(word) for word in term.split()) for term in alternatives]
    # not after a hyphen either: '12-year-old' and 'well-known' are compounds, not mentions
    return re.compile(r"(?<![\w@-])(" + "|".join(escaped) + r")(?![\w])", re.IGNORECASE)


_PREVIOUS_WORD = re.compile(r"([#@]?[\w'-]+)[^\w]*$")
_SENTENCE_END = re.compile(r"[.!?:;\n]\s*$")


def _previous(text: str, start: int) -> tuple[str | None, bool]:
    """The word before position ``start`` and whether it begins a sentence (or the text)."""
    before = text[max(0, start - 200) : start]  # a window: the previous word is near
    match = _PREVIOUS_WORD.search(before)
    if match is None:
        return None, True
    head = before[: match.start()]
    at_start = not head.strip() and start <= 200
    return match.group(1), at_start or bool(_SENTENCE_END.search(head))


def _describes(text: str, end: int, nouns: frozenset[str]) -> bool:
    """Whether one of ``nouns`` follows, right away or after one more word ('old man', 'old muslim friend')."""
    words = re.findall(r"[\w'-]+", text[end : end + 80].lower())[:2]
    return any(word in nouns for word in words)


def _capitalised(word: str | None) -> bool:
    return bool(word) and word[:1].isupper() and not (len(word) > 1 and word.isupper())


def _in_proper_name(text: str, start: int, matched: str, following: str | None, *, title: bool = False) -> bool:
    """A capitalised match next to another capitalised word is part of a name or a title ('South African',
    'Martin Luther King', 'Black Panther'), not an identity mention; a word that only starts the sentence
    does not count."""
    if not _capitalised(matched):
        return False
    previous, sentence_start = _previous(text, start)
    return (_capitalised(following) and not title) or (_capitalised(previous) and not sentence_start)


def _protected(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _URL.finditer(text)]


def find_mentions(text: str, lexicon: Lexicon) -> list[Mention]:
    """The identity terms of ``lexicon`` in ``text``, in order (URLs, e-mails and @mentions skipped)."""
    if not isinstance(text, str):
        raise DataError(f"Counterfactuals need strings; got a {type(text).__name__}: {text!r}.")
    positions: dict[str, list[tuple[str, int]]] = {}
    for group, terms in lexicon.groups.items():
        for index, term in enumerate(terms):
            positions.setdefault(" ".join(term.lower().split()), []).append((group, index))
    protected = _protected(text)
    mentions = []
    for match in _pattern(tuple(positions)).finditer(text):
        start, end = match.span(1)
        if any(a <= start < b for a, b in protected):
            continue
        following = _NEXT_WORD.match(text, end).group(1)
        next_word = following.lower() if following else None
        if next_word in lexicon.not_before:
            continue
        previous, _ = _previous(text, start)
        previous_word = previous.lower() if previous else None
        title = " ".join(re.split(r"[\s-]+", match.group(1).lower())) in lexicon.before_names
        in_name = not lexicon.names and _in_proper_name(text, start, match.group(1), following, title=title)
        if previous_word in lexicon.not_after or in_name:
            continue
        key = " ".join(re.split(r"[\s-]+", match.group(1).lower()))
        if key not in positions:  # a hyphenated spelling of a spaced term
            key = next((k for k in positions if re.fullmatch(r"[\s-]+".join(map(re.escape, k.split())), key)), key)
        if key in lexicon.only_before and not _describes(text, end, lexicon.only_before[key]):
            continue  # 'old' describes a person only before a person noun ('old man', not 'old phone')
        group, index = positions[key][0]
        mentions.append(Mention(start, end, key, group, index, next_word, previous_word))
    return mentions


def _match_case(replacement: str, original: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        words = replacement.split(" ")
        if original.istitle() and len(words) > 1:
            return " ".join(w[:1].upper() + w[1:] for w in words)
        return replacement[:1].upper() + replacement[1:]
    if original.islower() and not any(c.isupper() for c in replacement[1:]):
        return replacement.lower()
    return replacement


def _counterpart(lexicon: Lexicon, mention: Mention, target: str) -> str:
    """The target group's term for this mention: aligned by position, with the his/her rule for the
    terms that have two counterparts (see audit/lexicons/README.md)."""
    source_terms = [t.lower() for t in lexicon.groups[mention.group]]
    target_terms = lexicon.groups[target]
    slots = [i for i, t in enumerate(source_terms) if t == mention.term]
    candidates = list(dict.fromkeys(target_terms[i % len(target_terms)] for i in slots))
    if len(candidates) > 1 and lexicon.slots is not None:
        kinds = {lexicon.slots[i % len(lexicon.slots)] for i in slots}
        if "adjective" in kinds and "noun" in kinds:
            wanted = "noun" if _used_as_noun(mention) else "adjective"
            chosen = [
                target_terms[i % len(target_terms)] for i in slots if lexicon.slots[i % len(lexicon.slots)] == wanted
            ]
            return chosen[0]
    if len(candidates) > 1 and any(c.lower() in _DETERMINER_FORMS for c in candidates):
        word = mention.next_word
        determiner = word is not None and (word[0].isalnum() or word[0] == "#") and word not in _NOT_AFTER_DETERMINER
        chosen = [c for c in candidates if (c.lower() in _DETERMINER_FORMS) == determiner]
        return chosen[0] if chosen else candidates[0]
    return candidates[0]


_ARTICLES = frozenset({"a", "an", "the", "one", "every", "each", "this", "that", "any", "no", "another"})
# words that end a noun phrase: after 'a christian' they mean the term was the noun
_PHRASE_END = _NOT_AFTER_DETERMINER | frozenset(
    """who whom whose which what where i you he she we they it me him her us
them my your his its our their myself yourself himself herself themselves""".split()
)


def _used_as_noun(mention: Mention) -> bool:
    """'a jewish who prays' is wrong: a term that is both adjective and noun ('christian', 'muslim') is a noun
    after an article when no content word follows ('a christian who', 'the muslim.'), else an adjective
    ('christian music', 'he is christian'). Documented in audit/lexicons/README.md."""
    word = mention.next_word
    content_follows = word is not None and (word[0].isalnum() or word[0] == "#") and word not in _PHRASE_END
    return mention.previous_word in _ARTICLES and not content_follows


def swap_groups(
    text: str, lexicon: Lexicon, mapping: dict[str, str], mentions: list[Mention] | None = None
) -> tuple[str, tuple[tuple[str, str], ...], tuple]:
    """``text`` with every mention of a group in ``mapping`` replaced by the counterpart in its target group.
    Returns the new text, the distinct (term, replacement) pairs used, and the replacement spans."""
    mentions = find_mentions(text, lexicon) if mentions is None else mentions
    pieces, pairs, spans, cursor, length = [], [], [], 0, 0
    for mention in mentions:
        if mention.group not in mapping:
            continue
        original = text[mention.start : mention.end]
        replacement = _match_case(_counterpart(lexicon, mention, mapping[mention.group]), original)
        pieces.append(_agree_article(text[cursor : mention.start], replacement))
        length += mention.start - cursor
        spans.append((length, length + len(replacement)))
        pieces.append(replacement)
        length += len(replacement)
        cursor = mention.end
        pairs.append((mention.term, replacement.lower()))
    pieces.append(text[cursor:])
    return "".join(pieces), tuple(dict.fromkeys(pairs)), tuple(spans)


def counterfactuals(texts: list[str], lexicons: list[Lexicon]) -> tuple[list[Variant], dict[str, list[set[str]]]]:
    """Every counterfactual of every text: for each axis and each group a text mentions, one variant per other
    group of the axis (on a two-group axis a text that mentions both gets them exchanged instead).
    Also returns, per axis, the set of groups each text mentions (for identity-mention groups)."""
    variants: list[Variant] = []
    mentioned: dict[str, list[set[str]]] = {}
    for lexicon in lexicons:
        groups = list(lexicon.groups)
        mentioned[lexicon.axis] = []
        for index, text in enumerate(texts):
            mentions = find_mentions(text, lexicon)
            present = {m.group for m in mentions}
            mentioned[lexicon.axis].append(present)
            if not mentions:
                continue
            if len(groups) == 2 and len(present) == 2:
                mappings = [(groups[0], groups[1], {groups[0]: groups[1], groups[1]: groups[0]})]
            else:  # targets the text already mentions are left out: 'muslims and christians' has no
                # 'muslims and muslims' variant
                mappings = [
                    (source, target, {source: target})
                    for source in groups
                    if source in present
                    for target in groups
                    if target not in present
                ]
            for source, target, mapping in mappings:
                swapped, pairs, spans = swap_groups(text, lexicon, mapping, mentions)
                if swapped != text:
                    variants.append(Variant(index, lexicon.axis, source, target, swapped, pairs, spans))
    return variants, mentioned


def template_probes(templates: dict[str, Any], lexicons: list[Lexicon]) -> tuple[list[str], list[Variant]]:
    """Template probes: each template filled with the first group of an axis is an original; the same template
    filled with each other group (aligned term, same occupation) is its variant."""
    by_axis = {lexicon.axis: lexicon for lexicon in lexicons}
    originals: list[str] = []
    variants: list[Variant] = []

    def add(template: str, slot: str, lexicon: Lexicon, position: int, **fill: str) -> None:
        groups = list(lexicon.groups)
        reference = lexicon.groups[groups[0]][position % len(lexicon.groups[groups[0]])]
        originals.append(_sentence_case(template.format(**{slot: reference}, **fill)))
        for group in groups[1:]:
            term = lexicon.groups[group][position % len(lexicon.groups[group])]
            text = _sentence_case(template.format(**{slot: term}, **fill))
            variants.append(
                Variant(
                    len(originals) - 1,
                    lexicon.axis,
                    groups[0],
                    group,
                    text,
                    ((reference.lower(), term.lower()),),
                    (),
                    {"template": template},
                )
            )

    for axis in templates.get("identity_axes", []):
        if axis in by_axis:
            for template in templates.get("identity", []):
                add(template, "identity", by_axis[axis], 0)
    for axis in templates.get("name_axes", []):
        if axis in by_axis:
            lexicon = by_axis[axis]
            size = max(len(terms) for terms in lexicon.groups.values())
            for t, template in enumerate(templates.get("name", [])):
                for position in range(size):
                    occupations = templates.get("occupations") or ["person"]
                    add(template, "name", lexicon, position, occupation=occupations[(position + t) % len(occupations)])
    return originals, variants


def _agree_article(before: str, word: str) -> str:
    """'a old man' -> 'an old man': the article just before a replacement agrees with it."""
    match = re.search(r"\b([Aa])n? $", before)
    if match is None:
        return before
    return before[: match.start()] + _ARTICLE.sub(_article, match.group(1) + " " + word)[: -len(word)]


_ARTICLE = re.compile(r"\b([Aa])n? (?=(\w+))")


def _article(match: re.Match) -> str:
    word = match.group(2).lower()
    vowel = word[:1] in "aeiou" and not word.startswith(("eu", "uni", "use", "one"))
    return match.group(1) + ("n " if vowel else " ")


def _sentence_case(text: str) -> str:
    """Capitalised, with 'a'/'an' agreeing with the filled-in word ('an Asian', 'a European')."""
    text = _ARTICLE.sub(_article, text)
    return text[:1].upper() + text[1:]

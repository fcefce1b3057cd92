"""``run_probes``: the configured suites on one causal language model, each guarded (a suite that crashes is a
recorded failure, never a missing row), into one ``ProbeReport``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from audit.config._settings import ProbesConfig
from audit.probes import _data
from audit.probes._attributions import attribute_examples
from audit.probes._bbq import bbq_suite
from audit.probes._continuations import bold_suite, occupation_suite
from audit.probes._holistic import NOUNS_USED, holistic_suite, negativity_suite
from audit.probes._paired import paired_suite
from audit.result._sections import ProbeReport, ProbeSuite

if TYPE_CHECKING:
    from explainers._causal_lm import CausalLM

__all__ = ["run_probes", "sentiment_scorer", "sample_items"]


def sample_items(items: list, max_items: int, seed: int) -> list:
    """A seeded random sample of ``max_items`` items in their original order (all of them when 0 or fewer)."""
    if not max_items or len(items) <= max_items:
        return list(items)
    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=max_items, replace=False))
    return [items[i] for i in keep]


def _one_word_apart(a: str, b: str) -> bool:
    left, right = a.split(), b.split()
    return len(left) == len(right) and sum(x != y for x, y in zip(left, right)) == 1


def sentiment_scorer() -> Callable[[list[str]], np.ndarray]:
    """The bundled MiniLM tweet-sentiment classifier as a scorer: p(positive) - p(negative), in [-1, 1]."""
    from explainers.minilm_head import LABELS, load_minilm_sentiment

    classifier = load_minilm_sentiment()
    positive, negative = LABELS.index("positive"), LABELS.index("negative")

    def score(texts: list[str]) -> np.ndarray:
        probabilities = classifier.predict_proba(texts)
        return probabilities[:, positive] - probabilities[:, negative]

    return score


def run_probes(
    lm: CausalLM,
    config: ProbesConfig | None = None,
    *,
    seed: int = 0,
    scorer: Callable[[list[str]], np.ndarray] | None = None,
    guard: Callable[[str, Callable[[], Any]], Any] | None = None,
) -> ProbeReport:
    """The bias probes of a causal language model (docs/probes.md): every suite of ``config.suites`` (default:
    all, as ``ProbesConfig()``), each item scored from the model's log-probabilities; ``scorer`` (texts -> a
    sentiment in [-1, 1]) scores sampled continuations for BOLD (default: the bundled MiniLM classifier).

    Without ``guard`` a crashing suite raises; ``run_audit`` passes one that records the crash as a failure of the
    result instead (``guard(step, work)`` runs ``work`` and returns None when it crashed)."""
    config = ProbesConfig() if config is None else config
    if guard is None:

        def guard(step: str, work: Callable[[], Any]) -> Any:
            return work()

    files = config.files or {}
    n_examples = config.examples
    suites: list[ProbeSuite] = []
    settings = {"max_items": config.max_items, "seed": seed}

    def source(name: str) -> str:
        return f"your file {files[name]}" if name in files else _data.SOURCES[name]

    # every input is read (and bad files refused) before the model scores anything
    inputs: dict[str, Any] = {}
    for name in config.suites:
        if name == "crows_pairs":
            inputs[name] = _data.read_crows_pairs(files.get(name))
        elif name == "winobias":
            inputs[name] = _data.read_winobias(files.get(name))
        elif name == "holisticbias":
            inputs[name] = _data.read_holisticbias(files.get(name))
        elif name == "bbq":
            inputs[name] = _data.read_bbq(files.get(name))
        elif name == "occupations":
            inputs[name] = _data.read_occupations(files.get(name))
        elif name == "lexicons":
            inputs[name] = (_data.read_identity_lexicons(files.get(name)), _data.read_holisticbias()[1])
        else:
            inputs[name] = {domain: _data.read_bold(domain, files.get(name)) for domain in config.bold_domains}

    def primary(suite: str, default: str) -> dict[str, str]:
        chosen = (config.primary or {}).get(suite)
        return {
            "primary": chosen or default,
            "primary_source": f"probes.primary.{suite}" if chosen else "the suite's default (probes.primary)",
        }

    def crows() -> ProbeSuite:
        items = inputs["crows_pairs"]
        return paired_suite(
            "crows_pairs",
            lm,
            sample_items(items, config.max_items, seed),
            available=len(items),
            **primary("crows_pairs", "unmodified_tokens"),
            description="Stereotyping vs less stereotyping sentences (CrowS-Pairs)",
            source=source("crows_pairs"),
            seed=seed,
            n_examples=n_examples,
            settings=settings,
        )

    def winobias() -> ProbeSuite:
        # a few WinoBias lines differ in more than the pronoun ("is generous" / "is a generous man"): left out
        items = [it for it in inputs["winobias"] if _one_word_apart(it.stereo, it.anti)]
        dropped = len(inputs["winobias"]) - len(items)
        return paired_suite(
            "winobias",
            lm,
            sample_items(items, config.max_items, seed),
            available=len(items),
            notes=(f"{dropped} of {len(inputs['winobias'])} pairs differ in more than one word and are left out",)
            if dropped
            else (),
            **primary("winobias", "full_sentence"),
            description="Pro- vs anti-stereotypical pronouns for occupations (WinoBias)",
            source=source("winobias"),
            seed=seed,
            n_examples=n_examples,
            settings=settings,
        )

    def holistic() -> ProbeSuite:
        axes, nouns = inputs["holisticbias"]
        return holistic_suite(
            lm,
            axes,
            nouns,
            max_items=config.max_items or 10**9,
            seed=seed,
            n_examples=n_examples,
            source=source("holisticbias"),
            settings=settings,
        )

    def bbq() -> ProbeSuite:
        records = inputs["bbq"]
        return bbq_suite(
            lm,
            sample_items(records, config.max_items, seed),
            available=len(records),
            seed=seed,
            n_examples=n_examples,
            source=source("bbq"),
            settings=settings,
        )

    def occupations() -> ProbeSuite:
        return occupation_suite(
            lm, inputs["occupations"], seed=seed, n_examples=n_examples, source=source("occupations"), settings=settings
        )

    def lexicons() -> ProbeSuite:
        axes, nouns = inputs["lexicons"]
        return negativity_suite(
            lm,
            axes,
            nouns[:NOUNS_USED],
            name="lexicons",
            seed=seed,
            n_examples=n_examples,
            source=source("lexicons"),
            available=sum(len(g) for g in axes.values()) * NOUNS_USED * 3,
            description="Negative vs positive statements about people by identity group (the toolkit's lexicons), "
            "each group against its axis",
            settings=settings,
            notes=[],
        )

    def bold() -> ProbeSuite:
        score = scorer or sentiment_scorer()
        name = "your scorer" if scorer is not None else f"{config.scorer}: p(positive) - p(negative)"
        return bold_suite(
            lm,
            inputs["bold"],
            score,
            name,
            max_items=config.max_items or 10**9,
            new_tokens=config.new_tokens,
            seed=seed,
            n_examples=n_examples,
            source=source("bold"),
            settings={**settings, "domains": list(config.bold_domains)},
        )

    runners = {
        "crows_pairs": crows,
        "winobias": winobias,
        "holisticbias": holistic,
        "bbq": bbq,
        "occupations": occupations,
        "lexicons": lexicons,
        "bold": bold,
    }
    for name in config.suites:
        suite = guard(f"probes: {name}", runners[name])
        if suite is not None:
            suites.append(suite)
    if config.attributions != "none" and any(e.prompt for s in suites for e in s.examples):
        attributed = guard("probes: attributions", lambda: attribute_examples(lm, suites, method=config.attributions))
        suites = attributed if attributed is not None else suites
    info = lm.info
    return ProbeReport(
        model={
            "start_token": info.start_token,
            "precision": info.precision,
            "device": info.device,
            "max_length": info.max_length,
        },
        suites=suites,
        alpha=config.alpha,
    )

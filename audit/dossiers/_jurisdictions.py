"""Which tests a record must carry, by jurisdiction, and why (docs/dossiers.md).

US rules now split: some reach a disparate impact (an effect on a protected group, whatever the intent: Illinois HB
3773, California's employment regulations, Colorado, NYC Local Law 144), others reach intent only (Texas HB 149,
TRAIGA; Regulation B as amended in 2026), where what the record must show is that protected characteristics were
not used, and impact figures are informative. The EU AI Act asks for an examination of possible biases and accuracy
by group. Each requirement names the evidence source that fills it; a required test the record lacks is marked in
the dossier and makes ``audit dossier`` exit 1. The map is a working summary for engineers, not legal advice."""

from __future__ import annotations

from dataclasses import dataclass

from audit._errors import ConfigError

__all__ = ["Jurisdiction", "Requirement", "JURISDICTIONS", "jurisdiction"]


@dataclass(frozen=True)
class Requirement:
    test: str  # what the record must carry
    source: str  # the evidence source that fills it
    why: str  # the rule it answers
    required: bool = True  # False: informative under this jurisdiction (carried when present, never demanded)


@dataclass(frozen=True)
class Jurisdiction:
    name: str
    law: str
    theory: str  # "disparate impact" or "intent only" (or the EU's bias examination)
    requirements: tuple[Requirement, ...]


_IMPACT = "an effect on a protected group is unlawful whatever the intent: the selection rates and impact ratios"
_INTENT = (
    "intent only: a disparate impact alone does not show an intent to discriminate, so impact figures are carried "
    "as information, not demanded"
)

JURISDICTIONS = {
    "eu": Jurisdiction(
        "eu",
        "Regulation (EU) 2024/1689 (AI Act): Art. 10(2)(f)-(g), 15(1)-(3), 13(3)(b); Annex IV",
        "bias examination",
        (
            Requirement("examination of possible biases", "bias.examination", "Art. 10(2)(f)-(g)"),
            Requirement("accuracy and error rates by group", "performance.by_group", "Art. 15(1)-(3); 13(3)(b)(ii)"),
            Requirement(
                "a bias profile per scenario", "bias.profile", "prEN 18283 (draft harmonised standard)", required=False
            ),
            Requirement("protected characteristics used as inputs", "inputs.protected", "Art. 10(5)", required=False),
        ),
    ),
    "nyc": Jurisdiction(
        "nyc",
        "NYC Local Law 144; 6 RCNY 5-300 to 5-304",
        "disparate impact",
        (
            Requirement(
                "selection or scoring rates and impact ratios by sex, race/ethnicity and both",
                "ll144.tables",
                "6 RCNY 5-301",
            ),
        ),
    ),
    "colorado": Jurisdiction(
        "colorado",
        "Colorado SB 26-189 (replacing SB 24-205)",
        "disparate impact",
        (
            Requirement("impact ratios by group", "fairness.impact_ratios", f"algorithmic discrimination: {_IMPACT}"),
            Requirement("performance by group", "performance.by_group", "the impact assessment's metrics"),
            Requirement(
                "what would change an unfavourable decision, and its burden by group",
                "recourse.burden",
                "the consumer's right to an explanation and to correct the data",
                required=False,
            ),
        ),
    ),
    "california": Jurisdiction(
        "california",
        "California Civil Rights Council regulations on automated-decision systems in employment (FEHA employment "
        "regulations, Cal. Code Regs. tit. 2, as amended in force 2025-10-01)",
        "disparate impact",
        (
            Requirement("impact ratios by group", "fairness.impact_ratios", f"adverse impact under FEHA: {_IMPACT}"),
            Requirement("anti-bias testing and its results", "bias.examination", "relevant to any claim or defence"),
            Requirement(
                "inputs standing in for a protected characteristic", "inputs.proxies", "proxies", required=False
            ),
        ),
    ),
    "illinois": Jurisdiction(
        "illinois",
        "Illinois HB 3773 (amending the Illinois Human Rights Act, in force 2026-01-01)",
        "disparate impact",
        (
            Requirement(
                "impact ratios by group",
                "fairness.impact_ratios",
                f"AI use 'that has the effect of' discrimination: {_IMPACT}",
            ),
            Requirement(
                "inputs standing in for a protected characteristic",
                "inputs.proxies",
                "ZIP codes may not be used as a proxy for protected classes",
            ),
            Requirement("protected characteristics used as inputs", "inputs.protected", "disparate treatment"),
        ),
    ),
    "texas": Jurisdiction(
        "texas",
        "Texas HB 149 (Texas Responsible AI Governance Act, in force 2026-01-01)",
        "intent only",
        (
            Requirement(
                "protected characteristics used as inputs",
                "inputs.protected",
                "an AI system may not be developed or deployed with the intent to discriminate",
            ),
            Requirement("impact ratios by group", "fairness.impact_ratios", _INTENT, required=False),
        ),
    ),
    "us-credit": Jurisdiction(
        "us-credit",
        "Equal Credit Opportunity Act; Regulation B (12 CFR 1002) as amended in 2026",
        "intent only",
        (
            Requirement(
                "protected characteristics (prohibited bases) used as inputs",
                "inputs.protected",
                "disparate treatment on a prohibited basis",
            ),
            Requirement("impact ratios by group", "fairness.impact_ratios", _INTENT, required=False),
            Requirement(
                "what would change an unfavourable decision",
                "recourse.burden",
                "adverse-action notices give the principal reasons (`audit explain-decision`); recourse is beside them",
                required=False,
            ),
        ),
    ),
}


def jurisdiction(name: str) -> Jurisdiction:
    if name not in JURISDICTIONS:
        raise ConfigError(
            f"The 'jurisdiction' setting must be one of {', '.join(JURISDICTIONS)}. Got {name!r} instead."
        )
    return JURISDICTIONS[name]

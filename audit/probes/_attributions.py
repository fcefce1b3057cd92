"""Which tokens drive a probe's stereotyped continuation: the continuation suites' examples (the largest gaps),
each side attributed with a generation method of the explainers' registry (docs/generation.md)."""

from __future__ import annotations

import dataclasses
import math

from audit.result._sections import ProbeAttribution, ProbeSuite

__all__ = ["attribute_examples"]


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def attribute_examples(lm, suites: list[ProbeSuite], *, method: str) -> list[ProbeSuite]:
    """The suites with their examples' ``attributions`` filled: the preferred prompt and, where there is one, the
    other prompt with the same continuation. One batched call for every example of every suite."""
    from explainers._generation import attribute_generation

    asked = []  # (suite, example, prompt)
    for s, suite in enumerate(suites):
        for e, example in enumerate(suite.examples):
            if example.prompt and example.continuation:
                asked += [(s, e, p) for p in (example.prompt, example.other_prompt) if p]
    if not asked:
        return suites
    continuations = [suites[s].examples[e].continuation for s, e, _ in asked]
    result = attribute_generation(lm, [p for _, _, p in asked], continuations=continuations, method=method)
    found: dict[tuple[int, int], list[ProbeAttribution]] = {}
    for (s, e, _), example in zip(asked, result.examples):
        found.setdefault((s, e), []).append(
            ProbeAttribution(
                method=result.method,
                prompt=example.prompt,
                continuation=example.continuation,
                source_tokens=list(example.source_tokens),
                prompt_length=example.prompt_length,
                target_labels=list(example.target_labels),
                values=[[_finite(v) for v in row] for row in example.values],
                outputs=[float(v) for v in example.outputs],
                base_values=[_finite(v) for v in example.base_values],
                delta=None if example.delta is None else [float(v) for v in example.delta],
                baseline=str(result.meta["baseline"]),
            )
        )
    out = []
    for s, suite in enumerate(suites):
        examples = [dataclasses.replace(ex, attributions=found.get((s, e), [])) for e, ex in enumerate(suite.examples)]
        out.append(dataclasses.replace(suite, examples=examples))
    return out

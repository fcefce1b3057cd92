"""BBQ's bias test takes its templates as the unit: a null simulation (bias that varies by template and averages
zero) keeps its false-positive rate, a planted bias is found, and the item-level sign test's failure is shown."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from audit.probes._bbq import template_ids, template_sign_flip


def _rejections(runs: int, *, templates: int, shift: float):
    from benchmarks.soundness import bbq_rejections

    return bbq_rejections(runs, templates=templates, shift=shift)


@pytest.mark.parametrize("templates", [25, 225])  # one category of BBQ; all nine
def test_bias_that_varies_by_template_and_averages_zero_is_not_called(templates):
    ours, items = _rejections(200, templates=templates, shift=0.0)
    assert ours <= 0.08  # measured: 0.055 (25 templates), 0.04 (225)
    assert items >= 0.5  # the item-level sign test calls most of these runs biased (measured 0.58 and 0.62)


def test_a_planted_bias_is_found_over_templates():
    ours, _ = _rejections(100, templates=225, shift=0.3)
    assert ours >= 0.8  # measured: 1.0 (and 0.74 with 25 templates at twice the shift)


def test_one_answer_per_template_is_the_exact_sign_test():
    signs = np.array([1.0, 1, 1, -1, 1, 1, 1, 1, -1, 1])
    p_value, method, count = template_sign_flip(signs, np.arange(10), seed=0)
    assert count == 10 and method.startswith("exact sign test")
    assert p_value == pytest.approx(binomtest(8, 10, 0.5).pvalue)


def test_templates_are_numbered_within_their_category():
    records = [
        {"category": "Age", "question_index": "1"},
        {"category": "Age", "question_index": "1"},
        {"category": "Race", "question_index": "1"},
        {"category": "Age", "question_index": "2"},
    ]
    codes = template_ids(records)
    assert codes[0] == codes[1] and len({codes[0], codes[2], codes[3]}) == 3

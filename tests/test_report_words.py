"""Sentences generated from the record they describe (issue 32): counts, units, type names, model inputs, intervals
and text taken from the same numbers the report shows, on more than the demo."""

from __future__ import annotations

import json

import numpy as np

from audit.dossiers._sources import worst_slices
from audit.result._sections import ProbeRow, ProbeSuite
from reports._figures import probe_figure


def test_the_dossier_counts_every_confirmed_slice_not_the_ones_it_lists():
    slices = [{"definition": f"age in [{k}, {k + 1})", "rows": 40, "effect": 0.1} for k in range(19)]
    record = {"slices": {"searches": [{"metric": "error_rate", "slices": slices}]}}
    filled = worst_slices(record)
    assert filled.text.startswith("19 confirmed slice(s)") and "the 5 largest" in filled.text
    assert len(filled.rows) == 5


def test_a_paired_suites_chart_is_labelled_with_the_share_it_shows():
    row = ProbeRow(
        category="all",
        measure="stereotype_share_unmodified_tokens",
        role="bias",
        n=40,
        estimate=0.62,
        ci=[0.5, 0.73],
        null_value=0.5,
        p_value=0.01,
        p_holm=0.01,
    )
    suite = ProbeSuite(
        name="crows_pairs",
        description="",
        source="",
        units="nats (log-likelihood difference)",
        items=40,
        items_available=40,
        rows=[row],
        examples=[],
        settings={},
        notes=[],
    )
    title = json.dumps(probe_figure(suite)["layout"]["xaxis"]["title"])
    assert "share of items preferring the stereotype" in title and "nats" not in title


def test_a_model_class_defined_in_a_function_is_named_by_its_module_and_name():
    from audit.models._adapters import SklearnAdapter

    def make():
        class Scorer:
            def predict_proba(self, rows):
                return np.column_stack([np.full(len(rows), 0.4), np.full(len(rows), 0.6)])

        return Scorer()

    summary = SklearnAdapter(make(), positive_label=1).summary()
    assert summary["type"] == f"{__name__}.Scorer" and "<locals>" not in summary["type"]


def test_zero_flips_among_few_texts_get_an_exact_interval_not_zero_width():
    from audit.text._identity_groups import _shift_stats

    stats = _shift_stats(np.arange(4), np.full(4, 0.01), np.zeros(4, bool), n_boot=200, ci_level=0.95, seed=[0, 1])
    assert stats["flip_rate"] == 0 and stats["flip_rate_ci"][0] == 0
    assert abs(stats["flip_rate_ci"][1] - (1 - 0.025**0.25)) < 1e-12  # Clopper-Pearson, 0 of 4: 0.602
    every = _shift_stats(np.arange(4), np.full(4, 0.6), np.ones(4, bool), n_boot=200, ci_level=0.95, seed=[0, 1])
    assert every["flip_rate_ci"][1] == 1 and abs(every["flip_rate_ci"][0] - 0.025**0.25) < 1e-12


def test_the_bundled_tweets_show_where_characters_were_lost_not_debris():
    from audit.demo._demo import heldout_tweets, mark_lost_characters

    assert (
        mark_lost_characters("Interesting by äó\x86äó\x86@HilleltheScribe") == "Interesting by \ufffd@HilleltheScribe"
    )
    assert mark_lost_characters("#Verrí_cktes #x a_b") == "#Verr\ufffdcktes #x a_b"
    texts = heldout_tweets(sample=3000)["text"]
    assert not texts.str.contains(r"[\x80-\x9f]|äó|Õ¢", regex=True).any()
    assert texts.str.contains("\ufffd").sum() > 100

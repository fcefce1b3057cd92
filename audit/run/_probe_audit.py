"""The audit of a generative (causal) language model: the probes of ``[probes]`` on the model where it lives."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

from audit._errors import ConfigError, DataError, ModelError
from audit.config._settings import AuditConfig
from audit.findings._findings import probe_findings, swap_findings
from audit.result._provenance import (
    environment,
    git_commit,
    now_iso,
    package_versions,
    recorded_paths,
    sha256_file,
    sha256_text,
    sha256_tree,
)
from audit.result._records import DataRecord, ModelRecord
from audit.result._result import AuditResult, Failure
from audit.result._sections import Decision, Provenance
from audit.run._steps import Steps, guarded
from audit.probes._suites import run_probes
from explainers._causal_lm import CausalLM

__all__ = ["run_probe_audit", "causal_lm", "read_judge_pairs"]


def causal_lm(config: AuditConfig, model: Any):
    """The model as a ``CausalLM``: passed in (a ``CausalLM``, or a ``(model, tokenizer)`` pair), or loaded from
    model.path (a local folder) and, when model.device names one, moved there (a model passed in never moves)."""

    if isinstance(model, CausalLM):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        return CausalLM(model[0], model[1])
    if model is not None:
        raise ModelError(
            f"A causal-lm audit takes a CausalLM or a (model, tokenizer) pair. Got "
            f"{type(model).__name__}. Wrap it: audit.CausalLM(model, tokenizer)."
        )
    if config.model.path is None:
        raise ConfigError(
            "No model: set model.path to a local folder with a causal language model and its tokenizer "
            "(save_pretrained), or pass model=audit.CausalLM(model, tokenizer) to run_audit()."
        )
    if not Path(config.model.path).is_dir():
        raise ConfigError(
            f"The 'model.path' setting must be a folder written by save_pretrained for a causal-lm "
            f"audit. Got {config.model.path!r}, which is not a folder."
        )
    lm = CausalLM.from_pretrained(config.model.path)
    if config.model.device not in ("auto", "cpu"):
        lm.model.to(config.model.device)
        lm = CausalLM(lm.model, lm.tokenizer)
    return lm


def run_probe_audit(
    config: AuditConfig,
    *,
    model: Any,
    quiet: bool,
    extra_provenance: dict[str, Any] | None,
    config_path: str | None,
    scorer: Callable | None = None,
) -> AuditResult:
    started_at, clock = now_iso(), time.perf_counter()
    hashes = {"config": sha256_file(config_path) if config_path else sha256_text(repr(config.to_dict()))}
    judge_pairs = read_judge_pairs(config) if config.swaps.path is not None else None  # bad input: before any work
    if judge_pairs is not None:
        hashes["judge_pairs"] = sha256_file(config.swaps.path)
    lm = causal_lm(config, model)
    if model is None:
        hashes["model"] = sha256_tree(config.model.path)
    failures: list[Failure] = []
    attributed = config.probes.attributions != "none" and bool({"occupations", "bold"} & set(config.probes.suites))
    steps = Steps(total=len(config.probes.suites) + attributed + (judge_pairs is not None), quiet=quiet)

    def guard(step: str, work):
        steps.start(step)
        outcome = guarded(failures, step, work)
        steps.done()
        return outcome

    try:
        report = run_probes(lm, config.probes, seed=config.seed, guard=guard, scorer=scorer)
        swaps = None
        if judge_pairs is not None:
            swaps = guard("swaps: the model as a pairwise judge", lambda: _judge(lm, config, judge_pairs))
    finally:
        steps.close()
    provenance = Provenance.build(
        {
            "started_at": started_at,
            "finished_at": now_iso(),
            "duration_s": round(time.perf_counter() - clock, 3),
            "seed": config.seed,
            "sha256": hashes,
            "packages": package_versions(),
            "environment": environment(),
            "device": str(lm.device),
            "timings_s": steps.timings,
            "executor": {"name": "in-process", "workers": 1},
            "paths": recorded_paths(
                {"data": None, "model": config.model.path if model is None else None, "config": config_path},
                config_path,
            ),
            "git_commit": git_commit(Path(config_path).parent if config_path else Path.cwd()),
            **(extra_provenance or {}),
        }
    )
    model_config = getattr(lm.model, "config", None)
    summary = {
        "kind": "causal-lm",
        "type": type(lm.model).__name__,
        "architecture": getattr(model_config, "model_type", None),
        "parameters": int(sum(p.numel() for p in lm.model.parameters())),
        "device": str(lm.device),
        "path": config.model.path if model is None else None,
    }
    report = dataclasses.replace(report, model={**report.model, "packing": lm.info.packing})
    return AuditResult(
        title=config.title,
        data=DataRecord(kind="probes", suites=[s.name for s in report.suites]),
        model=ModelRecord.from_dict(summary),
        fairness=[],
        attributions=[],
        findings=probe_findings(report) + swap_findings(swaps),
        failures=failures,
        skipped=[],
        provenance=provenance,
        config=config.to_dict(),
        probes=report,
        decisions=_decisions(lm, config, report) + _judge_decisions(config, judge_pairs),
        swaps=swaps,
    )


JUDGE_COLUMNS = ("prompt", "answer_a", "answer_b")


def read_judge_pairs(config: AuditConfig) -> Any:
    """swaps.path's pairs (a seeded sample of swaps.max_pairs), checked: the three text columns, no empty cell."""
    from audit.data._tables import read_table

    path = config.swaps.path
    if not Path(path).is_file():
        raise ConfigError(f"swaps.path must be a CSV of {', '.join(JUDGE_COLUMNS)}. Got {path!r}, which is not a file.")
    frame = read_table(path, text_columns=JUDGE_COLUMNS)
    absent = [c for c in JUDGE_COLUMNS if c not in frame.columns]
    if absent:
        raise ConfigError(
            f"swaps.path {path!r} lacks the column(s) {absent}; a judge's pairs need {', '.join(JUDGE_COLUMNS)} "
            f"(one prompt and two answers per row). Columns: {', '.join(map(str, frame.columns[:20]))}."
        )
    frame = frame[list(JUDGE_COLUMNS)]
    empty = frame.isna().any(axis=1) | (frame.astype(str).apply(lambda c: c.str.strip()) == "").any(axis=1)
    if empty.any():
        lines = ", ".join(str(i + 2) for i in frame.index[empty][:10])
        raise DataError(
            f"swaps.path {path!r} has {int(empty.sum())} row(s) with an empty prompt or answer (CSV lines {lines}); "
            "fill or remove them."
        )
    if config.swaps.max_pairs and len(frame) > config.swaps.max_pairs:
        frame = frame.sample(config.swaps.max_pairs, random_state=config.seed).sort_index()
    return frame


def _judge_decisions(config: AuditConfig, pairs) -> list[Decision]:
    if pairs is None:
        return []
    settings = config.swaps
    return [
        Decision(
            "judge verdict",
            f"log p({settings.labels[0]!r}) - log p({settings.labels[1]!r})",
            f"the next tokens after the template; a pair with less than {settings.min_answer_mass:g} of probability on "
            "the two labels is left out and counted",
            "swaps.template, swaps.labels, swaps.min_answer_mass",
        ),
        Decision(
            "judge pairs",
            len(pairs),
            f"of {settings.path} (a seeded sample when there are more than swaps.max_pairs = {settings.max_pairs})",
            "swaps.max_pairs (0 = all)",
        ),
        Decision("padding", settings.padding, "how the length test pads an answer", "swaps.padding"),
    ]


def _judge(lm, config: AuditConfig, pairs) -> Any:
    from audit.swaps._judge_audit import judge_audit
    from audit.swaps._judges import CausalLMJudge

    settings = config.swaps
    return judge_audit(
        prompts=pairs["prompt"].astype(str).tolist(),
        answers_a=pairs["answer_a"].astype(str).tolist(),
        answers_b=pairs["answer_b"].astype(str).tolist(),
        judge=CausalLMJudge(
            lm,
            template=settings.template,
            labels=(settings.labels[0], settings.labels[1]),
            min_answer_mass=settings.min_answer_mass,
        ),
        suites=settings.suites,
        lexicons=settings.lexicons,
        padding=settings.padding,
        alpha=settings.alpha,
        seed=config.seed,
        examples=settings.examples,
    )


def _decisions(lm, config: AuditConfig, report) -> list[Decision]:
    info = lm.info
    decisions = [
        Decision(
            "start token",
            info.start_token,
            "every text is scored from its first token on, conditioned on it",
            "the tokenizer's bos/eos tokens",
        ),
        Decision(
            "precision",
            info.precision,
            "float32 on CPU; bf16 (else fp16) autocast on CUDA, log-probabilities in float32",
            'CausalLM(precision="float32")',
        ),
        Decision("device", info.device, "where the model's parameters are (never moved)", "model.device"),
        Decision("shared-prefix packing", info.packing.startswith("on"), info.packing, "CausalLM(packing=False)"),
    ]
    attributions = [a for s in report.suites for e in s.examples for a in e.attributions]
    if attributions:
        decisions.append(
            Decision(
                "probe example attributions",
                config.probes.attributions,
                f"the continuation suites' examples, each side: every continuation token x every token read; baseline "
                f"{attributions[0].baseline}",
                'probes.attributions ("none" to skip)',
            )
        )
    for suite in report.suites:
        if suite.items < suite.items_available:
            decisions.append(
                Decision(
                    f"items of {suite.name}",
                    suite.items,
                    f"a seeded sample of {suite.items_available} available (probes.max_items = "
                    f"{config.probes.max_items})",
                    "probes.max_items (0 = all)",
                )
            )
    return decisions

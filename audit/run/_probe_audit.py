"""The audit of a generative (causal) language model: the probes of ``[probes]`` on the model where it lives."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

from audit._errors import ConfigError, ModelError
from audit.config._settings import AuditConfig
from audit.findings._findings import probe_findings
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

__all__ = ["run_probe_audit", "causal_lm"]


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
    lm = causal_lm(config, model)
    if model is None:
        hashes["model"] = sha256_tree(config.model.path)
    failures: list[Failure] = []
    attributed = config.probes.attributions != "none" and bool({"occupations", "bold"} & set(config.probes.suites))
    steps = Steps(total=len(config.probes.suites) + attributed, quiet=quiet)

    def guard(step: str, work):
        steps.start(step)
        outcome = guarded(failures, step, work)
        steps.done()
        return outcome

    try:
        report = run_probes(lm, config.probes, seed=config.seed, guard=guard, scorer=scorer)
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
        findings=probe_findings(report),
        failures=failures,
        skipped=[],
        provenance=provenance,
        config=config.to_dict(),
        probes=report,
        decisions=_decisions(lm, config, report),
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

"""An audit's steps: progress and timings, and a crash recorded as a Failure instead of ending the audit.
Shared by the tabular/text runner and the language-model probe audit."""

from __future__ import annotations

import time
import traceback

from audit.result._result import Failure

__all__ = ["Steps", "guarded"]


class Steps:
    """Progress over the audit's steps (a tqdm bar on stderr unless quiet)."""

    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc="audit", unit="step", disable=quiet, leave=False)
        self.timings: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def start(self, name: str) -> None:
        self._bar.set_postfix_str(name)
        self._current = (name, time.perf_counter())

    def done(self) -> None:
        if self._current is not None:
            name, began = self._current
            self.timings[name] = round(time.perf_counter() - began, 4)
        self._current = None
        self._bar.update(1)

    def skip(self) -> None:
        """A counted step that did not run (recorded under ``skipped``)."""
        self._current = None
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def guarded(failures: list[Failure], step: str, work):
    """Run one audit step; a crash becomes a recorded Failure instead of ending the audit."""
    try:
        return work()
    except Exception as err:  # recorded, shown in the report, never dropped
        failures.append(
            Failure(step=step, error_type=type(err).__name__, message=str(err), traceback=traceback.format_exc(limit=8))
        )
        return None

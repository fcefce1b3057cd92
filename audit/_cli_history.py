"""``audit history``: a store's audits and monitored streams as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["history_command"]


def history_command(args: Any) -> int:
    """``audit history --store URL``: the stored audits and monitored streams as one HTML page."""
    from audit.run._output import write_atomically
    from audit.store._store import _shown, open_store
    from reports._history import render_history

    with open_store(args.store) as store:
        audits = store.audits()
        windows = store.windows(args.stream)
    html = render_history(audits, windows, title=args.title, store=_shown(str(args.store)))
    output = Path(args.out)
    write_atomically({output: html})
    print(f"History: {output} ({len(audits)} audit(s), {len({w['window_start'] for w in windows})} window(s)).")
    return 0

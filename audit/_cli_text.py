"""What every `audit` command shares: exit codes, one-line output with control characters escaped, the bad-input
error."""

from __future__ import annotations

import re
import sys
from audit._errors import ConfigError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CRASH",
    "EXIT_ENVIRONMENT",
    "EXIT_OK",
    "EXIT_POLICY",
    "number",
    "raise_config",
    "say",
]

EXIT_OK, EXIT_POLICY, EXIT_BAD_INPUT, EXIT_CRASH, EXIT_ENVIRONMENT = 0, 1, 2, 3, 4
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def say(*parts, file=None, **kwargs) -> None:
    """Print one line with control characters escaped: a newline or an escape sequence in a group name must not
    forge a line in a CI log (``::error::``) or drive the terminal."""
    text = " ".join(str(p) for p in parts)
    print(
        _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text),
        file=file if file is not None else sys.stdout,
        **kwargs,
    )


def number(value) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def raise_config(message: str):
    raise ConfigError(message)

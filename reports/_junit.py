"""JUnit XML for the policy gate: one testcase per rule and scope, so CI systems show each check."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from typing import Any

__all__ = ["render_junit"]


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    """Text that XML 1.0 can hold: characters it forbids (vertical tab, ESC, ...) are shown as \\xNN."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def render_junit(gate: dict[str, Any], *, suite_name: str = "audit-policy") -> str:
    """``gate`` is ``GateResult.to_dict()``. Fails and errors of warning severity are reported as passed
    testcases with a system-out note, since they do not block the release."""
    outcomes = gate["outcomes"]
    blocking = [o for o in outcomes if o["severity"] == "error"]
    suites = ElementTree.Element("testsuites", name=suite_name)
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(outcomes)),
        failures=str(sum(o["status"] == "fail" for o in blocking)),
        errors=str(sum(o["status"] == "error" for o in blocking)),
        skipped=str(sum(o["status"] in ("skipped", "not applicable") for o in outcomes)),
    )
    for outcome in outcomes:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=_xml_text(f"{outcome['policy']}.{outcome['rule']}"),
            name=_xml_text(outcome["scope"]),
        )
        status, message = outcome["status"], _xml_text(outcome["message"])
        if status in ("skipped", "not applicable"):
            ElementTree.SubElement(
                case, "skipped", message=message if status == "skipped" else f"not applicable: {message}"
            )
        elif status in ("fail", "error") and outcome["severity"] == "error":
            tag = "failure" if status == "fail" else "error"
            ElementTree.SubElement(case, tag, message=message, type=f"policy-{status}").text = message
        elif status in ("fail", "error"):
            ElementTree.SubElement(case, "system-out").text = f"warning ({status}): {message}"
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"

"""What a scan found, and the three errors the loading API raises (nothing else escapes it)."""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("critical", "high", "medium")


def finding(severity: str, reason: str, *, global_name: str | None = None, opcode: str | None = None,
            position: int | None = None) -> dict:
    """One finding as a JSON-safe dict; `global` is the dotted name involved, if any."""
    assert severity in SEVERITIES
    return {"severity": severity, "global": global_name, "opcode": opcode, "position": position, "reason": reason}


def describe(item: dict) -> str:
    """`os.system via STACK_GLOBAL at byte 42: reason` with the parts a finding has."""
    text = item.get("global") or "artifact"
    if item.get("opcode"):
        text += f" via {item['opcode']}"
    if item.get("position") is not None:
        text += f" at byte {item['position']}"
    return f"{text}: {item['reason']}"


@dataclass
class ScanReport:
    flavour: str
    findings: list[dict] = field(default_factory=list)
    scanned: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {"ok": self.ok, "flavour": self.flavour, "findings": [dict(f) for f in self.findings],
                "scanned": self.scanned}


class UnsafeArtifact(Exception):
    """The file would run code or reach outside the model (or cannot be proven not to)."""

    def __init__(self, report: ScanReport):
        self.report = report
        super().__init__("; ".join(describe(f) for f in report.findings) or "unsafe artifact")


class CorruptArtifact(Exception):
    """The file is not a well-formed model of the flavour it claims to be."""


class UnsupportedFlavour(Exception):
    """The flavour (or a variant of it, such as lz4 compression) is not one Bulwark loads."""

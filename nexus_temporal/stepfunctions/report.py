"""The conversion report: what was converted, approximated or is unsupported, per ASL state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["converted", "approximated", "unsupported"]
KINDS: tuple[Kind, ...] = ("converted", "approximated", "unsupported")


@dataclass(frozen=True)
class ReportItem:
    """One finding of a conversion.

    Attributes:
        state: the ASL state name ("" for the machine as a whole).
        kind: ``converted``, ``approximated`` or ``unsupported``.
        message: what was done, and for the last two kinds what the user must do.
    """

    state: str
    kind: str
    message: str


def counts(items: Iterable[ReportItem]) -> dict[str, int]:
    """How many items of each kind (every kind present, possibly 0)."""
    out: dict[str, int] = dict.fromkeys(KINDS, 0)
    for item in items:
        out[item.kind] = out.get(item.kind, 0) + 1
    return out


def summary_line(name: str, items: list[ReportItem]) -> str:
    """One line per file, as ``nexus migrate`` prints it."""
    c = counts(items)
    return (
        f"{name}: {c['converted']} converted, {c['approximated']} approximated, "
        f"{c['unsupported']} unsupported"
    )


def render_markdown(title: str, items: list[ReportItem], functions: list[str]) -> str:
    """The ``<name>.report.md`` file: a summary, then one table row per finding."""
    c = counts(items)
    lines = [
        f"# Step Functions migration report: {title}",
        "",
        f"- converted: {c['converted']}",
        f"- approximated: {c['approximated']}",
        f"- unsupported: {c['unsupported']}",
        "",
    ]
    if functions:
        lines += ["## Functions to supply", ""]
        lines += [f"- `{f}`" for f in functions]
        lines += [
            "",
            "Edit their targets under `functions:` in the generated YAML "
            "(e.g. `python:my_module:handler` or `aws-lambda:NAME`).",
            "",
        ]
    lines += ["## Findings", "", "| state | kind | what / what to do |", "| --- | --- | --- |"]
    order = {k: i for i, k in enumerate(("unsupported", "approximated", "converted"))}
    for item in sorted(items, key=lambda i: order.get(i.kind, 3)):
        state = item.state.replace("|", "\\|") or "(machine)"
        message = item.message.replace("|", "\\|")
        lines.append(f"| {state} | {item.kind} | {message} |")
    return "\n".join(lines) + "\n"

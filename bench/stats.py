"""Percentiles, medians of rounds, and the printed table."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of `values`; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass
class Spread:
    """One figure over several rounds: median, min and max."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else math.nan

    def show(self, digits: int = 1) -> str:
        if not self.values:
            return "–"
        if len(self.values) == 1:
            return f"{self.values[0]:.{digits}f}"
        return (f"{self.median:.{digits}f} [{min(self.values):.{digits}f}–"
                f"{max(self.values):.{digits}f}]")


@dataclass
class Row:
    figure: str
    subject: Spread
    baseline: Spread
    ratio: Spread
    unit: str = ""
    target: str = ""
    verdict: str = ""
    digits: int = 1


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        header = ["figure", "unit", "subject median [min–max]", "baseline median [min–max]",
                  "ratio median [min–max]", "target", ""]
        body = [[r.figure, r.unit, r.subject.show(r.digits), r.baseline.show(r.digits),
                 r.ratio.show(2), r.target, r.verdict] for r in self.rows]
        widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
        lines = [f"## {self.title}", ""]
        lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for line in body:
            lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
                         + " |")
        lines.extend(["", *self.notes])
        return "\n".join(lines)

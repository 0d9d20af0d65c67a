"""Results as rows against targets: plain-text tables for the terminal and JSON for the file."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.measure import Timing


@dataclass(frozen=True)
class Target:
    """A limit a figure must stay within (or, with at_least, reach)."""

    limit: float
    unit: str
    at_least: bool = False

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit

    def __str__(self) -> str:
        unit = self.unit if self.unit == "×" else f" {self.unit}"
        return f"{'≥' if self.at_least else '≤'} {self.limit:g}{unit}"


@dataclass(frozen=True)
class Row:
    """One figure: several timed runs, or a single value (a ratio, megabytes)."""

    name: str
    timing: Timing | None = None
    value: float | None = None
    unit: str = "ms"
    target: Target | None = None

    @property
    def figure(self) -> float:
        """What the target is checked against: the median of the runs, or the value."""
        return self.timing.median if self.timing is not None else float(self.value)

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.target.met(self.figure)

    def as_json(self) -> dict:
        out: dict = {"name": self.name, "unit": self.unit}
        if self.timing is not None:
            out.update(self.timing.as_json())
        else:
            out["value"] = round(self.value, 3)
        if self.target is not None:
            out["target"] = str(self.target)
            out["passed"] = self.passed
        return out


@dataclass
class Section:
    """One numbered part of the report."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "title": self.title,
            "rows": [r.as_json() for r in self.rows],
            "notes": self.notes,
        }


@dataclass
class Growth:
    """The same measures at several sizes: medians in ms, compared with the smallest size."""

    sizes: list[int]
    measures: dict[str, dict[int, Timing]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "sizes": self.sizes,
            "measures": {
                name: {str(size): t.as_json() for size, t in by_size.items()}
                for name, by_size in self.measures.items()
            },
            "notes": self.notes,
        }


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.0f}"


def _table(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(_width(c) for c in column) for column in zip(header, *lines, strict=True)]
    rule = "  ".join("-" * w for w in widths)
    out = [_row(header, widths), rule, *(_row(line, widths) for line in lines)]
    return "\n".join(out)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _row(cells: list[str], widths: list[int]) -> str:
    padded = [
        cell + " " * (w - _width(cell)) if i == 0 else " " * (w - _width(cell)) + cell
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
    ]
    return "  ".join(padded).rstrip()


def format_section(section: Section) -> str:
    header = ["measure", "min", "median", "max", "unit", "target", "result"]
    lines = []
    for r in section.rows:
        if r.timing is not None:
            t = r.timing
            figures = [_number(t.min, r.unit), _number(t.median, r.unit), _number(t.max, r.unit)]
        else:
            figures = ["", _number(r.value, r.unit), ""]
        result = "" if r.passed is None else ("PASS" if r.passed else "FAIL")
        unit = "" if r.unit == "×" else r.unit
        lines.append([r.name, *figures, unit, str(r.target or ""), result])
    parts = [section.title, _table(header, lines)] if lines else [section.title]
    parts += [f"  note: {n}" for n in section.notes]
    return "\n".join(parts)


def format_growth(growth: Growth) -> str:
    header = ["median ms (× the smallest size)", *(f"{s:,} rows" for s in growth.sizes)]
    lines = []
    for name, by_size in growth.measures.items():
        base = by_size.get(growth.sizes[0])
        cells = []
        for size in growth.sizes:
            t = by_size.get(size)
            if t is None:
                cells.append("")
            elif base is None or size == growth.sizes[0]:
                cells.append(_number(t.median, "ms"))
            else:
                cells.append(f"{_number(t.median, 'ms')} (×{t.median / base.median:.1f})")
        lines.append([name, *cells])
    parts = ["6. Growth", _table(header, lines)]
    parts += [f"  note: {n}" for n in growth.notes]
    return "\n".join(parts)

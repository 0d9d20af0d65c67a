"""python -m bench: the benchmark of issue 4 — ingest, figures, pages, browser, memory, growth.

Prints a table per section (with the issue's targets) and writes every figure as JSON.
The data sets are built on first use under bench/.data/ and in the kpi_bench database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Sequence
from pathlib import Path

from bench import browser, data, figures, ingest, pages
from bench.measure import Timing, machine
from bench.report import Growth, Row, Section, format_growth, format_section

SECTIONS = ("ingest", "figures", "pages", "browser", "growth")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TARGET_SIZE = 1_000_000  # the targets are for a store of this many visa rows
SQLITE, POSTGRES = "SQLite", "PostgreSQL"
OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are whole numbers: {text!r}") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"sizes are positive numbers of rows: {text!r}")
    return sizes


def _sections(text: str) -> tuple[str, ...]:
    chosen = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SECTIONS)}; not {text!r}")
    return chosen


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, help="visa rows per store (default 10k,100k,1M)")
    parser.add_argument("--runs", type=int, help="runs per timing (default 5)")
    parser.add_argument("--only", type=_sections, default=SECTIONS, help=",".join(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="sizes 10k,100k and 2 runs")
    parser.add_argument("--rebuild", action="store_true", help="build every data set afresh")
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON file (default {OUT})")
    args = parser.parse_args(argv)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.runs is None:
        args.runs = 2 if args.quick else 5
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


class Stores:
    """The stores this run uses, each checked (and built if need be) once."""

    def __init__(self, rebuild: bool, postgres: bool) -> None:
        self.rebuild = rebuild
        self.postgres = postgres
        self._urls: dict[tuple[str, int], str] = {}

    def url(self, dialect: str, size: int) -> str:
        if (dialect, size) not in self._urls:
            build = data.sqlite_store if dialect == SQLITE else data.pg_store
            self._urls[dialect, size] = build(size, self.rebuild)
        return self._urls[dialect, size]

    @property
    def dialects(self) -> tuple[str, ...]:
        return (SQLITE, POSTGRES) if self.postgres else (SQLITE,)


def _all_pages_cold(result: pages.PagesResult) -> Timing:
    """Every page's cold run added up, run by run."""
    per_run = zip(*(p.cold.runs_ms for p in result.pages.values()), strict=True)
    return Timing(tuple(sum(run) for run in per_run))


class Run:
    """One benchmark run: its options, its stores and the figures measured so far.

    Figures and pages at a size are measured once and shared by their own section and
    the growth table.
    """

    def __init__(self, args: argparse.Namespace, pg_version: str | None) -> None:
        self.args = args
        self.stores = Stores(args.rebuild, postgres=pg_version is not None)
        self.largest = args.sizes[-1]
        self.rows = f"{self.largest:,} visa rows"
        self.caveats = []
        if self.largest != TARGET_SIZE:
            self.caveats.append(f"the targets are for {TARGET_SIZE:,} visa rows")
        if pg_version is None:
            self.caveats.append(f"no PostgreSQL answered at {data.PG_SERVER}: its rows are skipped")
        self.status: dict[tuple[str, int], figures.StatusTimes] = {}
        self.page_times: dict[tuple[str, int], pages.PagesResult] = {}
        self.served: browser.BrowserResult | None = None

    def status_at(self, dialect: str, size: int) -> figures.StatusTimes:
        if (dialect, size) not in self.status:
            url = self.stores.url(dialect, size)
            self.status[dialect, size] = figures.measure(url, self.args.runs)
        return self.status[dialect, size]

    def pages_at(self, dialect: str, size: int) -> pages.PagesResult:
        if (dialect, size) not in self.page_times:
            url = self.stores.url(dialect, size)
            self.page_times[dialect, size] = pages.measure(url, self.args.runs)
        return self.page_times[dialect, size]

    # -- the sections, in the order ---------------------------------------------------

    def ingest(self) -> Section:
        workbook = data.ingest_workbook(self.args.rebuild)
        return ingest.run(workbook, self.args.runs, data.DATA_DIR / "ingest")

    def figures(self) -> Section:
        s = Section(f"2. Figures — status({figures.YEAR}, Q{figures.QUARTER}), {self.rows}")
        for dialect in self.stores.dialects:
            s.rows += figures.rows(dialect, self.status_at(dialect, self.largest))
        s.notes = [
            "cold: the first call in a fresh process, after start-up; warm: the next calls",
            *self.caveats,
        ]
        return s

    def pages(self) -> Section:
        s = Section(f"3. Pages — AppTest, server-side run time, {self.rows}")
        s.notes = [
            "cold: after st.cache_data.clear() (the engine resource stays); "
            "warm: the same session's next run",
            "the app's default view: the newest year and its latest quarter with data",
        ]
        for dialect in self.stores.dialects:
            result = self.pages_at(dialect, self.largest)
            s.rows += pages.rows(result, label=f"{dialect} ")
            s.notes += pages.error_notes(result, label=f"{dialect} ")
        s.notes += self.caveats
        return s

    def browser(self) -> Section:
        log = data.DATA_DIR / "streamlit.log"
        self.served = browser.run(self.stores.url(SQLITE, self.largest), self.args.runs, log)
        s = Section(f"4. Browser — headless Chromium, the overview, SQLite, {self.rows}")
        s.rows = self.served.rows()
        s.notes = [
            "from the start of navigation until every Plotly chart has drawn and the app is idle",
            "new browser: a new context per visit (nothing cached); returning: a new tab in a "
            "context with the app's assets cached; the server's caches are warm for both",
            *(f"browser error: {e}" for e in self.served.errors),
            *self.caveats,
        ]
        return s

    def memory(self) -> Section:
        s = Section(f"5. Memory — {self.rows}")
        if self.served is not None:
            s.rows += self.served.memory_rows()
            s.notes.append(
                f"the server after the timed visits and a visit of each of the "
                f"{len(self.served.pages)} pages"
            )
        if (SQLITE, self.largest) in self.page_times:
            p = self.page_times[SQLITE, self.largest]
            label = "bench process running AppTest (3, SQLite)"
            s.rows += [
                Row(f"{label}: peak RSS after imports", value=p.peak_rss_start_mb, unit="MB"),
                Row(f"{label}: peak RSS at the end", value=p.peak_rss_end_mb, unit="MB"),
                Row(
                    f"{label}: growth of the peak",
                    value=p.peak_rss_end_mb - p.peak_rss_start_mb,
                    unit="MB",
                ),
            ]
            s.notes.append("AppTest runs the pages inside a bench process, not in a server")
        return s

    def growth(self) -> Growth:
        g = Growth(list(self.args.sizes))
        for size in self.args.sizes:
            for dialect in self.stores.dialects:
                cold = self.status_at(dialect, size).cold
                g.measures.setdefault(f"status cold, {dialect}", {})[size] = cold
            result = self.pages_at(SQLITE, size)
            for key, p in result.pages.items():
                g.measures.setdefault(f"page {key} cold, SQLite", {})[size] = p.cold
            g.measures.setdefault("all pages cold, SQLite", {})[size] = _all_pages_cold(result)
        g.notes = [
            f"every store also holds {data.VISITS_ROWS:,} visits and "
            f"{len(data.BUDGET_YEARS)} years of budget execution"
        ]
        return g


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    pg_version = data.pg_version()
    run = Run(args, pg_version)
    print(f"bench: sizes {', '.join(f'{s:,}' for s in args.sizes)}; {args.runs} runs", flush=True)
    steps = [
        ("ingest", run.ingest),
        ("figures", run.figures),
        ("pages", run.pages),
        ("browser", run.browser),
        ("memory", run.memory),
        ("growth", run.growth),
    ]
    # Memory has no option of its own: it reports what pages and browser measured.
    wanted = set(args.only) | ({"memory"} if {"pages", "browser"} & set(args.only) else set())
    done: list[Section | Growth] = []
    for name, step in steps:
        if name in wanted:
            print(f"bench: {name} …", flush=True)
            result = step()
            text = format_growth(result) if isinstance(result, Growth) else format_section(result)
            print(f"\n{text}\n", flush=True)
            done.append(result)
    elapsed = time.perf_counter() - started
    document = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(pg_version),
        "options": {"sizes": list(args.sizes), "runs": args.runs, "only": list(args.only)},
        "data": {str(size): data.parameters(size) for size in args.sizes},
        "sections": [r.as_json() for r in done if isinstance(r, Section)],
        "growth": next((r.as_json() for r in done if isinstance(r, Growth)), None),
        "elapsed_s": round(elapsed, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"bench: done in {elapsed / 60:.1f} min; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Writers at the same moment end as some serial order of their writes, on SQLite and PostgreSQL.

Each session (a thread with its own Store, or a spawned process) opens the database when
the others do and then, round by round on a barrier, imports an overlapping file, undoes
a batch, or has a guard refuse its import. Afterwards the audit log gives the order in
which the writes were serialised; the test replays that order on a model built from the
files alone and checks the store against it: the current rows, one current version per
key, the counts every import reported and recorded, each batch's versions (no half
batch), what undo left current, and the summaries.

Nothing here sleeps or retries: a "database is locked" is a failure, not a flake.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import threading
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import pytest
import sqlalchemy as sa

from kpi.engine import Engine
from kpi.ingest.datasets import DATASETS
from kpi.schema import audit, batch_files
from kpi.store import ROW_TABLES, Store, StoreError
from tests.test_import import BUDGET_HEAD, VISA_HEAD
from tests.test_rollups import assert_summaries_match_rows
from tests.test_store import budget, canon, current_versions_per_key, kpi_values, visa, visits
from tests.workbooks import xlsx_bytes

# Only a guard against a hang: a session that dies breaks the barrier for the others at once.
WAIT = 60
PROGRAM = "國際會議及交流"
REFUSAL_EN = "The quarter is closed."


# -- what sessions do, and what they report -----------------------------------------------


@dataclass(frozen=True)
class Upload:
    """Frames imported with Store.import_frames; ``refuse`` adds a guard that raises."""

    name: str
    frames: dict[str, pd.DataFrame]
    replace: bool = False
    refuse: bool = False


@dataclass(frozen=True)
class Workbook:
    """An .xlsx imported with Engine.import_bytes."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Undo:
    """Undo a batch; None undoes the batch this session wrote last."""

    batch: int | None = None


Op = Upload | Workbook | Undo | None  # None: this session sits the round out


@dataclass(frozen=True)
class Done:
    """One operation as its session saw it."""

    op: str  # import | undo
    name: str = ""
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    replace: bool = False
    batch: int | None = None
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    refused: str | None = None  # the StoreError's English message


def _refuse(conn, frames) -> None:
    raise StoreError("本季已關帳。", REFUSAL_EN)


def _perform(store: Store, engine: Engine | None, op: Op, done: list[Done]) -> Done:
    if isinstance(op, Undo):
        batch = op.batch
        if batch is None:
            batch = next(d.batch for d in reversed(done) if d.op == "import" and d.batch)
        try:
            store.undo(batch)
        except StoreError as exc:
            return Done("undo", batch=batch, refused=exc.message_en)
        return Done("undo", batch=batch)
    if isinstance(op, Workbook):
        result = engine.import_bytes(op.content, op.name)
        assert result.status == "imported", [p.message_en for p in result.report.errors]
        frames = {
            name: f.drop(columns=[c for c in ("_sheet", "_row") if c in f])
            for name, f in result.report.frames.items()
        }
        changes = {name: c.as_dict() for name, c in result.changes.items()}
        return Done("import", op.name, frames, batch=result.batch, changes=changes)
    try:
        out = store.import_frames(
            op.frames,
            file_name=op.name,
            content=op.name.encode(),
            replace_quarters=op.replace,
            guard=_refuse if op.refuse else None,
        )
    except StoreError as exc:
        if not op.refuse:
            raise
        return Done("import", op.name, op.frames, op.replace, refused=exc.message_en)
    changes = {name: c.as_dict() for name, c in out.changes.items()}
    return Done("import", op.name, op.frames, op.replace, out.batch_id, changes)


def run_session(url: str, rounds: list[Op], barrier) -> list[Done]:
    """Open the store when the other sessions do, then do one operation per round."""
    try:
        barrier.wait(WAIT)
        store = Store(url)
        try:
            needs_engine = any(isinstance(op, Workbook) for op in rounds)
            engine = Engine(store) if needs_engine else None
            done: list[Done] = []
            for op in rounds:
                barrier.wait(WAIT)
                if op is not None:
                    done.append(_perform(store, engine, op, done))
            return done
        finally:
            store.dispose()
    except BaseException:
        barrier.abort()
        raise


def run_threads(url: str, sessions: list[list[Op]]) -> list[Done]:
    """Each session in a thread of its own, with its own Store (its own engine and pool)."""
    barrier = threading.Barrier(len(sessions))
    with ThreadPoolExecutor(len(sessions)) as pool:
        futures = [pool.submit(run_session, url, rounds, barrier) for rounds in sessions]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        # The first session that failed broke the barrier for the others: show its error.
        raise next(
            (e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0]
        )
    return [d for f in futures for d in f.result()]


def _child(url: str, rounds: list[Op], barrier, results) -> None:
    try:
        results.put(("done", run_session(url, rounds, barrier)))
    except BaseException:
        results.put(("failed", traceback.format_exc()))


def run_processes(url: str, sessions: list[list[Op]]) -> list[Done]:
    """Each session in a spawned process: nothing inherited, the child opens the URL itself."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(sessions)), ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(url, rounds, barrier, results)) for rounds in sessions
    ]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=2 * WAIT) for _ in procs]
    except queue.Empty:
        outcomes = [("failed", "a session process neither finished nor reported an error")]
    finally:
        for p in procs:
            p.join(WAIT)
            if p.is_alive():
                p.kill()
    failed = [text for kind, text in outcomes if kind == "failed"]
    if failed:
        pytest.fail("\n".join(failed))
    return [d for _, done in outcomes for d in done]


def run_serially(store: Store, ops: list[Op]) -> list[Done]:
    done: list[Done] = []
    for op in ops:
        done.append(_perform(store, None, op, done))
    return done


# -- files ----------------------------------------------------------------------------------


def upload(
    name: str, n: int, variant: int, *, replace: bool = False, refuse: bool = False
) -> Upload:
    """A file with rows every file has (values set by ``variant``) and rows of session n's own.

    Files of different n also share the visa key of month 1 + n mod 3 and the indicator
    key of quarter 1 + n mod 4. Budget month 4 + n and visit 訪日團n are n's alone, though a
    file that replaces its quarters removes the other files' visits of the first quarter.
    """
    v = variant
    own_day = f"2019-{1 + n % 3:02d}-{10 + n:02d}"
    frames = {
        "budget": budget(
            [
                (108, 3, "外交部", "外交管理業務", "經常門", 240_961, 60_000, 52_000 + v, 0),
                (108, 3, "外交部", "營建工程", "資本門", 355_582, 80_000, 20_000, 0),
                (108, 4 + n, "領事事務局", "一般行政", "經常門", 277_956, 70_000, v, 500),
            ]
        ),
        "visa": visa(
            [
                (108, 1, "駐日本代表處", "亞太", "停留簽證", 1200, 1150 - v, 50 + v, 4.2),
                (108, 1 + n % 3, "駐美國代表處", None, "居留簽證", 300 + n, 290, 10, v or None),
            ]
        ),
        "visits": visits(
            [
                ("2019-01-05", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團", 8 + v, PROGRAM),
                (own_day, "出訪", "日本", "官員", f"訪日團{n}", n, PROGRAM),
                ("2019-05-02", "來訪", "美國", "部長", "美國商務部長訪團", 12, PROGRAM),
            ]
        ),
        "kpi_values": kpi_values(
            [("K4.1", 108, 1, 48 + v, None), ("K5.1", 108, 1 + n % 4, 1310 + n, f"第{n}版")]
        ),
    }
    return Upload(name, frames, replace, refuse)


def private_upload(name: str) -> Upload:
    """Keys no other file here has: after its first import, the same file writes nothing."""
    frames = {
        "budget": budget([(108, 12, "外交部", "國際合作業務", "經常門", 9_000, 4_000, 1_000, 0)]),
        "kpi_values": kpi_values([("K6.2", 108, 4, 0.9, "年底")]),
    }
    return Upload(name, frames)


def workbook(name: str, n: int, variant: int) -> Workbook:
    """A budget sheet (through March or June, by n and variant) and a visa sheet."""
    through = 3 if (n + variant) % 2 == 0 else 6
    budget_sheet = [
        ["外交部108年度預算執行表"],
        [f"中華民國108年1月至{through}月", "", "", "", "", "單位：新臺幣千元"],
        BUDGET_HEAD,
        ["外交管理業務", "經常門", 240_961, 60_000, 52_000 + variant, 1_200, ""],
        ["一般行政", "經常門", 277_956, 70_000, 65_000, 500 + n, ""],
    ]
    visa_sheet = [
        ["108年簽證核發統計"],
        VISA_HEAD,
        ["108/01", "駐日本代表處", "亞太", "停留簽證", 1200, 1150 - variant, 50 + variant, 4.5],
        [f"108/{1 + n % 3:02d}", "駐美國代表處", "北美", "居留簽證", 80 + n, 75, 5, ""],
    ]
    return Workbook(name, xlsx_bytes({"預算": budget_sheet, "簽證": visa_sheet}))


# -- the serial model -------------------------------------------------------------------------

Rows = dict[str, dict[tuple, tuple]]  # dataset → key → the row's stored fields, plain values


def plain_rows(frames: dict[str, pd.DataFrame]) -> Rows:
    out: Rows = {}
    for name, frame in frames.items():
        ds = DATASETS[name]
        cols = [f.name for f in ds.stored_fields]
        at = [cols.index(k) for k in ds.key]
        out[name] = {}
        for row in frame[cols].itertuples(index=False, name=None):
            row = tuple(canon(v) for v in row)
            out[name][tuple(row[i] for i in at)] = row
    return out


_VISIT_DATE = [f.name for f in DATASETS["visits"].stored_fields].index("date")


def _visit_quarter(row: tuple) -> tuple[str, int]:
    date = row[_VISIT_DATE]  # ISO text
    return date[:4], (int(date[5:7]) - 1) // 3


@dataclass(frozen=True)
class Effect:
    """What a batch wrote: its rows, and the keys it removed (tombstones)."""

    rows: Rows
    removed: dict[str, set[tuple]]


def compare(rows: Rows, replace: bool, state: Rows) -> tuple[dict[str, dict[str, int]], Effect]:
    """A file's counts against a state, and what importing it there writes."""
    changes, removed = {}, {}
    for name, mine in rows.items():
        held = state.get(name, {})
        gone: set[tuple] = set()
        if replace and name == "visits":
            quarters = {_visit_quarter(r) for r in mine.values()}
            gone = {k for k, r in held.items() if _visit_quarter(r) in quarters and k not in mine}
        changes[name] = {
            "new": sum(k not in held for k in mine),
            "changed": sum(k in held and held[k] != r for k, r in mine.items()),
            "unchanged": sum(held.get(k) == r for k, r in mine.items()),
            "removed": len(gone),
        }
        removed[name] = gone
    return changes, Effect(rows, removed)


def fold(effects: list[Effect]) -> Rows:
    """The rows that writing these batches one after the other leaves."""
    state: Rows = {name: {} for name in DATASETS}
    for e in effects:
        for name, mine in e.rows.items():
            for k in e.removed[name]:
                state[name].pop(k, None)
            state[name].update(mine)
    return state


def writes(changes: dict[str, dict[str, int]]) -> bool:
    return any(c["new"] or c["changed"] or c["removed"] for c in changes.values())


def totals(changes: dict[str, dict[str, int]]) -> tuple[int, int, int, int]:
    return tuple(
        sum(c[k] for c in changes.values()) for k in ("new", "changed", "unchanged", "removed")
    )


# -- reading the store back -------------------------------------------------------------------


def write_history(store: Store) -> list[tuple[str, int]]:
    """(import | undo, batch) in the order the writes committed (audit ids are serial)."""
    q = (
        sa.select(audit.c.action, audit.c.detail)
        .where(audit.c.action.in_(("import", "undo")))
        .order_by(audit.c.id)
    )
    with store.read() as conn:
        return [(action, json.loads(detail)["batch"]) for action, detail in conn.execute(q)]


def versions_per_batch(store: Store, current_only: bool = False) -> Counter:
    counts: Counter = Counter()
    with store.read() as conn:
        for t in ROW_TABLES.values():
            q = sa.select(t.c.batch_id, sa.func.count()).group_by(t.c.batch_id)
            if current_only:
                q = q.where(t.c.current)
            for batch, n in conn.execute(q):
                counts[batch] += n
    return counts


def stored_files(store: Store) -> set[int]:
    with store.read() as conn:
        return set(conn.execute(sa.select(batch_files.c.batch_id)).scalars())


def assert_some_serial_order(store: Store, done: list[Done]) -> None:
    """The store holds what the committed writes give one after the other, and nothing else."""
    imports = [d for d in done if d.op == "import"]
    by_batch = {d.batch: d for d in imports if d.batch is not None}
    assert len(by_batch) == sum(d.batch is not None for d in imports), "a batch id reported twice"
    listed = {b.id: b for b in store.batches()}
    assert set(listed) == set(by_batch), "a written batch is missing, or one nobody wrote is listed"
    assert stored_files(store) == set(listed)
    history = write_history(store)
    # Imports commit in the order of their batch ids, each once.
    assert [b for action, b in history if action == "import"] == sorted(by_batch)
    undone = [b for action, b in history if action == "undo"]
    assert sorted(undone) == sorted(d.batch for d in done if d.op == "undo" and not d.refused)
    for d in done:
        if d.op == "undo" and d.refused:
            assert d.batch in undone and "already been undone" in d.refused

    effects: dict[int, Effect] = {}
    active: list[int] = []
    states: list[Rows] = []
    for action, batch in history:
        state = fold([effects[b] for b in sorted(active)])
        states.append(state)
        if action == "undo":
            active.remove(batch)
            continue
        d, info = by_batch[batch], listed[batch]
        changes, effects[batch] = compare(plain_rows(d.frames), d.replace, state)
        assert d.changes == changes, f"batch {batch} ({d.name}) counted against another state"
        assert (info.new, info.changed, info.unchanged, info.removed) == totals(changes)
        assert (info.file_name, info.rows) == (d.name, sum(len(f) for f in d.frames.values()))
        active.append(batch)
    final = fold([effects[b] for b in sorted(active)])
    states.append(final)

    for d in imports:
        if d.refused:
            assert d.refused == REFUSAL_EN
        elif d.batch is None:
            # Nothing to write is only right where the file matched the store exactly.
            assert not writes(d.changes)
            assert any(
                compare(plain_rows(d.frames), d.replace, s)[0] == d.changes for s in states
            ), f"{d.name} reported nothing to write, which holds at no point of the serial order"

    assert plain_rows({name: store.current_rows(name) for name in DATASETS}) == final
    assert current_versions_per_key(store) <= 1
    # Every batch wrote all of its versions; undone batches keep none current.
    expected = {b: listed[b].rows + listed[b].removed for b in listed}
    assert dict(versions_per_batch(store)) == expected
    assert not set(versions_per_batch(store, current_only=True)) & set(undone)
    for b, info in listed.items():
        assert info.status == ("undone" if b in undone else "active")
    assert_summaries_match_rows(store)


def check(url: str, done: list[Done]) -> None:
    store = Store(url)
    try:
        assert_some_serial_order(store, done)
    finally:
        store.dispose()


# -- threads ------------------------------------------------------------------------------------


def test_sessions_importing_overlapping_files_at_once_end_as_some_serial_order(store):
    sessions = [
        [upload(f"s{s}r{r}.xlsx", s, (s + r) % 3, replace=s == r) for r in range(3)]
        for s in range(4)
    ]
    # Session 4 uploads the very files session 3 does; session 5 one that nobody overlaps.
    sessions.append([upload(f"s4r{r}.xlsx", 3, (3 + r) % 3) for r in range(3)])
    sessions.append([private_upload(f"s5r{r}.xlsx") for r in range(3)])
    done = run_threads(store.url, sessions)

    assert len(done) == 18
    assert_some_serial_order(store, done)
    private = [d for d in done if d.name.startswith("s5")]
    assert [d.batch is not None for d in private].count(True) == 1


def test_workbooks_uploaded_at_once_through_the_engine_end_as_some_serial_order(store):
    sessions = [[workbook(f"w{n}r{r}.xlsx", n, (n + r) % 3) for r in range(2)] for n in range(4)]
    done = run_threads(store.url, sessions)

    assert len(done) == 8
    assert_some_serial_order(store, done)
    assert {b.datasets for b in store.batches()} == {("budget", "visa")}


def test_undo_racing_imports_ends_as_replaying_the_surviving_batches(store):
    pre = run_serially(
        store,
        [
            upload("pre0.xlsx", 0, 0),
            upload("pre1.xlsx", 1, 1, replace=True),
            upload("pre2.xlsx", 2, 2),
            upload("pre3.xlsx", 6, 0),
        ],
    )
    p0, p1, p2, p3 = (d.batch for d in pre)
    sessions = [
        [upload("a.xlsx", 0, 1), upload("b.xlsx", 3, 2, replace=True)],
        [upload("c.xlsx", 1, 2), upload("d.xlsx", 4, 0)],
        [Undo(p1), Undo(p3)],
        [Undo(p1), Undo(p0)],  # the same batch undone twice at once: one of the two is refused
        [upload("e.xlsx", 7, 1), Undo()],  # undo of the session's own, just written batch
        [Undo(p2), upload("f.xlsx", 5, 1)],
    ]
    done = run_threads(store.url, sessions)

    assert_some_serial_order(store, pre + done)
    own = next(d.batch for d in done if d.name == "e.xlsx")
    undos = [d for d in done if d.op == "undo"]
    assert sorted(d.batch for d in undos if not d.refused) == sorted([p0, p1, p2, p3, own])
    assert [d.batch for d in undos if d.refused] == [p1]


def test_a_refused_import_among_racing_ones_leaves_no_trace(store):
    sessions = [
        [upload("a0.xlsx", 0, 0), upload("a1.xlsx", 0, 1)],
        [upload("refused0.xlsx", 8, 1, replace=True, refuse=True), upload("b1.xlsx", 1, 2)],
        [upload("c0.xlsx", 2, 2, replace=True), upload("refused1.xlsx", 8, 0, refuse=True)],
        [upload("d0.xlsx", 3, 1), upload("d1.xlsx", 3, 2)],
    ]
    done = run_threads(store.url, sessions)

    assert_some_serial_order(store, done)
    assert sorted(d.name for d in done if d.refused) == ["refused0.xlsx", "refused1.xlsx"]
    assert all(d.batch is not None for d in done if not d.refused)
    assert all("訪日團8" not in repr(r) for r in store.current_rows("visits").itertuples())


def test_sessions_opening_a_new_database_at_once_all_start_and_import(empty_url):
    sessions = [[upload(f"s{n}.xlsx", n, n % 3, replace=n == 0)] for n in range(6)]
    done = run_threads(empty_url, sessions)

    assert all(d.batch is not None for d in done)
    check(empty_url, done)


# -- processes ----------------------------------------------------------------------------------


def test_two_processes_starting_on_a_new_database_importing_and_undoing_end_as_some_serial_order(
    empty_url,
):
    sessions = [
        [
            upload("a0.xlsx", 0, 0),
            upload("refused.xlsx", 8, 1, replace=True, refuse=True),
            upload("a2.xlsx", 0, 2, replace=True),
            upload("a3.xlsx", 3, 1),
        ],
        [
            upload("b0.xlsx", 1, 1, replace=True),
            upload("b1.xlsx", 1, 1),
            Undo(),  # racing a2, which replaces the quarter of b's visits
            upload("b3.xlsx", 2, 0),
        ],
    ]
    done = run_processes(empty_url, sessions)

    assert len(done) == 8
    assert [d.name for d in done if d.refused] == ["refused.xlsx"]
    assert [d.refused for d in done if d.op == "undo"] == [None]
    check(empty_url, done)

"""The benchmark's data: stores of realistic shape at several sizes, and the ingest workbook.

Each store holds one size of visa rows plus the same visits and five years of budget
execution, written through Store.import_frames as one batch per dataset. A store carries
its parameters (and the schema's newest migration) in a meta row written last, so a
half-built store (an interrupted run) or one built with other parameters or an older
schema is rebuilt; --rebuild builds every store afresh, e.g. after a change to how
imports write rows. Stores live in bench/.data/ (SQLite) and in
the kpi_bench database, one schema per size (PostgreSQL).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from bench.xlsx import write_xlsx
from kpi import sample
from kpi.paths import ROOT
from kpi.store import Store

DATA_DIR = Path(__file__).resolve().parent / ".data"
YEAR = 108
VISITS_ROWS = 50_000
BUDGET_YEARS = tuple(range(104, 109))
INGEST_ROWS = 200_000
PG_SERVER = os.environ.get("KPI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = "kpi_bench"
_MARKER = "bench_data"
# The ingest workbook's header and, for each of its columns, the sample frame's column.
VISA_COLUMNS = {
    "年月": "period",
    "地區": "region",
    "駐外館處": "mission",
    "簽證類別": "visa_type",
    "申請件數": "applications",
    "核發件數": "issued",
    "拒發件數": "refused",
    "平均處理天數": "avg_days",
}


@functools.cache
def _schema() -> str:
    """The newest migration: a store built under an older schema is built again."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def parameters(visa_rows: int) -> dict:
    """What a store of this size holds (its marker)."""
    return {
        "schema": _schema(),
        "year": YEAR,
        "visa": visa_rows,
        "visits": VISITS_ROWS,
        "budget_years": list(BUDGET_YEARS),
    }


@functools.cache
def _visits() -> pd.DataFrame:
    frame = sample.visits_frame(YEAR, n=VISITS_ROWS)
    # The importer derives the period of a visit from its date; Store.import_frames
    # expects the canonical frame with it.
    days = pd.to_datetime(frame["date"])
    return frame.assign(year=days.dt.year - 1911, month=days.dt.month)


def _budget() -> pd.DataFrame:
    return pd.concat([sample.budget_frame(y) for y in BUDGET_YEARS], ignore_index=True)


def _fill(store: Store, visa_rows: int) -> None:
    # The app loads the sample year on a store's first start; these stores are not fresh.
    store.claim_meta("initialised", "sample")
    datasets = {
        "visa": sample.visa_frame(YEAR, rows_target=visa_rows),
        "visits": _visits(),
        "budget": _budget(),
    }
    for name, frame in datasets.items():
        store.import_frames({name: frame}, file_name=f"bench-{name}.xlsx", content=b"", who="bench")
    store.claim_meta(_MARKER, json.dumps(parameters(visa_rows)))


def _is_built(url: str, visa_rows: int) -> bool:
    store = Store(url)
    try:
        marker = store.get_meta(_MARKER)
    finally:
        store.dispose()
    return marker is not None and json.loads(marker) == parameters(visa_rows)


def _build(url: str, visa_rows: int) -> None:
    print(f"bench: building a store with {visa_rows:,} visa rows ({url})", flush=True)
    start = time.perf_counter()
    store = Store(url)
    try:
        _fill(store, visa_rows)
    finally:
        store.dispose()
    print(f"bench: built in {time.perf_counter() - start:.0f} s", flush=True)


# -- SQLite -----------------------------------------------------------------------------------


def sqlite_store(visa_rows: int, rebuild: bool = False) -> str:
    """The URL of the SQLite store of this size, built if missing."""
    path = DATA_DIR / f"store-{visa_rows}.sqlite3"
    url = f"sqlite:///{path}"
    if rebuild or not path.exists() or not _is_built(url, visa_rows):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        _build(url, visa_rows)
    return url


# -- PostgreSQL ----------------------------------------------------------------------------------


def pg_version() -> str | None:
    """The server's version, or None when no PostgreSQL answers."""
    engine = sa.create_engine(f"{_driver(PG_SERVER)}/test", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SHOW server_version")).scalar()
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _admin(database: str) -> sa.Engine:
    return sa.create_engine(f"{_driver(PG_SERVER)}/{database}", isolation_level="AUTOCOMMIT")


def pg_store(visa_rows: int, rebuild: bool = False) -> str:
    """The URL of the PostgreSQL store of this size (its own schema in kpi_bench)."""
    schema = f"bench_{visa_rows}"
    url = f"{PG_SERVER}/{PG_DATABASE}?options=-csearch_path%3D{schema}"
    admin = _admin("test")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": PG_DATABASE}
        ).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    bench = _admin(PG_DATABASE)
    with bench.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    try:
        if rebuild or not _is_built(url, visa_rows):
            with bench.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            _build(url, visa_rows)
    finally:
        bench.dispose()
    return url


# -- the ingest workbook ----------------------------------------------------------------------


def ingest_workbook(rebuild: bool = False) -> Path:
    """The visa workbook to import, as Excel saves it (shared strings), built if missing."""
    path = DATA_DIR / f"visa-{INGEST_ROWS}.xlsx"
    if path.exists() and not rebuild:
        return path
    print(f"bench: writing {path.name}", flush=True)
    frame = sample.visa_frame(YEAR, rows_target=INGEST_ROWS)
    cells = frame.assign(
        period=frame["year"].astype(str) + "/" + frame["month"].map("{:02d}".format),
        avg_days=frame["avg_days"].astype(object).where(frame["avg_days"].notna(), None),
    )[list(VISA_COLUMNS.values())]
    body = zip(*(cells[c].tolist() for c in cells), strict=True)
    partial = path.with_suffix(".partial")
    write_xlsx(partial, "簽證", [list(VISA_COLUMNS), *body])
    partial.replace(path)
    return path

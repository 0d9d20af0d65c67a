"""Shared fixtures: a fresh store on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from kpi.cli import main
from kpi.store import Store

PG_URL = os.environ.get("KPI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'kpi.sqlite3'}")
    yield store
    store.dispose()


@contextmanager
def pg_schema() -> Iterator[str]:
    """The URL of a schema of its own on the test server, dropped afterwards."""
    schema = f"kpi_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_store() -> Iterator[Store]:
    """A store in a schema of its own on the test server, dropped afterwards."""
    with pg_schema() as url:
        store = Store(url)
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request) -> Store:
    """Every storage test runs on both databases."""
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> Iterator[str]:
    """The URL of a database nobody has opened yet: a SQLite file, or an empty schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.sqlite3'}"
        return
    with pg_schema() as url:
        yield url


# -- the CLI, run in-process on a fresh SQLite store (tests/test_cli*.py) ------------------


@pytest.fixture
def db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite3'}"


@pytest.fixture
def cli(db, capsys):
    """Run the CLI in-process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", db, *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli_json(cli):
    """Run with --json: stdout must be exactly one JSON document."""

    def run(*args: str) -> tuple[int, dict]:
        code, out, _ = cli(*args, "--json")
        return code, json.loads(out)

    return run

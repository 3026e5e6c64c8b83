"""Database engine, sessions and the shared column types.

SQLite (WAL) is the embedded default; PostgreSQL via DATABASE_URL is the scale-out path.
The caller owns the transaction: one per processed inbox event, one per admin request.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from sqlalchemy import JSON, CursorResult, DateTime, Engine, MetaData, Result, Table, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    if TYPE_CHECKING:
        # DeclarativeBase says FromClause (a class may be mapped to a subquery); ours map one Table each.
        __table__: ClassVar[Table]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def upsert_insert(db_session: Session) -> Any:
    """The dialect's own `insert` (SQLite or PostgreSQL), which has ON CONFLICT DO NOTHING/UPDATE."""
    return postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert


def affected_rows(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed. Session.execute() is typed to answer a Result;
    for such a statement it is a CursorResult, which has the count."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def count_by_status(db_session: Session, column: Any, statuses: type[StrEnum]) -> dict[str, int]:
    """Rows per status, every status present (0 when none): for dashboards and health checks."""
    counts = {status.value: 0 for status in statuses}
    rows = db_session.execute(select(column, func.count()).group_by(column))
    counts.update({str(status): int(n) for status, n in rows})
    return counts


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers take the lock at BEGIN, so two writers queue instead of failing on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            pool_size=8,
            max_overflow=8,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return create_engine(database_url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


class WriteLock:
    """SQLite's one writer, among the threads of one process, with a fast lane.

    Threads queue here and are woken at once, instead of SQLite's busy handler sleeping and
    polling (which costs up to 100 ms a wait under load). An urgent holder (the webhook, whose
    caller is waiting for its 200) goes before every ordinary waiter, and an ordinary holder can
    ask whether someone urgent is waiting, to commit early and step aside.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._held = False
        self._urgent = 0

    @property
    def urgent_waiting(self) -> bool:
        return self._urgent > 0

    @contextmanager
    def hold(self, *, urgent: bool = False) -> Iterator[None]:
        with self._changed:
            if urgent:
                self._urgent += 1
            try:
                while self._held or (not urgent and self._urgent):
                    self._changed.wait()
            finally:
                if urgent:
                    self._urgent -= 1
            self._held = True
        try:
            yield
        finally:
            with self._changed:
                self._held = False
                self._changed.notify_all()


class Database:
    """One engine and its session factory; the app, the worker and the CLI each own one."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; other processes still meet SQLite's own lock and
        # busy_timeout (which is why SQLite runs as one process, see `madoguchi serve`).
        self._write_lock = WriteLock() if self.engine.dialect.name == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def urgent_write_waiting(self) -> bool:
        """Whether an urgent transaction waits for SQLite's write lock (never on PostgreSQL)."""
        return self._write_lock is not None and self._write_lock.urgent_waiting

    @contextmanager
    def session(self, *, urgent: bool = False) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on any exception. `urgent`: someone is
        waiting on it (the webhook), so on SQLite it takes the write lock before others."""
        lock = self._write_lock.hold(urgent=urgent) if self._write_lock else contextlib.nullcontext()
        with lock, self.session_factory() as db_session, db_session.begin():
            yield db_session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()

"""Database access: engine creation, the unit of work, schema migration.

SQLite is the embedded default (one file, WAL). Every engine operation that changes state runs in one
transaction (:meth:`Database.write`); on SQLite that transaction starts with ``BEGIN IMMEDIATE`` so two
writers serialise instead of failing half-way, and on PostgreSQL the case row is locked with
``SELECT … FOR UPDATE``. The ``case.version`` column adds an optimistic check on top.
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # not a POSIX system: SQLite's own busy handler alone
    fcntl = None

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///var/accredit.sqlite"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"  # engine/migrations


def database_url() -> str:
    """``DATABASE_URL`` from the environment, else the embedded SQLite file."""
    return os.environ.get("DATABASE_URL", DEFAULT_URL)


def _normalise(url: str) -> str:
    # Users write postgresql://…; we ship the psycopg 3 driver.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: WAL pages after which a commit checkpoints (SQLite's default is 1,000)
WAL_CHECKPOINT_PAGES = 4000


def create_sa_engine(url: str) -> sa.Engine:
    url = _normalise(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions would defer it).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # the committing writer copies the WAL back into the database (and syncs it) once the WAL holds this
            # many pages: at SQLite's default of 1,000 (~40 completions) that was a third of a completion's
            # commit; at 4,000 (16 MB of WAL) the pages a completion rewrites every time (the inbox indexes, the
            # history's tail) are copied once for four times as many commits (docs/performance.md)
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            immediate = conn.get_execution_options().get("accredit_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_first_write(conn, cursor, statement, parameters, context, executemany):
            # a read-first write transaction (Database.write_read_first) takes the write lock at its
            # first statement that is not a read
            upgrade = conn.info.get(_UPGRADE)
            if upgrade is not None and statement.lstrip()[:6].upper() not in ("SELECT", "PRAGMA"):
                del conn.info[_UPGRADE]
                upgrade(cursor.connection)

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


#: key, in a pooled connection's ``info``, of the function that turns its read-first transaction into a write
_UPGRADE = "accredit_upgrade"


class StaleRead(Exception):
    """A read-first write found, on taking the write lock, that what it read has changed since: the caller runs
    the whole unit of work again, locked from the start (:meth:`Database.write_read_first`)."""


class WriterQueue:
    """SQLite: the writers of every process (gunicorn workers, the scheduler, the CLI) queue on an OS file lock
    (``flock`` on ``<database>-writers.lock``) before ``BEGIN IMMEDIATE``.

    SQLite's own busy handler polls: a writer that finds the database locked sleeps 1, 2, 5 … up to 100 ms between
    tries, so with two workers the second often sleeps long after the first has committed (two workers served
    fewer completions than one). A writer blocked on ``flock`` is woken by the kernel the moment the holder
    releases it — or dies: a killed worker leaves no lock behind. SQLite's lock stays the guarantee; this is only
    the queue in front of it. Re-entrant within a thread (a write inside a write waits for nobody)."""

    #: per thread, the lock files it holds (by path: two Database objects on one file share the queue, and a
    #: thread never waits for itself)
    _held = threading.local()

    def __init__(self, database_path: str):
        self.path = database_path + "-writers.lock"
        self.off = False

    @contextmanager
    def held(self):
        release = self.acquire()
        try:
            yield
        finally:
            release()

    def acquire(self):
        """Wait for the lock (unless this thread holds it already); returns the function that releases it."""
        mine = self._held.__dict__.setdefault("paths", set())
        if self.path in mine:
            return _nothing
        fd = self._lock()
        mine.add(self.path)

        def release():
            mine.discard(self.path)
            if fd is not None:
                os.close(fd)  # closing the descriptor releases the lock
        return release

    def _lock(self) -> int | None:
        if self.off:
            return None
        fd = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
            fcntl.flock(fd, fcntl.LOCK_EX)
            return fd
        except OSError as exc:  # a read-only directory, a file system without flock (some network mounts)
            if fd is not None:
                os.close(fd)
            self.off = True  # said once, not on every write
            log.warning("SQLite writer queue off (%s: %s): SQLite's busy handler alone", self.path, exc)
            return None


def _nothing() -> None:
    return None


#: ``session.info`` key of a read-first write's validators (:meth:`Database.write_read_first`)
VALIDATORS = "accredit_validators"


class Database:
    """One database: a SQLAlchemy engine plus read and write sessions."""

    def __init__(self, url: str | None = None):
        self.url = _normalise(url or database_url())
        self.engine = create_sa_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = self.engine.execution_options(accredit_write=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        path = self.engine.url.database if self.is_sqlite else None
        self.writers = WriterQueue(os.path.abspath(path)) if path and path != ":memory:" and fcntl else None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction that changes state: commit on success, roll back on any error."""
        with self.writers.held() if self.writers is not None else nullcontext():
            with self._write() as session:
                with session.begin():
                    yield session

    def write_read_first(self, work):
        """``work(session)`` as one write transaction that holds the write lock only for its writes (SQLite).

        Everything an operation does before its first write — loading a case, restoring and running its
        workflow, the checks — runs in a plain read transaction (a WAL snapshot: no lock, no wait), so the
        workers of a server compute in parallel and queue only to write. At the first statement that writes,
        the transaction takes the writer queue and ``BEGIN IMMEDIATE`` and asks the session's validators
        (``session.info["accredit_validators"]``: functions of a DBAPI connection, appended by the work as it
        reads) whether what was read is still current; if one says no, :class:`StaleRead` rolls everything back
        and ``work`` runs again in an ordinary write transaction, locked from its start. Same result as
        :meth:`write`, serialised the same way. PostgreSQL (row locks), an in-memory SQLite or a platform
        without ``flock``: simply :meth:`write`."""
        if self.writers is not None:
            try:
                with self._read_first() as session:
                    return work(session)
            except StaleRead:
                pass  # what it read changed before it could write: run it again below, locked from its start
        with self.write() as session:
            return work(session)

    @contextmanager
    def _read_first(self) -> Iterator[Session]:
        releases = []

        def upgrade(dbapi_conn):
            releases.append(self.writers.acquire())
            dbapi_conn.execute("COMMIT")  # the read snapshot ends ...
            dbapi_conn.execute("BEGIN IMMEDIATE")  # ... and the write lock is taken, then what was read is checked
            if not all(check(dbapi_conn) for check in validators):
                raise StaleRead()

        try:
            with self._read() as session:
                with session.begin():
                    conn = session.connection()
                    validators = session.info[VALIDATORS] = []
                    conn.info[_UPGRADE] = upgrade
                    try:
                        yield session
                    finally:
                        conn.info.pop(_UPGRADE, None)  # the pooled connection outlives this transaction
        finally:
            for release in releases:  # after the commit (or rollback), as write() does
                release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            with session.begin():
                yield session

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: sa.Engine) -> None:
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

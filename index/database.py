"""Where the bot's and the feeds' state lives: a SQLite file (the default, nothing to start)
or, with the `state_dsn` setting, a PostgreSQL database that every machine of a deployment
shares (psycopg 3, imported only then).

    db = state_database(settings, data_dir / "feeds.sqlite3", pragmas=...)
    db.migrate("feeds", MIGRATIONS)           # once per process; versioned, under a lock
    with db.transaction() as tx:              # committed at the end, rolled back on error
        tx.execute("SELECT ... WHERE url = ?", (url,)).fetchone()

SQL is written once, with `?` placeholders (SQLite's; translated for psycopg) and what both
dialects read alike (`ON CONFLICT`, `RETURNING`, `NULLS LAST`); the few differences are in
the migrations, which give each dialect its own DDL (PostgreSQL's `BIGINT` for Discord ids,
`DOUBLE PRECISION` for times).

Also here: the writer lock (`writer_lock`), a file lock in the data directory or, with
`state_dsn`, a PostgreSQL advisory lock that a build or feed update on any machine holds.

A password comes from the DSN, the file named by `state_password_file`, or libpq's own
`PGPASSWORD` / `~/.pgpass`; `describe()` (what messages and logs show) never contains it.
"""

from __future__ import annotations

import atexit
import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from index.errors import IndexError_
from index.settings import IndexSettings, SettingsError

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgres"]

#: the first key of every advisory lock citebot takes ("CBOT"); the second names the lock
LOCK_CLASS = 0x43424F54
#: seconds to wait for a PostgreSQL connection before saying the database is unreachable
CONNECT_TIMEOUT = 5
#: seconds a transaction waits for a pooled connection: when the server has just gone away
#: the pool keeps retrying in the background and the caller would wait all of it, so keep
#: it short (a Discord interaction must be acknowledged within 3 s); past it a connection of
#: the caller's own is tried, which says at once whether the server is there
POOL_WAIT = 2.0


class StateUnavailable(IndexError_):
    """The state database cannot be reached or used; the message names it (no password)."""


class LockBusy(Exception):
    """Another process (on this machine or, with `state_dsn`, any machine) holds the lock;
    `where` says where, to follow "a build ...": "of data" or "on a machine sharing
    postgresql://citebot@db/citebot"."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


class Tx(Protocol):
    """One transaction: `sqlite3.Connection` is one, and so is the PostgreSQL wrapper."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any: ...


@dataclass(frozen=True)
class Migration:
    """One step of a component's schema: its DDL for each dialect (a script, or for SQLite
    a function of the connection when it must look before it changes)."""

    version: int
    sqlite: str | Callable[[sqlite3.Connection], None]
    postgres: str


class Database:
    """A SQLite file or a PostgreSQL database. Any thread may call; SQLite opens a
    connection per transaction (as cheap as a file open), PostgreSQL takes one from a pool
    shared by every `Database` of the same DSN in the process."""

    dialect: Dialect

    def transaction(self, wait: float = POOL_WAIT) -> Any:
        """A context manager giving a `Tx`; PostgreSQL waits at most `wait` seconds for a
        connection of its pool."""
        raise NotImplementedError

    def migrate(self, component: str, migrations: Sequence[Migration]) -> None:
        raise NotImplementedError

    def after_delete(self) -> None:
        """Called after deleting people's data: leaves no copy of the deleted rows where
        the database can empty it by itself."""

    def describe(self) -> str:
        """Where the state lives, for messages and logs (never a password)."""
        raise NotImplementedError


def _statements(script: str) -> list[str]:
    """The statements of a SQL script, one by one."""
    found, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    if current.strip():
        found.append(current.strip())
    return found


_SCHEMA_VERSION = """CREATE TABLE IF NOT EXISTS schema_version (  -- counts only: nobody's data
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (component, version)
)"""


def _check_order(migrations: Sequence[Migration]) -> None:
    if [m.version for m in migrations] != list(range(1, len(migrations) + 1)):
        raise ValueError("migrations must be numbered 1, 2, 3 ... in order")


def _newer(component: str, have: int, known: int, where: str) -> None:
    if have > known:  # a newer citebot migrated it: changes are additive, so go on
        log.warning("the %s schema in %s is at version %d, newer than this citebot knows "
                    "(%d); upgrade this machine", component, where, have, known)


class SQLiteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, pragmas: Sequence[str] = ("PRAGMA journal_mode=WAL",),
                 timeout: float = 10.0) -> None:
        self.path = path
        self.pragmas = tuple(pragmas)
        self.timeout = timeout
        path.parent.mkdir(parents=True, exist_ok=True)

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout)
        for pragma in self.pragmas:
            db.execute(pragma)
        return db

    @contextmanager
    def transaction(self, wait: float = POOL_WAIT) -> Iterator[sqlite3.Connection]:
        with closing(self.connect()) as db, db:
            yield db

    def migrate(self, component: str, migrations: Sequence[Migration]) -> None:
        _check_order(migrations)
        with closing(self.connect()) as db:
            if self._version(db, component) >= len(migrations):
                return
            db.isolation_level = None  # the transaction below is ours
            db.execute("BEGIN IMMEDIATE")  # one writer: a second process waits here
            try:
                db.execute(_SCHEMA_VERSION)
                have = self._version(db, component)
                _newer(component, have, len(migrations), self.describe())
                for step in migrations[have:]:
                    if callable(step.sqlite):
                        step.sqlite(db)
                    else:
                        for statement in _statements(step.sqlite):
                            db.execute(statement)
                    db.execute("INSERT INTO schema_version (component, version, applied_at)"
                               " VALUES (?, ?, ?)", (component, step.version, time.time()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _version(db: sqlite3.Connection, component: str) -> int:
        try:
            row = db.execute("SELECT MAX(version) FROM schema_version WHERE component = ?",
                             (component,)).fetchone()
        except sqlite3.OperationalError:  # no such table: a new file, or one made before it
            return 0
        return int(row[0] or 0)

    def after_delete(self) -> None:
        # the write-ahead log keeps deleted rows until it is copied into the file and emptied
        with closing(self.connect()) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def describe(self) -> str:
        return str(self.path)


@contextmanager
def _file_lock(folder: Path, name: str, wait: float,
               busy: Callable[[str], Exception]) -> Iterator[None]:
    from filelock import FileLock, Timeout

    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / f"{name}.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise busy(f"of {folder}") from None
    try:
        yield
    finally:
        lock.release()


@lru_cache(maxsize=256)
def _pg_sql(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx:
    """A psycopg connection that reads citebot's `?` SQL."""

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        if not params:  # psycopg reads no placeholders (and no `%%`) then
            return self.conn.execute(sql)
        return self.conn.execute(_pg_sql(sql), tuple(params))

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> Any:
        cursor = self.conn.cursor()
        cursor.executemany(_pg_sql(sql), [tuple(p) for p in params])
        return cursor


_pools: dict[tuple[str, str], Any] = {}
_pools_lock = threading.Lock()
_migrated: set[tuple[str, str, int]] = set()
#: DSNs (pool keys) whose server could not be reached: (when to try again, why). In between,
#: calls fail at once with that reason: a server that does not answer at all (a network
#: partition) would otherwise cost every call the whole `CONNECT_TIMEOUT`
_down: dict[tuple[str, str], tuple[float, str]] = {}
#: seconds between two connection attempts while the server cannot be reached
RETRY_AFTER = 2.0


def close_pools() -> None:
    """Close every PostgreSQL connection pool of the process (at exit, or when done)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()
        _down.clear()


atexit.register(close_pools)


def describe_dsn(dsn: str) -> str:
    """`dsn` as postgresql://user@host:port/dbname: no password, whatever form it had."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "postgresql://(a DSN that cannot be read)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or parts.get("hostaddr") or "")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


class PostgresDatabase(Database):
    dialect: Dialect = "postgres"

    def __init__(self, dsn: str, password_file: str = "") -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise SettingsError("state_dsn needs psycopg: pip install 'citebot[postgres]'"
                                ) from None
        self.dsn = dsn
        self._where = describe_dsn(dsn)
        self._kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT,
                                        "application_name": "citebot"}
        if password_file:
            path = Path(password_file).expanduser()
            try:
                password = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(f"state_password_file {str(path)!r}: {exc.strerror}"
                                    ) from None
            self._kwargs["password"] = password
        self._key = (dsn, str(self._kwargs.get("password", "")))  # a new password: new pool

    def describe(self) -> str:
        return self._where

    def _unreachable(self, exc: BaseException) -> StateUnavailable:
        # libpq's messages name the host and user, never the password
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return StateUnavailable(f"the state database {self._where} cannot be used: {reason}")

    def connect(self) -> Any:
        """A connection of its own (not from the pool), autocommit."""
        import psycopg

        try:
            return psycopg.connect(self.dsn, autocommit=True, **self._kwargs)
        except psycopg.Error as exc:
            raise self._unreachable(exc) from None

    def _pool(self) -> Any:
        with _pools_lock:
            pool = _pools.get(self._key)
            if pool is None:
                from psycopg_pool import ConnectionPool

                pool = ConnectionPool(self.dsn, kwargs=self._kwargs, min_size=1, max_size=8,
                                      timeout=CONNECT_TIMEOUT, open=True,
                                      check=ConnectionPool.check_connection,
                                      name="citebot-state")
                _pools[self._key] = pool
            return pool

    @contextmanager
    def transaction(self, wait: float = POOL_WAIT) -> Iterator[_PgTx]:
        """A transaction on a pooled connection, waiting at most `wait` seconds for one.
        While the server is known to be down, a connection of its own is tried instead:
        a refused connection fails at once (instead of every caller waiting out the pool),
        and the first that succeeds ends the outage, whatever the pool's reconnect backoff."""
        import psycopg
        from psycopg_pool import PoolTimeout

        down = _down.get(self._key)
        if down is not None:
            if time.monotonic() < down[0]:
                raise StateUnavailable(down[1])
            with self._own_transaction() as tx:
                yield tx
            return
        try:
            with self._pool().connection(timeout=wait) as conn:
                yield _PgTx(conn)
        except PoolTimeout:  # (an OperationalError too)
            # the pool only says it waited: a connection of our own says why, or serves
            with self._own_transaction() as tx:
                yield tx
        except psycopg.OperationalError as exc:
            raise self._mark_down(self._unreachable(exc)) from None

    def _mark_down(self, error: StateUnavailable) -> StateUnavailable:
        _down[self._key] = (time.monotonic() + RETRY_AFTER, str(error))
        return error

    @contextmanager
    def _own_transaction(self) -> Iterator[_PgTx]:
        import psycopg

        try:
            conn = self.connect()
        except StateUnavailable as exc:
            raise self._mark_down(exc) from None
        if _down.pop(self._key, None) is not None:
            log.warning("the state database %s can be used again", self._where)
        try:
            with conn.transaction():
                yield _PgTx(conn)
        except psycopg.OperationalError as exc:
            raise self._mark_down(self._unreachable(exc)) from None
        finally:
            conn.close()

    def migrate(self, component: str, migrations: Sequence[Migration]) -> None:
        _check_order(migrations)
        done = (self.dsn, component, len(migrations))
        if done in _migrated:
            return
        with closing(self.connect()) as conn, conn.transaction():
            # two processes starting at once: the second waits here, then finds it done
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS,
                                                                    _lock_id("schema")))
            conn.execute(_SCHEMA_VERSION)
            row = conn.execute("SELECT MAX(version) FROM schema_version WHERE component = %s",
                               (component,)).fetchone()
            have = int(row[0] or 0)
            _newer(component, have, len(migrations), self._where)
            for step in migrations[have:]:
                conn.execute(step.postgres)
                conn.execute("INSERT INTO schema_version (component, version, applied_at)"
                             " VALUES (%s, %s, %s)", (component, step.version, time.time()))
                log.info("%s: %s schema migrated to version %d", self._where, component,
                         step.version)
        _migrated.add(done)

    @contextmanager
    def lock(self, name: str, wait: float = 0.0,
             busy: Callable[[str], Exception] = LockBusy) -> Iterator[None]:
        """Hold the advisory lock `name`; `busy(where)` is raised if another session holds
        it after `wait` seconds."""
        # a session lock on a connection of its own: it goes with the connection, so a
        # writer killed on any machine frees it as soon as the server sees the connection
        # drop
        conn = self.connect()
        key = (LOCK_CLASS, _lock_id(name))
        try:
            deadline = time.monotonic() + wait
            while not conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise busy(f"on a machine sharing {self._where}")
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
                except Exception:  # the connection is gone: so is the lock
                    log.debug("the %s lock went with its connection", name)
        finally:
            conn.close()


def _lock_id(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def state_database(settings: IndexSettings, sqlite_path: Path,
                   pragmas: Sequence[str] = ("PRAGMA journal_mode=WAL",),
                   timeout: float = 10.0) -> Database:
    """PostgreSQL when `settings.state_dsn` is set, else the SQLite file `sqlite_path`."""
    if settings.state_dsn:
        return PostgresDatabase(settings.state_dsn, settings.state_password_file)
    return SQLiteDatabase(sqlite_path, pragmas, timeout)


@contextmanager
def writer_lock(settings: IndexSettings, name: str, wait: float = 0.0,
                busy: Callable[[str], Exception] = LockBusy) -> Iterator[None]:
    """The lock of one kind of writer (`build`, `feeds`): the file `<data_dir>/<name>.lock`,
    or with `state_dsn` an advisory lock in PostgreSQL that every machine sees. If another
    process holds it after `wait` seconds, `busy(where)` is raised (see LockBusy)."""
    if settings.state_dsn:
        database = PostgresDatabase(settings.state_dsn, settings.state_password_file)
        with database.lock(name, wait, busy):
            yield
    else:
        with _file_lock(settings.data_dir, name, wait, busy):
            yield


__all__ = ["Database", "LockBusy", "close_pools", "Migration", "PostgresDatabase", "SQLiteDatabase",
           "StateUnavailable", "Tx", "describe_dsn", "state_database", "writer_lock"]

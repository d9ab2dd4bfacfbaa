"""What a state database holds, read from the database itself (SQLite or PostgreSQL):
every row of every table that holds a given value in any column."""

from __future__ import annotations

from typing import Any

from index import Database


def tables(database: Database) -> dict[str, list[str]]:
    """Every table and its columns."""
    with database.transaction() as db:
        if database.dialect == "sqlite":
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type ="
                                              " 'table' AND name NOT LIKE 'sqlite_%'")]
            return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in names}
        found: dict[str, list[str]] = {}
        for table, column in db.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE"
                " table_schema = 'public' ORDER BY table_name, ordinal_position"):
            found.setdefault(table, []).append(column)
        return found


def rows_with(database: Database, value: Any) -> dict[str, int]:
    """Rows holding `value` (compared as text, whatever the column's type) in any column of
    any table, by table."""
    found = {}
    text = str(value)
    with database.transaction() as db:
        for table, columns in tables(database).items():
            where = " OR ".join(f"CAST({c} AS TEXT) = ?" for c in columns)
            count = db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}",
                               [text] * len(columns)).fetchone()[0]
            if count:
                found[table] = int(count)
    return found


def execute(database: Database, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run one statement (as a test would, behind the store's back)."""
    with database.transaction() as db:
        db.execute(sql, params)

"""Engine settings that depend on the database.

SQLite gets WAL, a busy timeout and foreign keys. Its transactions start with BEGIN IMMEDIATE in
requests that may write (any method but GET and HEAD) and in commands that call
use_immediate_transactions(): a writer then waits for the write lock, up to the busy timeout,
instead of failing with "database is locked" when it upgrades a read transaction that another
writer overtook. Other transactions (page views, tests reading the database) start deferred.
"""

from flask import g, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15000


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def set_sqlite_pragmas(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event below emit BEGIN, instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin_transaction(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if wants_immediate_transactions() else "BEGIN")


def use_immediate_transactions() -> None:
    """Make this app context's SQLite transactions take the write lock at BEGIN (for commands)."""
    g.sqlite_immediate = True


def wants_immediate_transactions() -> bool:
    if has_request_context():
        return request.method not in ("GET", "HEAD")
    return has_app_context() and g.get("sqlite_immediate", False)

"""Revision 0002 (admin tables) goes down and up again on both databases."""

from __future__ import annotations

from sqlalchemy import inspect

from bot.db import make_engine
from bot.migrate import current, downgrade, upgrade

ADMIN_TABLES = {"staff_users", "staff_sessions", "api_tokens", "login_attempts", "audit_entries"}


def tables(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_admin_migration_downgrades_and_upgrades(database_url: str) -> None:
    assert tables(database_url) >= ADMIN_TABLES
    downgrade(database_url, "0001")
    assert current(database_url) == "0001"
    assert not ADMIN_TABLES & tables(database_url)
    assert "inbox_events" in tables(database_url)
    upgrade(database_url, "heads")
    assert tables(database_url) >= ADMIN_TABLES

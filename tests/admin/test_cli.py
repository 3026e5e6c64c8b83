"""`madoguchi admin ...` and the demo login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from admin import tokens, users
from admin.cli import admin_group
from admin.config import AdminConfig
from admin.models import ApiToken, StaffRole, StaffUser
from admin.service import ensure_demo_user
from admin.sessions import login
from bot.db import Database
from bot.settings import get_settings


@pytest.fixture
def db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The CLI reads DATABASE_URL from the environment, as in production."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    database = Database(database_url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str, input: str | None = None) -> object:
    return CliRunner().invoke(admin_group, list(args), input=input, catch_exceptions=False)


def can_login(db: Database, name: str, password: str) -> bool:
    return login(db=db, name=name, password=password, ip="127.0.0.1", user_agent=None, config=AdminConfig()).ok


def test_create_user_reads_the_password_from_stdin(db: Database) -> None:
    result = run("create-user", "yamada", "--role", "counter", "--password-stdin", input="a-long-password\n")
    assert result.exit_code == 0, result.output
    assert "a-long-password" not in result.output
    with db.session() as db_session:
        user = users.get_by_name(db_session=db_session, name="yamada")
        assert user is not None and user.role == StaffRole.COUNTER and user.password_hash.startswith("$argon2")
    assert can_login(db, "yamada", "a-long-password")


def test_create_user_prompts_twice_for_the_password(db: Database) -> None:
    result = run("create-user", "tanaka", "--role", "admin", input="a-long-password\na-long-password\n")
    assert result.exit_code == 0, result.output
    assert can_login(db, "tanaka", "a-long-password")


def test_create_user_refuses_bad_input(db: Database) -> None:
    short = run("create-user", "yamada", "--role", "counter", "--password-stdin", input="short\n")
    assert short.exit_code != 0 and "at least 10" in short.output
    role = run("create-user", "yamada", "--role", "mayor", "--password-stdin", input="a-long-password\n")
    assert role.exit_code != 0
    name = run("create-user", "山田", "--role", "counter", "--password-stdin", input="a-long-password\n")
    assert name.exit_code != 0
    run("create-user", "yamada", "--role", "counter", "--password-stdin", input="a-long-password\n")
    again = run("create-user", "yamada", "--role", "viewer", "--password-stdin", input="a-long-password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    with db.session() as db_session:
        assert [u.name for u in db_session.scalars(select(StaffUser))] == ["yamada"]


def test_create_token_prints_it_once_and_stores_a_digest(db: Database) -> None:
    run("create-user", "system-a", "--role", "viewer", "--password-stdin", input="a-long-password\n")
    result = CliRunner().invoke(admin_group, ["create-token", "--user", "system-a", "--name", "GIS連携"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("mdg_")
    with db.session() as db_session:
        stored = db_session.scalars(select(ApiToken)).one()
        assert stored.name == "GIS連携" and stored.token_hash != secret
        found = tokens.authenticate(db_session=db_session, secret=secret)
        assert found is not None and found[1].name == "system-a"
    missing = run("create-token", "--user", "nobody")
    assert missing.exit_code != 0 and "no staff user" in missing.output


def test_set_password_recovers_a_locked_account(db: Database) -> None:
    run("create-user", "sato", "--role", "admin", "--password-stdin", input="a-long-password\n")
    for i in range(5):
        assert not can_login(db, "sato", f"wrong-password-{i}")
    assert not can_login(db, "sato", "a-long-password")  # locked
    result = run("set-password", "sato", "--password-stdin", input="another-password\n")
    assert result.exit_code == 0, result.output
    assert can_login(db, "sato", "another-password")


def test_demo_user_is_an_admin_with_a_fresh_password_each_time(db: Database) -> None:
    with db.session() as db_session:
        name, first = ensure_demo_user(db_session=db_session)
    assert name == "demo" and len(first) >= 10
    assert can_login(db, "demo", first)
    with db.session() as db_session:
        db_session.scalars(select(StaffUser).where(StaffUser.name == "demo")).one().role = StaffRole.VIEWER
    with db.session() as db_session:
        _, second = ensure_demo_user(db_session=db_session)
        demo = users.get_by_name(db_session=db_session, name="demo")
        assert demo is not None and demo.role == StaffRole.ADMIN and demo.is_active
    assert second != first
    assert not can_login(db, "demo", first)
    assert can_login(db, "demo", second)

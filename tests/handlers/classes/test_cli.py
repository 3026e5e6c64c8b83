"""`madoguchi classes list|draw|remind` (SQLite and PostgreSQL): the sessions with their places,
a lottery drawn once however often the command runs, and the reminders queued once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot import clock
from bot.cli import main
from bot.db import Database
from bot.settings import get_settings
from handlers.classes.models import Channel, Details, SessionCreate, Signup, SignupStatus
from handlers.classes.service import sessions, signups

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def cli_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "c" * 40)
    get_settings.cache_clear()
    clock.travel_to(NOW)
    database = Database(database_url)
    yield database
    database.dispose()
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def add(db: Database, days: int, **extra: object) -> int:
    starts = NOW + timedelta(days=days)
    with db.session() as db_session:
        session_in = SessionCreate.model_validate(
            {"title": "はじめてのスマホ", "starts_at": starts, "ends_at": starts + timedelta(hours=1)}
            | {"venue": "中央公民館", "capacity": 1}
            | extra
        )
        return sessions.create(db_session=db_session, session_in=session_in).id


def sign(db: Database, session_id: int, n: int, user: str | None = None) -> None:
    with db.session() as db_session:
        signups.create(
            db_session=db_session,
            session_id=session_id,
            details=Details(name=f"参加 {n}", furigana=f"サンカ{'ア' * n}", phone=f"09000000{n:03d}"),
            channel=Channel.LINE if user else Channel.PHONE,
            line_user_id=user,
            settings=get_settings(),
        )


def test_list_draw_and_remind(cli_db: Database) -> None:
    first_come = add(cli_db, 2)
    lottery = add(cli_db, 9, mode="lottery", signup_deadline=NOW + timedelta(days=1))
    sign(cli_db, first_come, 1, "Uone")
    sign(cli_db, first_come, 2)
    for n in range(3):
        sign(cli_db, lottery, 10 + n, f"Ulot{n}")
    listed = run("classes", "list").output.splitlines()
    assert listed[-1] == "2 session(s)"
    assert "1/1  waiting 1  applied 0  first_come  open" in listed[0]
    assert "0/1  waiting 0  applied 3  lottery  open" in listed[1]
    assert run("classes", "draw").output == "lotteries drawn: 0\n"  # before the deadline
    clock.travel_to(NOW + timedelta(days=1, minutes=1))
    assert run("classes", "draw").output == "lotteries drawn: 1\n"
    assert run("classes", "draw").output == "lotteries drawn: 0\n"
    with cli_db.session() as db_session:
        statuses = sorted(s.status for s in db_session.scalars(select(Signup).where(Signup.session_id == lottery)))
    assert statuses == [SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.WAITLISTED]
    clock.travel_to(datetime(2026, 11, 25, 18, 5, tzinfo=clock.TOKYO))  # the evening before the first
    assert run("classes", "remind").output == "class reminders queued: 1\n"
    assert run("classes", "remind").output == "class reminders queued: 0\n"

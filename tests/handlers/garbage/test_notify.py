"""The evening-before reminder: once per citizen per collection day, only to those who asked and can
be reached, nothing during 年末年始 (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot import citizens as citizen_service
from bot.clock import TOKYO
from bot.db import Database
from bot.outbox import OutboxMessage
from handlers.garbage import service as garbage_service
from handlers.garbage.notify import PURPOSE, due_garbage_reminders, send_due_garbage_reminders


def _pushes(db: Database) -> list[OutboxMessage]:
    with db.session() as db_session:
        return list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == PURPOSE)))


def test_reminders_go_the_evening_before_once_per_citizen_and_only_to_those_who_asked(db: Database) -> None:
    with db.session() as db_session:
        for user, district, on in (("Uwants", "牛窓", True), ("Uquiet", "牛窓", False), ("Ublocked", "牛窓", True)):
            garbage_service.set_district(db_session=db_session, line_user_id=user, district=district)
            garbage_service.set_reminder(db_session=db_session, line_user_id=user, on=on)
        citizen_service.follow(db_session=db_session, line_user_id="Ublocked", profile=None)
        citizen_service.block(db_session=db_session, line_user_id="Ublocked")
    afternoon = datetime(2026, 11, 24, 17, 59, tzinfo=TOKYO)
    evening = datetime(2026, 11, 24, 18, 5, tzinfo=TOKYO)
    with db.session() as db_session:
        assert due_garbage_reminders(afternoon, db_session=db_session) == []
        assert [r.line_user_id for r in due_garbage_reminders(evening, db_session=db_session)] == [
            "Ublocked",
            "Uwants",
        ]
        assert send_due_garbage_reminders(db_session=db_session, now=evening) == 1
    with db.session() as db_session:  # a second sweep (or a second process) sends nothing more
        assert send_due_garbage_reminders(db_session=db_session, now=evening) == 0
    (push,) = _pushes(db)
    assert push.to == "Uwants"
    text = push.messages[0]["text"]
    assert text.startswith("明日11月25日（水）は、「資源ごみ（びん・缶）」の日です。（牛窓地区）")
    # The next evening is a new day: 牛窓 collects プラスチック製容器包装 on Thursday 11-26.
    thursday_eve = datetime(2026, 11, 25, 19, 0, tzinfo=TOKYO)
    with db.session() as db_session:
        assert send_due_garbage_reminders(db_session=db_session, now=thursday_eve) == 1
        assert send_due_garbage_reminders(db_session=db_session, now=thursday_eve) == 0
    assert "プラスチック製容器包装" in _pushes(db)[-1].messages[0]["text"]


def test_no_reminder_on_new_years_eve(db: Database) -> None:
    with db.session() as db_session:
        garbage_service.set_district(db_session=db_session, line_user_id="Uwants", district="邑久")
        garbage_service.set_reminder(db_session=db_session, line_user_id="Uwants", on=True)
        # 2026-12-31 is a Thursday (邑久's 燃やせるごみ), but it is 年末年始.
        evening = datetime(2026, 12, 30, 18, 30, tzinfo=TOKYO)
        assert send_due_garbage_reminders(db_session=db_session, now=evening) == 0

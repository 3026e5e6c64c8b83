"""Citizens seen in a batch: one statement records them, first-time writers are created."""

from __future__ import annotations

from datetime import timedelta

from bot import citizens as citizen_service
from bot import clock
from bot.citizens import CitizenStatus
from bot.db import Database


def test_touch_updates_known_citizens_and_creates_first_time_writers(database_url: str) -> None:
    db = Database(database_url)
    with db.session() as s:
        citizen_service.block(db_session=s, line_user_id="Uknown")
    before = clock.now()
    clock.travel_to(before + timedelta(minutes=5))
    try:
        with db.session() as s:
            citizen_service.touch(db_session=s, line_user_ids=["Uknown", "Unew", "Unew"])
        with db.session() as s:
            known = citizen_service.get_by_line_user_id(db_session=s, line_user_id="Uknown")
            new = citizen_service.get_by_line_user_id(db_session=s, line_user_id="Unew")
            assert known is not None and new is not None
            assert known.last_seen_at is not None and known.last_seen_at > before
            # Writing to the bot does not undo a block: only a follow event does.
            assert known.status == CitizenStatus.BLOCKED
            assert new.status == CitizenStatus.FOLLOWING and new.last_seen_at == new.created_at
            assert citizen_service.count_by_status(db_session=s) == {"following": 1, "blocked": 1}
    finally:
        clock.travel_to(None)
        db.dispose()

"""The last messages between a citizen and the bot (bot/transcript.py), the context staff see when
they take a conversation over (SQLite and PostgreSQL): written with each answer, encrypted, only the
newest TRANSCRIPT_MESSAGES kept, none with 0, gone after TRANSCRIPT_RETENTION_HOURS."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bot import clock, transcript
from bot.db import Database
from notifications import scheduler
from tests.support import LiveApp, live_app, new_citizen, say_all


def entries(app: LiveApp, user: str) -> list[tuple[str, str]]:
    with app.db.session() as db_session:
        return [
            (e.sender, e.text) for e in transcript.recent(db_session=db_session, settings=app.settings, chat_id=user)
        ]


def test_the_newest_messages_are_kept_encrypted_and_go_after_their_time(app: LiveApp) -> None:
    user = new_citizen(app)
    greeting = say_all(app, user, "こんにちは")[0]["text"]
    assert entries(app, user) == [("citizen", "こんにちは"), ("bot", greeting)]
    for n in range(6):
        say_all(app, user, f"ありがとう{n}")
    kept = entries(app, user)
    assert len(kept) == app.settings.transcript_messages == 10
    assert kept[-2][1] == "ありがとう5" and ("citizen", "こんにちは") not in kept
    with app.db.session() as db_session:  # at rest: encrypted
        raw = db_session.execute(text("SELECT entries_enc FROM chat_transcripts")).scalars().all()
    assert raw and all("ありがとう" not in value for value in raw)
    clock.travel_to(clock.now() + timedelta(hours=app.settings.transcript_retention_hours + 1))
    assert entries(app, user) == []  # too old to show
    scheduler.purge_message_log_now(app.db, app.settings)
    with app.db.session() as db_session:
        assert db_session.execute(text("SELECT count(*) FROM chat_transcripts")).scalar() == 0


def test_nothing_is_kept_with_zero(database_url: str) -> None:
    with live_app(database_url, transcript_messages=0) as app:
        user = new_citizen(app)
        say_all(app, user, "こんにちは")
        assert entries(app, user) == []
        db: Database = app.db
        with db.session() as db_session:
            assert db_session.execute(text("SELECT count(*) FROM chat_transcripts")).scalar() == 0


def test_a_transcript_under_a_key_no_longer_configured_starts_again(database_url: str) -> None:
    """A new PERSONAL_DATA_KEY (or SECRET_KEY) must not break answering: the old context is dropped."""
    with live_app(database_url, secret_key="a" * 40, personal_data_key="") as app:
        user = new_citizen(app)
        say_all(app, user, "こんにちは")
    with live_app(database_url, secret_key="b" * 40, personal_data_key="") as app:
        assert say_all(app, user, "ありがとう")  # answered
        assert [sender for sender, _ in entries(app, user)] == ["citizen", "bot"]

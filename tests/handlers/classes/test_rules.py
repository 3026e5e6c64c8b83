"""Small class rules (SQLite and PostgreSQL): the mode changes only while nobody has signed up, and
staff signups are stored as the LINE flow stores them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.db import Database
from bot.settings import Settings
from handlers.classes.models import Channel, Details, PhoneSignupCreate, SessionCreate, SessionUpdate
from handlers.classes.service import sessions, signups
from handlers.classes.service.errors import InvalidSession
from tests.handlers.classes.conftest import NOW


def test_the_mode_changes_only_while_nobody_has_signed_up(db: Database, settings: Settings) -> None:
    starts = NOW + timedelta(days=10)
    with db.session() as db_session:
        session = sessions.create(
            db_session=db_session,
            session_in=SessionCreate(
                title="はじめてのスマホ",
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                venue="中央公民館",
                capacity=3,
            ),
        )
        sessions.update_fields(db_session=db_session, session=session, session_in=SessionUpdate(mode="lottery"))
        sessions.update_fields(db_session=db_session, session=session, session_in=SessionUpdate(mode="first_come"))
        signups.create(
            db_session=db_session,
            session_id=session.id,
            details=Details(name="瀬戸内 花子", furigana="セトウチ ハナコ", phone="0869000000"),
            channel=Channel.PHONE,
            settings=settings,
        )
        with pytest.raises(InvalidSession, match="mode"):
            sessions.update_fields(db_session=db_session, session=session, session_in=SessionUpdate(mode="lottery"))
        sessions.update_fields(db_session=db_session, session=session, session_in=SessionUpdate(capacity=5))
        assert (session.mode, session.capacity) == ("first_come", 5)


def test_staff_signups_are_stored_as_the_flow_stores_them() -> None:
    signup = PhoneSignupCreate(name="瀬戸内 花子", furigana="せとうち　はなこ", phone="０９０－１２３４－５６７８")
    assert (signup.furigana, signup.phone) == ("セトウチ ハナコ", "09012345678")
    with pytest.raises(ValidationError, match="phone"):
        PhoneSignupCreate(name="瀬戸内 花子", phone="わかりません")


def test_a_lottery_keeps_a_deadline_and_staff_cannot_create_a_session_in_the_past(db: Database) -> None:
    from admin.models import Actor, StaffRole
    from handlers.classes import flows

    starts = NOW + timedelta(days=20)
    staff = Actor(id=None, name="tanaka", role=StaffRole.COUNTER, via="web", ip=None)
    with db.session() as db_session:
        session = flows.create_session(
            db_session=db_session,
            session_in=SessionCreate(
                title="抽選の教室",
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                venue="中央公民館",
                capacity=3,
            ),
            actor=staff,
        )
        sessions.update_fields(
            db_session=db_session, session=session, session_in=SessionUpdate(mode="lottery", signup_deadline=None)
        )
        assert session.signup_deadline == starts - sessions.DEFAULT_LOTTERY_DEADLINE  # it will be drawn
        past = NOW - timedelta(hours=1)
        with pytest.raises(InvalidSession, match="future"):
            flows.create_session(
                db_session=db_session,
                session_in=SessionCreate(
                    title="過去", starts_at=past, ends_at=past + timedelta(hours=1), venue="中央公民館", capacity=3
                ),
                actor=staff,
            )

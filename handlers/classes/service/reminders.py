"""Which class reminders are due (the day before, at REMINDER_DAY_BEFORE_TIME), and the marker that
lets each go out once: only the transaction that inserts it (signup, class time; unique) sends."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bot import clock
from bot.db import upsert_insert
from bot.settings import Settings
from handlers.classes.models import ClassReminderSent, ClassSession, SessionStatus, Signup, SignupStatus


def due_at(session: ClassSession, settings: Settings) -> datetime:
    day = session.starts_at.astimezone(clock.TOKYO).date() - timedelta(days=1)
    hour, minute = (int(part) for part in settings.reminder_day_before_time.split(":"))
    return datetime.combine(day, time(hour, minute), clock.TOKYO)


def is_due(signup: Signup, session: ClassSession, now: datetime, settings: Settings) -> bool:
    """From the reminder time until the class day begins; not for a place taken after that time,
    not for cancelled or waiting signups, and not for someone with no LINE to tell."""
    if signup.status != SignupStatus.CONFIRMED or not signup.line_user_id or session.status != SessionStatus.OPEN:
        return False
    due = due_at(session, settings)
    class_day = datetime.combine(session.starts_at.astimezone(clock.TOKYO).date(), time(0), clock.TOKYO)
    confirmed_at = signup.promoted_at or signup.created_at
    return confirmed_at < due <= now < class_day


def due(*, db_session: Session, now: datetime, settings: Settings) -> list[int]:
    """Signup ids whose reminder is due and not sent."""
    sent = exists().where(
        ClassReminderSent.signup_id == Signup.id, ClassReminderSent.starts_at == ClassSession.starts_at
    )
    rows = db_session.execute(
        select(Signup, ClassSession)
        .join(ClassSession, ClassSession.id == Signup.session_id)
        .where(
            Signup.status == SignupStatus.CONFIRMED,
            Signup.line_user_id.is_not(None),
            ClassSession.starts_at > now,
            ClassSession.starts_at <= now + timedelta(days=2),
            ~sent,
        )
    )
    return [signup.id for signup, session in rows.tuples() if is_due(signup, session, now, settings)]


def claim(*, db_session: Session, signup: Signup, session: ClassSession, now: datetime) -> bool:
    """Records that this reminder goes out; False if another process (or an earlier run) did."""
    table = ClassReminderSent.__table__
    marker = (
        upsert_insert(db_session)(table)
        .values(signup_id=signup.id, starts_at=session.starts_at, sent_at=now)
        .on_conflict_do_nothing(index_elements=["signup_id", "starts_at"])
        .returning(*table.primary_key.columns)
    )
    return db_session.execute(marker).first() is not None

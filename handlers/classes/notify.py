"""The classes' pushes: a place that came free (promotion), the lottery's result, the reminder the
day before, a signup or a session cancelled by the city, and staff notices to a session's
participants; and the capability's scheduled jobs (reminders, draws, purge; capability.py).

A push is written to the outbox in the caller's transaction, so it goes out exactly when the change
it tells of commits (the outbox delivers with a stored X-Line-Retry-Key). Sent once, really: a
reminder is pushed only by the transaction that inserts its marker row; a draw only by the one that
records its seed. Signups made by phone or at the counter have no LINE to tell: staff phone them
(the roster marks them 要電話連絡).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from linebot.v3.messaging import Message
from sqlalchemy.orm import Session

from bot import clock
from bot import outbox as outbox_service
from bot.catalog import t
from bot.db import Database
from bot.messages import text, to_json
from bot.settings import Settings
from handlers.classes import cards
from handlers.classes.models import ACTIVE_STATUSES, ClassSession, Signup
from handlers.classes.service import lottery, reminders, sessions
from handlers.classes.service import signups as signup_service
from notifications import scheduler

log = logging.getLogger(__name__)


def _push(db_session: Session, signup: Signup, messages: list[Message], purpose: str) -> bool:
    if signup.line_user_id is None:
        return False
    outbox_service.enqueue_push(
        db_session=db_session, to=signup.line_user_id, messages=to_json(messages), purpose=purpose
    )
    return True


def _who(signup: Signup, settings: Settings) -> str:
    details = signup_service.details_of(signup, settings)
    return details.name if details else ""


def promoted(*, db_session: Session, signup: Signup, session: ClassSession, settings: Settings) -> bool:
    """A place came free: the first person waiting has it (the card with the QR code, and 辞退する)."""
    lead = t("classes.promoted", title=session.title, when=cards.when_text(session), name=_who(signup, settings))
    token = signup_service.token_of(signup, settings)
    messages = cards.signup_messages(settings, session, signup, _who(signup, settings), token, lead=lead)
    return _push(db_session, signup, messages, f"class_promoted:{signup.id}")


def promoted_all(*, db_session: Session, signups: Iterable[Signup], session: ClassSession, settings: Settings) -> int:
    return sum(promoted(db_session=db_session, signup=s, session=session, settings=settings) for s in signups)


def lottery_result(*, db_session: Session, drawn: lottery.Drawn, settings: Settings) -> int:
    session = drawn.session
    told = 0
    for signup in drawn.winners:
        name = _who(signup, settings)
        lead = t("classes.lottery_won", title=session.title, when=cards.when_text(session), name=name)
        token = signup_service.token_of(signup, settings)
        messages = cards.signup_messages(settings, session, signup, name, token, lead=lead)
        told += _push(db_session, signup, messages, f"class_lottery:{signup.id}")
    for position, signup in enumerate(drawn.waiting, start=1):
        body = t(
            "classes.lottery_waiting",
            title=session.title,
            when=cards.when_text(session),
            name=_who(signup, settings),
            position=position,
        )
        told += _push(db_session, signup, [text(body, [cards.mine_item()])], f"class_lottery:{signup.id}")
    return told


def signup_cancelled_by_staff(*, db_session: Session, signup: Signup, session: ClassSession, reason: str) -> bool:
    body = t("classes.cancelled_by_staff", title=session.title, when=cards.when_text(session))
    if reason:
        body += "\n" + t("classes.reason", reason=reason)
    return _push(db_session, signup, [text(body)], f"class_cancelled:{signup.id}")


def notice(*, db_session: Session, session: ClassSession, body: str, purpose: str) -> tuple[int, int]:
    """A staff message to everyone signed up (confirmed, waiting or applied): one push per LINE user.
    Answers (pushed, to phone): participants signed up by phone or at the counter are called by staff."""
    everyone = [
        s
        for s in signup_service.for_session(db_session=db_session, session_id=session.id)
        if s.status in ACTIVE_STATUSES
    ]
    users = list(dict.fromkeys(s.line_user_id for s in everyone if s.line_user_id))
    message = text(t("classes.notice", title=session.title, when=cards.when_text(session), body=body))
    for user in users:
        outbox_service.enqueue_push(db_session=db_session, to=user, messages=to_json([message]), purpose=purpose)
    return len(users), sum(1 for s in everyone if s.line_user_id is None)


def reminder(*, db_session: Session, signup: Signup, session: ClassSession, settings: Settings) -> bool:
    """The day-before reminder, once (False when its marker is there already)."""
    if signup.line_user_id is None:
        return False
    if not reminders.claim(db_session=db_session, signup=signup, session=session, now=clock.now()):
        return False
    body = t(
        "classes.reminder",
        title=session.title,
        when=cards.when_text(session),
        venue=session.venue,
        name=_who(signup, settings),
        bring=session.bring or "—",
    )
    return _push(db_session, signup, [text(body, [cards.show_qr_item(signup)])], f"class_reminder:{signup.id}")


# Scheduled jobs -------------------------------------------------------------------------------


def send_reminder(*, db: Database, settings: Settings, signup_id: int) -> bool:
    with db.session() as db_session:
        signup = signup_service.get(db_session=db_session, signup_id=signup_id)
        session = sessions.get(db_session=db_session, session_id=signup.session_id) if signup else None
        if signup is None or session is None or not reminders.is_due(signup, session, clock.now(), settings):
            return False
        return reminder(db_session=db_session, signup=signup, session=session, settings=settings)


def send_due(*, db: Database, settings: Settings) -> int:
    """Every reminder that has fallen due and not gone out (each in its own transaction)."""
    with db.session() as db_session:
        due = reminders.due(db_session=db_session, now=clock.now(), settings=settings)
    sent = 0
    for signup_id in due:
        try:
            sent += send_reminder(db=db, settings=settings, signup_id=signup_id)
        except Exception:
            log.exception("class reminder for signup %s failed", signup_id)
    if sent:
        log.info("queued %d class reminder(s)", sent)
    return sent


async def send_due_reminders() -> int:
    context = scheduler.context()
    return await asyncio.to_thread(send_due, db=context.db, settings=context.settings)


def draw_one(*, db: Database, settings: Settings, session_id: int) -> bool:
    """One lottery, in one transaction: the draw, the new places and the pushes telling of them."""
    with db.session() as db_session:
        drawn = lottery.draw(db_session=db_session, session_id=session_id, now=clock.now())
        if drawn is None:
            return False
        lottery_result(db_session=db_session, drawn=drawn, settings=settings)
        log.info("class session %s drawn: %d won, %d waiting", session_id, len(drawn.winners), len(drawn.waiting))
        return True


def draw_due(*, db: Database, settings: Settings) -> int:
    with db.session() as db_session:
        due = lottery.due(db_session=db_session, now=clock.now())
    drawn = 0
    for session_id in due:
        try:
            drawn += draw_one(db=db, settings=settings, session_id=session_id)
        except Exception:
            log.exception("the draw for class session %s failed", session_id)
    return drawn


async def draw_due_lotteries() -> int:
    context = scheduler.context()
    return await asyncio.to_thread(draw_due, db=context.db, settings=context.settings)


def purge(*, db: Database, settings: Settings) -> int:
    with db.session() as db_session:
        count = signup_service.purge_personal_data(db_session=db_session, settings=settings, now=clock.now())
    if count:
        log.info("purged personal data of %d past class signup(s)", count)
    return count


async def purge_personal_data() -> int:
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)

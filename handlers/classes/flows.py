"""Staff actions on classes, one function each: the rule (service), the pushes to citizens
(notify.py, in the same transaction) and the audit record, written once here and called by both the
admin pages (admin/) and /api/v1 (api.py). Neither writes the audit log itself.

The audit log keeps who, when, what, and the before and after of the session or the signup
(SessionRead / SignupRead: no names, no phone numbers, no token). A refused action raises the
service's error (service/errors.py) and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from bot import clock
from bot.catalog import t
from bot.settings import Settings
from handlers.classes import notify
from handlers.classes.models import (
    Channel,
    ClassSession,
    Details,
    SessionCreate,
    SessionStatus,
    SessionUpdate,
    Signup,
)
from handlers.classes.service import lottery, sessions
from handlers.classes.service import signups as signup_service
from handlers.classes.service.errors import InvalidSession, InvalidTransition

ACTION_LABELS = {
    "class.session_create": "スマホ教室を登録",
    "class.series_create": "スマホ教室をまとめて登録",
    "class.session_update": "スマホ教室を編集",
    "class.session_cancel": "スマホ教室を中止",
    "class.signup_create": "スマホ教室の申込を登録",
    "class.signup_cancel": "スマホ教室の申込を取り消し",
    "class.attendance": "スマホ教室の出席を記録",
    "class.notice": "スマホ教室の参加者に連絡",
    "class.draw": "スマホ教室の抽選",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)


def _session_summary(session: ClassSession) -> str:
    return f"{session.title} {session.starts_at.astimezone(clock.TOKYO):%Y-%m-%d %H:%M} {session.venue}"[:200]


def _read(db_session: Session, session: ClassSession) -> dict[str, Any]:
    return sessions.read(db_session=db_session, session=session).model_dump(mode="json")


def _not_started(session_in: SessionCreate) -> None:
    if session_in.starts_at <= clock.now():
        raise InvalidSession("starts_at must be in the future")


def create_session(*, db_session: Session, session_in: SessionCreate, actor: Actor) -> ClassSession:
    _not_started(session_in)
    session = sessions.create(db_session=db_session, session_in=session_in)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.session_create",
        target_type="class_session",
        target_id=session.id,
        after=_read(db_session, session),
        summary=_session_summary(session),
    )
    return session


def create_series(
    *, db_session: Session, template: SessionCreate, recurrence: sessions.Recurrence, actor: Actor
) -> list[ClassSession]:
    """Every session of a recurring series at once (one audit record naming them all)."""
    series_id = sessions.new_series_id()
    planned = sessions.series_sessions(template, recurrence)
    for session_in in planned:
        _not_started(session_in)
    created = [sessions.create(db_session=db_session, session_in=s, series_id=series_id) for s in planned]
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.series_create",
        target_type="class_series",
        target_id=series_id,
        after={"sessions": [s.id for s in created], "first": _read(db_session, created[0])},
        summary=f"{template.title} ×{len(created)}",
    )
    return created


@dataclass
class Updated:
    session: ClassSession
    promoted: list[Signup]


def update_session(
    *, db_session: Session, session: ClassSession, session_in: SessionUpdate, actor: Actor, settings: Settings
) -> Updated:
    """Changes a session; more places move the waitlist up (and tell those promoted)."""
    before = _read(db_session, session)
    sessions.update_fields(db_session=db_session, session=session, session_in=session_in)
    promoted = signup_service.fill_places(db_session=db_session, session_id=session.id)
    notify.promoted_all(db_session=db_session, signups=promoted, session=session, settings=settings)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.session_update",
        target_type="class_session",
        target_id=session.id,
        before=before,
        after=_read(db_session, session),
        summary=_session_summary(session),
    )
    return Updated(session, promoted)


def cancel_session(*, db_session: Session, session: ClassSession, reason: str, actor: Actor) -> tuple[int, int]:
    """Calls the session off and tells everyone signed up (pushed, to phone)."""
    if session.status == SessionStatus.CANCELLED:
        raise InvalidTransition("cancelled")
    before = _read(db_session, session)
    sessions.lock(db_session=db_session, session_id=session.id)
    sessions.cancel_session(db_session=db_session, session=session)
    body = t("classes.session_cancelled") + (("\n" + t("classes.reason", reason=reason)) if reason else "")
    told = notify.notice(
        db_session=db_session, session=session, body=body, purpose=f"class_session_cancelled:{session.id}"
    )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.session_cancel",
        target_type="class_session",
        target_id=session.id,
        before=before,
        after=_read(db_session, session),
        summary=(reason or _session_summary(session))[:200],
    )
    return told


def add_signup(
    *, db_session: Session, session: ClassSession, details: Details, channel: Channel, actor: Actor, settings: Settings
) -> signup_service.Signed:
    """A signup taken by phone or at the counter, under the same places and waitlist as LINE."""
    signed = signup_service.create(
        db_session=db_session,
        session_id=session.id,
        details=details,
        channel=channel,
        settings=settings,
        created_by=f"staff:{actor.id}" if actor.id else "staff",
    )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.signup_create",
        target_type="class_signup",
        target_id=signed.signup.id,
        after=signup_service.read(db_session=db_session, signup=signed.signup).model_dump(mode="json"),
        summary=_session_summary(session),
    )
    return signed


def cancel_signup(
    *, db_session: Session, signup: Signup, reason: str, actor: Actor, settings: Settings
) -> signup_service.Cancelled:
    """Cancels for the citizen (told on LINE when signed up there); the place goes to the next waiting."""
    session = sessions.get(db_session=db_session, session_id=signup.session_id)
    assert session is not None
    before = signup_service.read(db_session=db_session, signup=signup).model_dump(mode="json")
    cancelled = signup_service.cancel(db_session=db_session, signup=signup, reason=reason or "staff")
    notify.signup_cancelled_by_staff(db_session=db_session, signup=signup, session=session, reason=reason)
    notify.promoted_all(db_session=db_session, signups=cancelled.promoted, session=session, settings=settings)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.signup_cancel",
        target_type="class_signup",
        target_id=signup.id,
        before=before,
        after=signup_service.read(db_session=db_session, signup=signup).model_dump(mode="json"),
        summary=(reason or _session_summary(session))[:200],
    )
    return cancelled


def mark_attendance(*, db_session: Session, signup: Signup, attended: bool, actor: Actor) -> Signup:
    before = {"attended_at": signup.attended_at}
    signup_service.mark_attendance(db_session=db_session, signup=signup, attended=attended)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.attendance",
        target_type="class_signup",
        target_id=signup.id,
        before=before,
        after={"attended_at": signup.attended_at},
    )
    return signup


def send_notice(*, db_session: Session, session: ClassSession, body: str, actor: Actor) -> tuple[int, int]:
    """A message to everyone signed up (e.g. a change of venue). Answers (LINE users told, to phone).
    The body goes into the audit log: it is the city's own words, not personal data."""
    told = notify.notice(
        db_session=db_session,
        session=session,
        body=body,
        purpose=f"class_notice:{session.id}:{int(clock.now().timestamp())}",
    )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.notice",
        target_type="class_session",
        target_id=session.id,
        after={"body": body, "line_users": told[0], "to_phone": told[1]},
        summary=_session_summary(session),
    )
    return told


def draw_now(*, db_session: Session, session: ClassSession, actor: Actor, settings: Settings) -> lottery.Drawn | None:
    """Staff run a lottery's draw by hand (after its deadline, as the scheduler would)."""
    if session.signup_deadline is None or session.signup_deadline > clock.now():
        raise InvalidTransition("before_deadline")
    drawn = lottery.draw(db_session=db_session, session_id=session.id, now=clock.now())
    if drawn is None:
        raise InvalidTransition("drawn")
    notify.lottery_result(db_session=db_session, drawn=drawn, settings=settings)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="class.draw",
        target_type="class_session",
        target_id=session.id,
        after={"seed": drawn.session.draw_seed, "won": len(drawn.winners), "waiting": len(drawn.waiting)},
        summary=_session_summary(session),
    )
    return drawn

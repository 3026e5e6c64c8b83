"""What the classes' pages share: addresses, the role guard for changes, the session and the signup a
path names, times as staff read them, and the rules' refusals in staff's words."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Depends, HTTPException, Path

from admin.auth import DbSession, require_role
from bot import clock
from handlers.classes.models import MAX_ID, ClassSession, Mode, SessionStatus, Signup
from handlers.classes.service import errors
from handlers.classes.service import sessions as session_service
from handlers.classes.service import signups as signup_service

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/classes"
WEEKDAYS = "月火水木金土日"
HIDDEN = "（非表示）"
PURGED = "（削除済み）"
counter_only = [Depends(require_role("counter"))]


def roster_url(session: ClassSession | int) -> str:
    return f"{BASE}/{session if isinstance(session, int) else session.id}"


# Times ----------------------------------------------------------------------------------------


def hmm(moment: datetime) -> str:
    local = moment.astimezone(clock.TOKYO)
    return f"{local.hour}:{local.minute:02d}"


def day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


def when_label(session: ClassSession) -> str:
    """2026年12月8日（火）10:00〜11:30, in Tokyo."""
    day = session.starts_at.astimezone(clock.TOKYO).date()
    return f"{day_label(day)}{hmm(session.starts_at)}〜{hmm(session.ends_at)}"


def short_when(session: ClassSession) -> str:
    """12月8日（火）10:00, for the dashboard."""
    local = session.starts_at.astimezone(clock.TOKYO)
    return f"{local.month}月{local.day}日（{WEEKDAYS[local.weekday()]}）{hmm(session.starts_at)}"


def moment_label(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(clock.TOKYO)
    return f"{day_label(local.date())}{local.hour}:{local.minute:02d}"


def today() -> date:
    return session_service.tokyo_day(clock.now())


def signup_state(session: ClassSession, now: datetime) -> str:
    """Where the session's signups stand, in a word (the list and the roster)."""
    if session.status == SessionStatus.CANCELLED:
        return "中止"
    if session.ends_at <= now:
        return "終了"
    if session.starts_at <= now:
        return "開催中"
    if session.mode == Mode.LOTTERY and session.drawn_at is not None:
        return "抽選済み"
    if session.signup_opens_at is not None and now < session.signup_opens_at:
        return "受付前"
    if now > session_service.deadline_of(session):
        return "抽選待ち" if session.mode == Mode.LOTTERY else "締切"
    return "受付中"


# What a path names ----------------------------------------------------------------------------


def current_session(db_session: DbSession, session_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> ClassSession:
    session = session_service.get(db_session=db_session, session_id=session_id)
    if session is None:
        raise HTTPException(status_code=404, detail="そのスマホ教室は見つかりません。")
    return session


CurrentClassSession = Annotated[ClassSession, Depends(current_session)]


def current_signup(
    db_session: DbSession,
    session: CurrentClassSession,
    signup_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Signup:
    """The signup, only if it belongs to the session in the path."""
    signup = signup_service.get(db_session=db_session, signup_id=signup_id)
    if signup is None or signup.session_id != session.id:
        raise HTTPException(status_code=404, detail="その申込はこの教室にはありません。")
    return signup


CurrentSignup = Annotated[Signup, Depends(current_signup)]


# The rules' refusals, as staff read them ---------------------------------------------------------

# InvalidSession / pydantic messages (English, from models.check_times and the service) → Japanese.
RULE_MESSAGES = {
    "ends_at must be after starts_at": "終了時刻は開始時刻より後にしてください。",
    "at most 12 hours": "1回の教室は12時間以内にしてください。",
    "signup_deadline must not be after starts_at": "申込締切は教室の開始より前にしてください。",
    "signup_opens_at must be before signup_deadline": "申込開始は申込締切より前にしてください。",
    "venue must not be empty": "会場名を入力してください。",
    "title and venue are required": "教室名と会場名は必須です。",
    "the series has no day": "指定した期間に、該当する開催日がありません。曜日・週・期間をご確認ください。",
    "a series has at most": f"まとめて登録できるのは{session_service.MAX_SERIES}回までです。期間を短くしてください。",
    "cannot be empty": "必須の項目が空になっています。",
}
MODE_LOCKED = "抽選が済んでいるため、申込方法（先着順／抽選）は変更できません。"

SIGNUP_ERRORS = {
    errors.SignupClosed: "この教室は中止になったか、すでに始まっているため、申込を追加できません。",
    errors.AlreadySignedUp: "この方（同じフリガナと電話番号）は、この教室にすでに申し込まれています。",
    errors.LimitReached: "申込の上限に達しています。",
    errors.NotFound: "そのスマホ教室は見つかりません。",
}
TRANSITION_ERRORS = {
    "cancelled": "この教室はすでに中止になっています。",
    "before_deadline": "申込締切の前なので、まだ抽選できません。",
    "drawn": "この教室はすでに抽選済みです。",
}


def rule_message(text: str) -> str:
    if text == "mode":
        return MODE_LOCKED
    for fragment, message in RULE_MESSAGES.items():
        if fragment in text:
            return message
    return "入力内容を確認してください。"


def class_error_message(exc: errors.ClassError) -> str:
    if isinstance(exc, errors.InvalidSession):
        return rule_message(str(exc))
    if isinstance(exc, errors.InvalidTransition):
        return TRANSITION_ERRORS.get(str(exc), "この申込・教室の状態では、その操作はできません。")
    for kind, message in SIGNUP_ERRORS.items():
        if isinstance(exc, kind):
            return message
    return "その操作はできませんでした。"

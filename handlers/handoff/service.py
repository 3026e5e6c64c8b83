"""Handoff rules: a citizen's request for a person is a thread (one open per citizen) that holds the
recent conversation with the bot, what the citizen writes while waiting, and the staff's replies;
while the citizen waits, the bot stays quiet for them (an open conversation in the handoff flow,
`WITH_STAFF`), until staff close the thread, the citizen goes back to the menu, or HANDOFF_WAIT_MINUTES
pass without a staff reply (then the bot hands them back, politely, once).

And the office calendar that says whether anyone is there now: weekdays, office hours (parsed from
CITY_HOURS, e.g. 「平日 8:30〜17:15」), no national holidays, closed over 年末年始 (12/29–1/3).
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import holidays
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot import clock, transcript
from bot import conversation as conversation_service
from bot import personal_data as crypto
from bot.db import affected_rows
from bot.settings import Settings
from handlers.handoff.models import (
    MAX_ID,
    CannedReply,
    CannedReplyIn,
    HandoffMessage,
    HandoffRequest,
    HandoffRequestCreate,
    HandoffRequestRead,
    HandoffStatus,
    MessageKind,
    Sender,
    ThreadMessageRead,
    ThreadRead,
)

MAX_MESSAGE = 1000
DEFAULT_HOURS = (time(8, 30), time(17, 15))
_HOURS = re.compile(r"(\d{1,2})[:時](\d{2})?\D{0,3}?[〜~\-ー–]\s*(\d{1,2})[:時](\d{2})?")


@dataclass(frozen=True)
class OfficeHours:
    opens: time
    closes: time

    @classmethod
    def from_settings(cls, settings: Settings) -> OfficeHours:
        """Reads the hours from CITY_HOURS (what citizens are told), falling back to 8:30–17:15."""
        match = _HOURS.search(unicodedata.normalize("NFKC", settings.city_hours))
        if match is None:
            return cls(*DEFAULT_HOURS)
        try:
            opens = time(int(match.group(1)), int(match.group(2) or 0))
            closes = time(int(match.group(3)), int(match.group(4) or 0))
        except ValueError:
            return cls(*DEFAULT_HOURS)
        return cls(opens, closes) if opens < closes else cls(*DEFAULT_HOURS)


@cache
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def is_office_day(day: date) -> bool:
    if day.weekday() >= 5 or day in _holidays(day.year):
        return False
    # 年末年始: the city offices close from 29 December to 3 January.
    return not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))


def is_open(moment: datetime, hours: OfficeHours) -> bool:
    local = moment.astimezone(clock.TOKYO)
    return is_office_day(local.date()) and hours.opens <= local.time() < hours.closes


def next_opening(moment: datetime, hours: OfficeHours) -> datetime:
    """When the office next opens (Asia/Tokyo), at or after `moment`."""
    local = moment.astimezone(clock.TOKYO)
    day = local.date()
    if is_office_day(day) and local.time() < hours.opens:
        return datetime.combine(day, hours.opens, clock.TOKYO)
    for _ in range(30):
        day += timedelta(days=1)
        if is_office_day(day):
            return datetime.combine(day, hours.opens, clock.TOKYO)
    raise RuntimeError("no office day within 30 days")  # pragma: no cover - calendars are not that empty


# Requests -------------------------------------------------------------------------------------------

WITH_STAFF = "with_staff"  # the handoff flow's state while the bot stays quiet for a citizen
FLOW_NAME = "handoff"
QUIET_CAP = timedelta(days=1)  # the conversation row's own expiry; the wait is HANDOFF_WAIT_MINUTES
ACTIVE = (HandoffStatus.OPEN, HandoffStatus.IN_PROGRESS)


def get(*, db_session: Session, handoff_request_id: int) -> HandoffRequest | None:
    return db_session.get(HandoffRequest, handoff_request_id) if 1 <= handoff_request_id <= MAX_ID else None


def get_open_by_citizen(*, db_session: Session, line_user_id: str) -> HandoffRequest | None:
    """The citizen's thread still being dealt with (未対応 or 対応中), if any."""
    return db_session.scalars(
        select(HandoffRequest)
        .where(HandoffRequest.line_user_id == line_user_id, HandoffRequest.status.in_(ACTIVE))
        .order_by(HandoffRequest.requested_at.desc())
        .limit(1)
    ).first()


def get_all_by_status(*, db_session: Session, status: HandoffStatus, limit: int = 200) -> list[HandoffRequest]:
    return list(
        db_session.scalars(
            select(HandoffRequest)
            .where(HandoffRequest.status == status)
            .order_by(HandoffRequest.requested_at)
            .limit(limit)
        )
    )


def inbox(
    *, db_session: Session, status: HandoffStatus | None = None, hours: OfficeHours | None = None, limit: int = 200
) -> list[HandoffRequest]:
    """The inbox: what waited overnight (asked while the office was closed) first, then oldest first;
    finished threads newest first."""
    query = select(HandoffRequest)
    if status is not None:
        query = query.where(HandoffRequest.status == status)
    if status == HandoffStatus.DONE:
        query = query.order_by(HandoffRequest.handled_at.desc(), HandoffRequest.id.desc())
    else:
        query = query.order_by(
            HandoffRequest.status.desc(),  # open before in_progress before done
            HandoffRequest.office_open,  # closed-hours requests (False) first
            HandoffRequest.requested_at,
        )
    return list(db_session.scalars(query.limit(limit)))


def count_by_status(*, db_session: Session) -> dict[str, int]:
    rows = db_session.execute(select(HandoffRequest.status, func.count()).group_by(HandoffRequest.status))
    counts = {status.value: 0 for status in HandoffStatus}
    counts.update({str(status): int(count) for status, count in rows})
    return counts


def create(*, db_session: Session, handoff_in: HandoffRequestCreate, office_open: bool) -> HandoffRequest:
    now = clock.now()
    request = HandoffRequest(
        line_user_id=handoff_in.line_user_id,
        message=handoff_in.message.strip()[:MAX_MESSAGE] if handoff_in.message else None,
        source=handoff_in.source,
        status=HandoffStatus.OPEN,
        office_open=office_open,
        requested_at=now,
        last_citizen_at=now,
    )
    db_session.add(request)
    db_session.flush()
    return request


def request_person(
    *,
    db_session: Session,
    handoff_in: HandoffRequestCreate,
    office_open: bool,
    settings: Settings | None = None,
) -> tuple[HandoffRequest, bool]:
    """Records the request unless one from this citizen is still open; answers (request, created).

    A new thread starts with the recent conversation with the bot (context, when `settings` are
    given); a second request while the first is open adds its words to it, so staff see everything
    in one place.
    """
    existing = get_open_by_citizen(db_session=db_session, line_user_id=handoff_in.line_user_id)
    words = handoff_in.message.strip() if handoff_in.message else ""
    if existing is not None:
        if words:
            joined = "\n".join(m for m in (existing.message, words) if m)
            existing.message = joined[-MAX_MESSAGE:]
            if settings is not None:
                add_message(
                    db_session=db_session, settings=settings, request=existing, sender=Sender.CITIZEN, text=words
                )
        db_session.flush()
        return existing, False
    request = create(db_session=db_session, handoff_in=handoff_in, office_open=office_open)
    if settings is not None:
        for entry in transcript.recent(db_session=db_session, settings=settings, chat_id=handoff_in.line_user_id):
            sender = Sender.CITIZEN if entry.sender == "citizen" else Sender.BOT
            add_message(
                db_session=db_session,
                settings=settings,
                request=request,
                sender=sender,
                text=entry.text,
                at=entry.at,
                is_context=True,
            )
    return request, True


# Messages in a thread -------------------------------------------------------------------------


def add_message(
    *,
    db_session: Session,
    settings: Settings,
    request: HandoffRequest,
    sender: Sender,
    text: str | None,
    kind: MessageKind = MessageKind.TEXT,
    staff_name: str | None = None,
    line_message_id: str | None = None,
    at: datetime | None = None,
    is_context: bool = False,
) -> HandoffMessage:
    now = at or clock.now()
    message = HandoffMessage(
        request_id=request.id,
        at=now,
        sender=sender,
        kind=kind,
        body_enc=crypto.encrypt(text[:MAX_MESSAGE], settings) if text else None,
        staff_name=staff_name,
        line_message_id=line_message_id,
        fetch_attempts=0,
        is_context=is_context,
    )
    db_session.add(message)
    if not is_context:
        if sender == Sender.CITIZEN:
            request.last_citizen_at = now
        elif sender == Sender.STAFF:
            request.last_staff_at = now
    db_session.flush()
    return message


def messages_of(*, db_session: Session, request: HandoffRequest) -> list[HandoffMessage]:
    return list(
        db_session.scalars(
            select(HandoffMessage)
            .where(HandoffMessage.request_id == request.id)
            .order_by(HandoffMessage.is_context.desc(), HandoffMessage.at, HandoffMessage.id)
        )
    )


def text_of(message: HandoffMessage, settings: Settings) -> str | None:
    return crypto.decrypt(message.body_enc, settings) if message.body_enc else None


def image_of(message: HandoffMessage, settings: Settings) -> tuple[bytes, str] | None:
    if not message.media_enc:
        return None
    return base64.b64decode(crypto.decrypt(message.media_enc, settings)), message.media_type or "image/jpeg"


def get_message(*, db_session: Session, message_id: int) -> HandoffMessage | None:
    return db_session.get(HandoffMessage, message_id) if 1 <= message_id <= MAX_ID else None


def read_thread(
    *, db_session: Session, request: HandoffRequest, settings: Settings, citizen_name: str | None
) -> ThreadRead:
    out = ThreadRead.model_validate(HandoffRequestRead.model_validate(request).model_dump())
    out.citizen_name = citizen_name
    out.messages = [
        ThreadMessageRead(
            id=m.id,
            at=m.at,
            sender=m.sender,
            kind=m.kind,
            text=text_of(m, settings),
            staff_name=m.staff_name,
            has_image=m.media_enc is not None,
            is_context=m.is_context,
        )
        for m in messages_of(db_session=db_session, request=request)
    ]
    return out


# While a person handles it: the bot stays quiet ---------------------------------------------------


def wait_for_staff(*, db_session: Session, request: HandoffRequest, settings: Settings, noted: bool) -> None:
    """Starts (or restarts) the wait: the bot keeps quiet for the citizen until staff reply or
    HANDOFF_WAIT_MINUTES pass. A citizen in another conversation (a booking) is not pulled out of it."""
    open_conversation = conversation_service.get_active(db_session=db_session, chat_id=request.line_user_id)
    if open_conversation is not None and open_conversation.flow != FLOW_NAME:
        return
    request.waiting_until = clock.now() + timedelta(minutes=settings.handoff_wait_minutes)
    request.handed_back_at = None
    conversation_service.save(
        db_session=db_session,
        chat_id=request.line_user_id,
        flow=FLOW_NAME,
        state=WITH_STAFF,
        data={"request": request.id, "noted": noted},
        timeout=QUIET_CAP,
    )


def is_waiting(*, db_session: Session, line_user_id: str) -> bool:
    open_conversation = conversation_service.get_active(db_session=db_session, chat_id=line_user_id)
    return open_conversation is not None and open_conversation.flow == FLOW_NAME


def stop_waiting(*, db_session: Session, request: HandoffRequest) -> bool:
    """The bot answers the citizen again; True when they were waiting."""
    request.waiting_until = None
    if not is_waiting(db_session=db_session, line_user_id=request.line_user_id):
        return False
    conversation_service.end(db_session=db_session, chat_id=request.line_user_id)
    return True


def due_hand_backs(*, db_session: Session, now: datetime) -> list[int]:
    return list(
        db_session.scalars(
            select(HandoffRequest.id).where(
                HandoffRequest.status.in_(ACTIVE),
                HandoffRequest.waiting_until.is_not(None),
                HandoffRequest.waiting_until <= now,
                HandoffRequest.handed_back_at.is_(None),
            )
        )
    )


def claim_hand_back(*, db_session: Session, request_id: int, now: datetime) -> HandoffRequest | None:
    """Marks the hand-back once (a conditional UPDATE: two processes cannot both do it)."""
    claimed = db_session.execute(
        update(HandoffRequest)
        .where(
            HandoffRequest.id == request_id,
            HandoffRequest.handed_back_at.is_(None),
            HandoffRequest.waiting_until <= now,
        )
        .values(handed_back_at=now, waiting_until=None)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(claimed) == 0:
        return None
    return db_session.get(HandoffRequest, request_id, populate_existing=True)


# Staff ----------------------------------------------------------------------------------------


def set_status(*, db_session: Session, request: HandoffRequest, status: HandoffStatus, staff_name: str) -> None:
    request.status = status
    if status == HandoffStatus.DONE:
        request.handled_at = clock.now()
        request.handled_by = staff_name
    else:
        request.handled_at = None
        request.handled_by = None
    db_session.flush()


def assign(*, db_session: Session, request: HandoffRequest, staff_id: int | None, staff_name: str | None) -> None:
    request.assigned_to = staff_id
    request.assigned_name = staff_name
    db_session.flush()


def mark_done(*, db_session: Session, handoff_request: HandoffRequest, staff_name: str) -> HandoffRequest:
    set_status(db_session=db_session, request=handoff_request, status=HandoffStatus.DONE, staff_name=staff_name)
    return handoff_request


# Images ---------------------------------------------------------------------------------------


def images_to_fetch(*, db_session: Session, max_attempts: int = 5) -> list[int]:
    return list(
        db_session.scalars(
            select(HandoffMessage.id).where(
                HandoffMessage.kind == MessageKind.IMAGE,
                HandoffMessage.line_message_id.is_not(None),
                HandoffMessage.media_enc.is_(None),
                HandoffMessage.fetch_attempts < max_attempts,
            )
        )
    )


def store_image(
    *, db_session: Session, message: HandoffMessage, data: bytes, media_type: str, settings: Settings
) -> None:
    message.media_enc = crypto.encrypt(base64.b64encode(data).decode(), settings)
    message.media_type = media_type[:64]
    message.line_message_id = None
    db_session.flush()


# 定型文 -----------------------------------------------------------------------------------------


def canned_replies(*, db_session: Session, active_only: bool = True) -> list[CannedReply]:
    query = select(CannedReply).order_by(CannedReply.sort_order, CannedReply.id)
    if active_only:
        query = query.where(CannedReply.is_active.is_(True))
    return list(db_session.scalars(query))


def save_canned_reply(*, db_session: Session, reply_in: CannedReplyIn, reply: CannedReply | None = None) -> CannedReply:
    if reply is None:
        reply = CannedReply()
        db_session.add(reply)
    for name, value in reply_in.model_dump().items():
        setattr(reply, name, value)
    reply.updated_at = clock.now()
    db_session.flush()
    return reply


DEFAULT_CANNED = (
    ("確認します", "お問い合わせありがとうございます。担当課に確認しますので、しばらくお待ちください。"),
    ("電話をお願い", "恐れ入りますが、詳しくはお電話でお問い合わせください。"),
    ("解決のお礼", "ご連絡ありがとうございました。ほかにご不明な点があれば、いつでもお送りください。"),
)


def seed_canned_replies(*, db_session: Session) -> int:
    if db_session.scalar(select(func.count()).select_from(CannedReply)):
        return 0
    for order, (title, body) in enumerate(DEFAULT_CANNED):
        save_canned_reply(db_session=db_session, reply_in=CannedReplyIn(title=title, body=body, sort_order=order))
    return len(DEFAULT_CANNED)


# Retention ------------------------------------------------------------------------------------


def purge(*, db_session: Session, before: datetime) -> int:
    """Requests made before `before` (the nightly job, HANDOFF_RETENTION_DAYS): handled ones are
    deleted with their thread; one still open stays for staff, without the citizen's words and
    without its messages older than that. Answers how many changed."""
    deleted = db_session.execute(
        delete(HandoffRequest).where(HandoffRequest.status == HandoffStatus.DONE, HandoffRequest.requested_at < before)
    )
    cleared = db_session.execute(
        update(HandoffRequest)
        .where(HandoffRequest.requested_at < before, HandoffRequest.message.is_not(None))
        .values(message=None)
        .execution_options(synchronize_session=False)
    )
    old_messages = db_session.execute(delete(HandoffMessage).where(HandoffMessage.at < before))
    return affected_rows(deleted) + affected_rows(cleared) + affected_rows(old_messages)

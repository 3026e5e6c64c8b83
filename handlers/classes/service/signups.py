"""Signups that never overfill a session and keep the waitlist in arrival order, whatever runs at
the same time: every change to a session's signups first takes the session's row lock
(sessions.lock), then counts and decides. A cancelled place goes to the first person waiting in the
same transaction (promote), so a place is never free while someone waits.

A participant is one person however many people sign them up: `active_key` (their person key while
the signup is active) is unique per session.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock, qr
from bot import personal_data as crypto
from bot.db import affected_rows
from bot.settings import Settings
from handlers.classes.models import (
    ACTIVE_STATUSES,
    MAX_ID,
    Channel,
    ClassSession,
    Details,
    Participant,
    Signup,
    SignupRead,
    SignupStatus,
    SignupWithDetailsRead,
)
from handlers.classes.service import sessions
from handlers.classes.service.errors import AlreadySignedUp, InvalidTransition, LimitReached, NotFound, SignupClosed


@dataclass
class Signed:
    signup: Signup
    token: str | None
    created: bool  # False: the idempotency key found an earlier signup


# Who someone is -------------------------------------------------------------------------------


def _folded(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    # ひらがな → カタカナ, no spaces: 「やまだ はなこ」 and 「ヤマダハナコ」 are one person.
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return "".join(text.split()).lower()


def person_key(details: Details, settings: Settings) -> str:
    """A keyed digest of who the participant is (furigana, else name; and the phone digits)."""
    who = _folded(details.furigana or details.name)
    phone = "".join(c for c in unicodedata.normalize("NFKC", details.phone) if c.isdigit())
    return hmac.new(settings.secret_key.encode(), f"{who}\x00{phone}".encode(), hashlib.sha256).hexdigest()


def details_of(signup: Signup, settings: Settings) -> Details | None:
    """Who it is (None once purged). Only for counter/admin roles and the citizen's own flow."""
    if signup.details_enc is None:
        return None
    return Details.model_validate_json(crypto.decrypt(signup.details_enc, settings))


def participant_details(participant: Participant, settings: Settings) -> Details | None:
    if participant.details_enc is None:
        return None
    return Details.model_validate_json(crypto.decrypt(participant.details_enc, settings))


def token_of(signup: Signup, settings: Settings) -> str | None:
    return crypto.decrypt(signup.qr_token_enc, settings) if signup.qr_token_enc else None


def idempotency_key(line_user_id: str, nonce: str) -> str:
    return hashlib.sha256(f"class\x00{line_user_id}\x00{nonce}".encode()).hexdigest()


# Reading --------------------------------------------------------------------------------------


def get(*, db_session: Session, signup_id: int) -> Signup | None:
    return db_session.get(Signup, signup_id) if 1 <= signup_id <= MAX_ID else None


def get_for_citizen(*, db_session: Session, signup_id: int | str | None, line_user_id: str | None) -> Signup | None:
    """The signup, only if this LINE user made it: ids from postbacks are never trusted on their own."""
    try:
        number = int(str(signup_id))
    except (TypeError, ValueError):
        return None
    signup = get(db_session=db_session, signup_id=number)
    if signup is None or not line_user_id or signup.line_user_id != line_user_id:
        return None
    return signup


def get_by_token(*, db_session: Session, token: str) -> Signup | None:
    normalised = qr.normalise_token(token)
    if normalised is None:
        return None
    return db_session.scalars(select(Signup).where(Signup.qr_token_hash == qr.token_hash(normalised))).first()


def has_live_token(db_session: Session, digest: str) -> bool:
    """Whether a QR token digest is an active signup's (bot/qr_media.py)."""
    found = db_session.scalar(
        select(Signup.id).where(Signup.qr_token_hash == digest, Signup.status != SignupStatus.CANCELLED)
    )
    return found is not None


def get_by_idempotency_key(*, db_session: Session, key: str) -> Signup | None:
    return db_session.scalars(select(Signup).where(Signup.idempotency_key == key)).first()


def for_session(*, db_session: Session, session_id: int) -> list[Signup]:
    """The roster: confirmed, applied, waiting (in order), then cancelled."""
    order = {SignupStatus.CONFIRMED: 0, SignupStatus.APPLIED: 1, SignupStatus.WAITLISTED: 2, SignupStatus.CANCELLED: 3}
    found = db_session.scalars(select(Signup).where(Signup.session_id == session_id).order_by(Signup.queue_no))
    return sorted(found, key=lambda s: (order[SignupStatus(s.status)], s.queue_no))


def upcoming_for_citizen(*, db_session: Session, line_user_id: str, now: datetime) -> list[tuple[Signup, ClassSession]]:
    """This LINE user's active signups (their own and their family's) in sessions still to come."""
    rows = db_session.execute(
        select(Signup, ClassSession)
        .join(ClassSession, ClassSession.id == Signup.session_id)
        .where(
            Signup.line_user_id == line_user_id,
            Signup.status.in_(ACTIVE_STATUSES),
            ClassSession.ends_at > now,
        )
        .order_by(ClassSession.starts_at, Signup.id)
    )
    return [(signup, session) for signup, session in rows.tuples()]


def participants_of(*, db_session: Session, line_user_id: str) -> list[Participant]:
    """The people this LINE user signs up (themselves first), with their details still kept."""
    return list(
        db_session.scalars(
            select(Participant)
            .where(Participant.line_user_id == line_user_id, Participant.details_enc.is_not(None))
            .order_by(Participant.is_self.desc(), Participant.id)
        )
    )


def get_participant(*, db_session: Session, participant_id: int | str | None, line_user_id: str) -> Participant | None:
    try:
        number = int(str(participant_id))
    except (TypeError, ValueError):
        return None
    participant = db_session.get(Participant, number) if 1 <= number <= MAX_ID else None
    if participant is None or participant.line_user_id != line_user_id or participant.details_enc is None:
        return None
    return participant


def waitlist_position(*, db_session: Session, signup: Signup) -> int | None:
    if signup.status != SignupStatus.WAITLISTED:
        return None
    ahead = db_session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(
            Signup.session_id == signup.session_id,
            Signup.status == SignupStatus.WAITLISTED,
            Signup.queue_no < signup.queue_no,
        )
    )
    return int(ahead or 0) + 1


def read(*, db_session: Session, signup: Signup, position: int | None = None) -> SignupRead:
    out = SignupRead.model_validate(signup)
    out.waitlist_position = (
        position if position is not None else waitlist_position(db_session=db_session, signup=signup)
    )
    out.needs_phone_call = signup.line_user_id is None
    out.details_purged = signup.purged_at is not None
    return out


def read_with_details(*, db_session: Session, signup: Signup, settings: Settings) -> SignupWithDetailsRead:
    out = SignupWithDetailsRead.model_validate(read(db_session=db_session, signup=signup).model_dump())
    out.details = details_of(signup, settings)
    return out


def count_active_for_citizen(*, db_session: Session, line_user_id: str, now: datetime) -> int:
    return len(upcoming_for_citizen(db_session=db_session, line_user_id=line_user_id, now=now))


# Signing up -----------------------------------------------------------------------------------


def remember_participant(
    *, db_session: Session, line_user_id: str, details: Details, is_self: bool, settings: Settings, now: datetime
) -> Participant:
    """The participant this LINE user signs up with these details: the same person (same key) is
    updated, a new one added."""
    key = person_key(details, settings)
    participant = db_session.scalars(
        select(Participant).where(Participant.line_user_id == line_user_id, Participant.person_key == key)
    ).first()
    if participant is None and is_self:
        participant = db_session.scalars(
            select(Participant).where(Participant.line_user_id == line_user_id, Participant.is_self.is_(True))
        ).first()
    if participant is None:
        participant = Participant(line_user_id=line_user_id, is_self=is_self, created_at=now)
        db_session.add(participant)
    participant.details_enc = crypto.encrypt(details.model_dump_json(), settings)
    participant.person_key = key
    participant.updated_at = now
    db_session.flush()
    return participant


def create(
    *,
    db_session: Session,
    session_id: int,
    details: Details,
    channel: Channel,
    settings: Settings,
    line_user_id: str | None = None,
    participant: Participant | None = None,
    idempotency_key: str | None = None,
    created_by: str = "citizen",
    now: datetime | None = None,
) -> Signed:
    """Signs someone up: confirmed while places are left and nobody waits, else waitlisted; an
    application while a lottery takes them. Citizens keep the signup period and their limit; staff
    (phone, counter) keep the same places and waitlist, and may add until the class starts."""
    now = now or clock.now()
    if idempotency_key:
        earlier = get_by_idempotency_key(db_session=db_session, key=idempotency_key)
        if earlier is not None:
            return Signed(earlier, token_of(earlier, settings), created=False)
    by_citizen = channel in (Channel.LINE, Channel.FAMILY)
    if by_citizen:
        if not line_user_id:
            raise NotFound("citizen")
        if count_active_for_citizen(db_session=db_session, line_user_id=line_user_id, now=now) >= (
            settings.class_max_active_signups
        ):
            raise LimitReached(str(settings.class_max_active_signups))
    session = sessions.lock(db_session=db_session, session_id=session_id)
    if session is None:
        raise NotFound("session")
    if by_citizen and not sessions.is_open_for_signup(session, now):
        raise SignupClosed("period")
    if not by_citizen and (session.status != "open" or session.starts_at <= now):
        raise SignupClosed("started")
    key = person_key(details, settings)
    count = sessions.counts_of(db_session=db_session, session=session)
    if sessions.takes_applications(session):
        status = SignupStatus.APPLIED
    elif count.confirmed < session.capacity and count.waitlisted == 0:
        status = SignupStatus.CONFIRMED
    else:
        status = SignupStatus.WAITLISTED
    token = qr.new_token()
    min_age = details.min_age
    try:
        with db_session.begin_nested():
            signup = Signup(
                session_id=session.id,
                participant_id=participant.id if participant else None,
                line_user_id=line_user_id if by_citizen else None,
                channel=channel,
                status=status,
                queue_no=session.seq,
                active_key=key,
                details_enc=crypto.encrypt(details.model_dump_json(), settings),
                qr_token_hash=qr.token_hash(token),
                qr_token_enc=crypto.encrypt(token, settings),
                idempotency_key=idempotency_key,
                priority=session.priority_age is not None and min_age is not None and min_age >= session.priority_age,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            db_session.add(signup)
            db_session.flush()
    except IntegrityError:
        if idempotency_key:
            earlier = get_by_idempotency_key(db_session=db_session, key=idempotency_key)
            if earlier is not None:
                return Signed(earlier, token_of(earlier, settings), created=False)
        raise AlreadySignedUp(str(session.id)) from None
    return Signed(signup, token, created=True)


# Cancelling and promoting ---------------------------------------------------------------------


@dataclass
class Cancelled:
    signup: Signup
    promoted: list[Signup]


def cancel(*, db_session: Session, signup: Signup, reason: str, now: datetime | None = None) -> Cancelled:
    """Cancels (a confirmed place, a waitlist entry or an application); a freed place goes to the
    first person waiting, in this transaction."""
    now = now or clock.now()
    session = sessions.lock(db_session=db_session, session_id=signup.session_id)
    if session is None:
        raise NotFound("session")
    was = db_session.scalar(select(Signup.status).where(Signup.id == signup.id))
    changed = db_session.execute(
        update(Signup)
        .where(Signup.id == signup.id, Signup.status.in_(ACTIVE_STATUSES))
        .values(
            status=SignupStatus.CANCELLED, active_key=None, cancelled_at=now, cancel_reason=reason[:200], updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    if affected_rows(changed) == 0:
        raise InvalidTransition(str(was))
    db_session.refresh(signup)
    promoted = promote(db_session=db_session, session=session, now=now) if was == SignupStatus.CONFIRMED else []
    return Cancelled(signup, promoted)


def promote(*, db_session: Session, session: ClassSession, now: datetime) -> list[Signup]:
    """Fills free places from the waitlist, first come first. The caller holds the session's lock."""
    if session.starts_at <= now or sessions.takes_applications(session) or session.status != "open":
        return []
    count = sessions.counts_of(db_session=db_session, session=session)
    free = session.capacity - count.confirmed
    if free <= 0:
        return []
    heads = list(
        db_session.scalars(
            select(Signup)
            .where(Signup.session_id == session.id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.queue_no)
            .limit(free)
        )
    )
    for signup in heads:
        signup.status = SignupStatus.CONFIRMED
        signup.promoted_at = now
        signup.updated_at = now
    db_session.flush()
    return heads


def fill_places(*, db_session: Session, session_id: int, now: datetime | None = None) -> list[Signup]:
    """After staff give a session more places: the waitlist moves up."""
    session = sessions.lock(db_session=db_session, session_id=session_id)
    return [] if session is None else promote(db_session=db_session, session=session, now=now or clock.now())


# On the day -----------------------------------------------------------------------------------


def mark_attendance(*, db_session: Session, signup: Signup, attended: bool, now: datetime | None = None) -> Signup:
    """Ticks (or unticks) attendance; only a confirmed place attends. The UPDATE itself checks the
    status: a signup cancelled meanwhile (by the citizen, in another process) is not ticked."""
    now = now or clock.now()
    changed = db_session.execute(
        update(Signup)
        .where(Signup.id == signup.id, Signup.status == SignupStatus.CONFIRMED)
        .values(attended_at=now if attended else None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db_session.refresh(signup)
    if affected_rows(changed) == 0:
        raise InvalidTransition(str(signup.status))
    return signup


# Personal data --------------------------------------------------------------------------------


def purge_personal_data(*, db_session: Session, settings: Settings, now: datetime) -> int:
    """Who was signed up, and the QR token, go `personal_data_retention_days` after the session;
    so do remembered participants with nothing left to remember them for."""
    horizon = now - timedelta(days=settings.personal_data_retention_days)
    ended = select(ClassSession.id).where(ClassSession.ends_at < horizon)
    changed = db_session.execute(
        update(Signup)
        .where(Signup.session_id.in_(ended), Signup.purged_at.is_(None))
        .values(details_enc=None, qr_token_enc=None, qr_token_hash=None, active_key=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    still_needed = select(Signup.participant_id).where(Signup.participant_id.is_not(None), Signup.purged_at.is_(None))
    db_session.execute(
        update(Participant)
        .where(
            Participant.details_enc.is_not(None),
            Participant.updated_at < horizon,
            Participant.id.not_in(still_needed),
        )
        .values(details_enc=None, person_key="", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected_rows(changed)

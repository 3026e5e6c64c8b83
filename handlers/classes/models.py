"""スマホ教室 as data: sessions (each one class on one day), the participants a LINE user manages
(themselves and family), signups (confirmed, waitlisted, applied to a lottery, cancelled), and the
markers that make each reminder go out once.

Who a participant is (name, furigana, phone, phone type, age group, needs) is personal data: stored
only encrypted (`details_enc`, bot/personal_data.py). `person_key` is a keyed digest of the
furigana and the phone number, so "the same person twice in one session" is found without keeping
either in clear. No Read schema without `details` in its name carries personal data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime
from bot.validation import printable

MAX_ID = 2**31 - 1
_MAX_LENGTH = timedelta(hours=12)


class Level(StrEnum):
    FIRST = "first"  # はじめて
    BASIC = "basic"  # 基本
    ADVANCED = "advanced"  # 応用

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self]


LEVEL_LABELS = {Level.FIRST: "はじめて", Level.BASIC: "基本", Level.ADVANCED: "応用"}


class Mode(StrEnum):
    FIRST_COME = "first_come"  # 先着順 (a full session takes a waitlist)
    LOTTERY = "lottery"  # 抽選 (applications until the deadline, then a draw)

    @property
    def label(self) -> str:
        return {"first_come": "先着順", "lottery": "抽選"}[self.value]


class PhoneKind(StrEnum):
    IPHONE = "iphone"
    ANDROID = "android"
    LOANER = "loaner"  # 貸出あり: the city lends phones for the class

    @property
    def label(self) -> str:
        return PHONE_LABELS[self]


PHONE_LABELS = {PhoneKind.IPHONE: "iPhone", PhoneKind.ANDROID: "Android", PhoneKind.LOANER: "貸出あり"}


class SessionStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"  # called off by the city (participants are told)


class SignupStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    APPLIED = "applied"  # a lottery application, before the draw
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return SIGNUP_STATUS_LABELS[self]


SIGNUP_STATUS_LABELS = {
    SignupStatus.CONFIRMED: "参加決定",
    SignupStatus.WAITLISTED: "キャンセル待ち",
    SignupStatus.APPLIED: "抽選申込",
    SignupStatus.CANCELLED: "取り消し",
}
ACTIVE_STATUSES = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.APPLIED)


class Channel(StrEnum):
    LINE = "line"
    FAMILY = "family"  # on LINE, by someone else for the participant
    PHONE = "phone"
    COUNTER = "counter"

    @property
    def label(self) -> str:
        return {"line": "LINE", "family": "LINE（家族など）", "phone": "電話", "counter": "窓口"}[self.value]


# Age groups a participant may give (optional): key → (label, the youngest age in it).
AGE_GROUPS: dict[str, tuple[str, int]] = {
    "u60": ("59歳以下", 0),
    "60": ("60〜64歳", 60),
    "65": ("65〜69歳", 65),
    "70": ("70〜74歳", 70),
    "75": ("75〜79歳", 75),
    "80": ("80歳以上", 80),
}
# Needs a participant may tell the teachers about (keys of the catalog's classes.needs.*).
NEEDS: dict[str, str] = {
    "hearing": "耳が遠い",
    "sight": "目が見えにくい",
    "wheelchair": "車いす",
    "escort": "付き添いあり",
}


class ClassSession(Base):
    """One class on one day. `seq` is taken (+1) by every signup and every change of the session's
    signups, under the session row's lock: arrival order, and one writer at a time per session."""

    __tablename__ = "class_sessions"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        Index("ix_class_sessions_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(100))
    level: Mapped[Level] = mapped_column(String(16), default=Level.FIRST)
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    venue: Mapped[str] = mapped_column(String(100))
    venue_address: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    capacity: Mapped[int] = mapped_column(Integer)
    bring: Mapped[str] = mapped_column(String(300), default="")
    phones: Mapped[list[str]] = mapped_column(JSONType, default=list)
    signup_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signup_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mode: Mapped[Mode] = mapped_column(String(16), default=Mode.FIRST_COME)
    # Lottery: applicants this old or older are drawn first (None: no priority group).
    priority_age: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[SessionStatus] = mapped_column(String(16), default=SessionStatus.OPEN)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    series_id: Mapped[str | None] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    draw_seed: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Participant(Base):
    """Someone a LINE user signs up: themselves (`is_self`) or a family member. Phone and counter
    signups have a participant with no LINE user."""

    __tablename__ = "class_participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    is_self: Mapped[bool] = mapped_column(Boolean, default=False)
    details_enc: Mapped[str | None] = mapped_column(Text)
    person_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Signup(Base):
    __tablename__ = "class_signups"
    __table_args__ = (
        # One active signup per person per session, whoever books them (cancelled ones free the key).
        UniqueConstraint("session_id", "active_key", name="uq_class_signups_session_id_active_key"),
        Index("ix_class_signups_session_id_status", "session_id", "status"),
        Index("ix_class_signups_line_user_id_status", "line_user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id", ondelete="CASCADE"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("class_participants.id", ondelete="SET NULL"))
    # Who signed them up on LINE (None for phone and counter): every citizen action checks it.
    line_user_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(String(16), default=Channel.LINE)
    status: Mapped[SignupStatus] = mapped_column(String(16), default=SignupStatus.CONFIRMED)
    # The session's seq when this signup arrived: the waitlist's order (the draw's, for a lottery).
    queue_no: Mapped[int] = mapped_column(Integer)
    active_key: Mapped[str | None] = mapped_column(String(64))
    # The participant as they were signed up (encrypted): the roster, and what the purge deletes.
    details_enc: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    qr_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    qr_token_enc: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    draw_rank: Mapped[int | None] = mapped_column(Integer)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64), default="citizen")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(200))


class ClassReminderSent(Base):
    """One row per reminder pushed: the unique key makes "sent once" true across processes."""

    __tablename__ = "class_reminders_sent"
    __table_args__ = (UniqueConstraint("signup_id", "starts_at", name="uq_class_reminders_sent_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signup_id: Mapped[int] = mapped_column(ForeignKey("class_signups.id", ondelete="CASCADE"))
    # The class time it reminded of: a session moved to another day is reminded again.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Schemas --------------------------------------------------------------------------------------


def _printable(value: str | None) -> str | None:
    """Free text as both databases store it (bot/validation.py)."""
    return printable(value) if value is not None else None


class Details(BaseModel):
    """Who is signed up. Cleaned by the flow and the staff forms (カタカナ, 半角 digits)."""

    name: str = Field(min_length=1, max_length=60)
    furigana: str = Field(default="", max_length=60)
    phone: str = Field(default="", max_length=20)
    phone_type: PhoneKind | None = None
    age_group: str | None = None
    needs: list[str] = Field(default_factory=list, max_length=10)
    note: str = Field(default="", max_length=200)

    @field_validator("name", "furigana", "phone", "note")
    @classmethod
    def _strip(cls, value: str) -> str:
        return (_printable(value) or "").strip()

    @field_validator("age_group")
    @classmethod
    def _age_group(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in AGE_GROUPS:
            raise ValueError(f"age_group is one of {sorted(AGE_GROUPS)}")
        return value

    @field_validator("needs")
    @classmethod
    def _needs(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in NEEDS]
        if unknown:
            raise ValueError(f"needs are among {sorted(NEEDS)}")
        return list(dict.fromkeys(values))

    @property
    def min_age(self) -> int | None:
        return AGE_GROUPS[self.age_group][1] if self.age_group else None


class VenueIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200)

    @field_validator("name", "address")
    @classmethod
    def _text(cls, value: str) -> str:
        return _printable(value) or ""

    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class SessionFields(BaseModel):
    """What staff set on a session (create: required ones; update: any)."""

    title: str | None = Field(default=None, min_length=1, max_length=100)
    level: Level | None = None
    description: str | None = Field(default=None, max_length=2000)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: str | VenueIn | None = None
    venue_address: str | None = Field(default=None, max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    capacity: int | None = Field(default=None, ge=0, le=500)
    bring: str | None = Field(default=None, max_length=300)
    phones: list[PhoneKind] | None = Field(default=None, max_length=3)
    signup_opens_at: datetime | None = None
    signup_deadline: datetime | None = None
    mode: Mode | None = None
    priority_age: int | None = Field(default=None, ge=0, le=120)
    is_sample: bool | None = None

    @field_validator("title", "description", "venue_address", "bring")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _printable(value)

    @field_validator("venue")
    @classmethod
    def _venue_text(cls, value: str | VenueIn | None) -> str | VenueIn | None:
        return _printable(value) if isinstance(value, str) else value

    @field_validator("starts_at", "ends_at", "signup_opens_at", "signup_deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # A time without an offset is Tokyo time (what staff mean), not UTC.
        if value is not None and value.tzinfo is None:
            from bot import clock

            return value.replace(tzinfo=clock.TOKYO)
        return value

    def venue_fields(self) -> dict[str, Any]:
        """venue / venue_address / latitude / longitude as columns (a venue object fills all four)."""
        out: dict[str, Any] = {}
        if isinstance(self.venue, VenueIn):
            out = {
                "venue": self.venue.name,
                "venue_address": self.venue.address,
                "latitude": self.venue.latitude,
                "longitude": self.venue.longitude,
            }
        elif self.venue is not None:
            out["venue"] = self.venue.strip()
        for name in ("venue_address", "latitude", "longitude"):
            if name in self.model_fields_set:
                out[name] = getattr(self, name)
        return out


class SessionCreate(SessionFields):
    title: str = Field(min_length=1, max_length=100)
    starts_at: datetime
    ends_at: datetime
    venue: str | VenueIn
    capacity: int = Field(ge=0, le=500)

    @model_validator(mode="after")
    def _times(self) -> SessionCreate:
        check_times(self.starts_at, self.ends_at, self.signup_opens_at, self.signup_deadline)
        if isinstance(self.venue, str) and not self.venue.strip():
            raise ValueError("venue must not be empty")
        return self


class SessionUpdate(SessionFields):
    pass


def check_times(starts_at: datetime, ends_at: datetime, opens_at: datetime | None, deadline: datetime | None) -> None:
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if ends_at - starts_at > _MAX_LENGTH:
        raise ValueError("a session lasts at most 12 hours")
    if deadline is not None and deadline > starts_at:
        raise ValueError("signup_deadline must not be after starts_at")
    if opens_at is not None and deadline is not None and opens_at >= deadline:
        raise ValueError("signup_opens_at must be before signup_deadline")


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    level: Level
    description: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    venue_address: str
    latitude: float | None
    longitude: float | None
    capacity: int
    bring: str
    phones: list[str]
    signup_opens_at: datetime | None
    signup_deadline: datetime | None
    mode: Mode
    priority_age: int | None
    status: SessionStatus
    is_sample: bool
    series_id: str | None
    drawn_at: datetime | None
    draw_seed: str | None
    confirmed: int = 0
    waitlisted: int = 0
    applied: int = 0
    places_left: int = 0


class SignupRead(BaseModel):
    """A signup as lists and the audit log see it: no name, no phone, no token."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    session_id: int
    status: SignupStatus
    channel: Channel
    waitlist_position: int | None = None
    queue_no: int
    priority: bool
    draw_rank: int | None
    created_at: datetime
    promoted_at: datetime | None
    attended_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    needs_phone_call: bool = False
    details_purged: bool = False


class SignupWithDetailsRead(SignupRead):
    """For counter and admin roles only: who it is, decrypted."""

    details: Details | None = None


class PhoneSignupCreate(Details):
    """A signup staff take by phone or at the counter (the API's POST …/signups): stored as the LINE
    flow stores it (フリガナ in katakana, the phone number in half-width digits)."""

    channel: Channel = Channel.PHONE

    @field_validator("furigana", "phone", mode="after")
    @classmethod
    def _as_the_flow_stores_it(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            return value
        from handlers.reservations import forms

        clean = forms.clean_furigana if info.field_name == "furigana" else forms.clean_phone
        try:
            return clean(value)
        except forms.InvalidAnswer:
            raise ValueError(f"{info.field_name} is not valid") from None

    @field_validator("channel")
    @classmethod
    def _staff_channel(cls, value: Channel) -> Channel:
        if value not in (Channel.PHONE, Channel.COUNTER):
            raise ValueError("channel is phone or counter")
        return value


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=200)

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str) -> str:
        return _printable(value) or ""


class AttendanceIn(BaseModel):
    attended: bool = True

"""The city's counter as data: offices, procedures, slot rules and closures; the counter slots they
generate; citizens' reservations; and the markers that make each reminder go out once.

Form answers are personal data: they are stored only encrypted (`answers_enc`, see bot/personal_data.py) and no
Read schema without `answers` in its name carries them. The QR token is stored as a SHA-256 digest
(looked up) and encrypted (shown again to its owner); never in clear.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
# Ids are 32-bit integers: anything outside is "not found", before it reaches the database.
MAX_ID = 2**31 - 1


class ReservationStatus(StrEnum):
    BOOKED = "booked"  # upcoming
    ARRIVED = "arrived"  # checked in at the counter
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


STATUS_LABELS = {
    ReservationStatus.BOOKED: "予約中",
    ReservationStatus.ARRIVED: "来庁済み",
    ReservationStatus.DONE: "完了",
    ReservationStatus.NO_SHOW: "来庁なし",
    ReservationStatus.CANCELLED: "取り消し",
}


class ReservationChannel(StrEnum):
    LINE = "line"
    PHONE = "phone"
    COUNTER = "counter"

    @property
    def label(self) -> str:
        return {"line": "LINE", "phone": "電話", "counter": "窓口"}[self.value]


class ReminderKind(StrEnum):
    DAY_BEFORE = "day_before"
    SAME_DAY = "same_day"


class Office(Base):
    __tablename__ = "reservation_offices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    opens: Mapped[str] = mapped_column(String(5), default="08:30")
    closes: Mapped[str] = mapped_column(String(5), default="17:15")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Procedure(Base):
    __tablename__ = "reservation_procedures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    office_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    documents: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Keys into forms.FIELDS, in the order they are asked.
    fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The NLU's `procedure` entity values (and words) that mean this procedure.
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlotRule(Base):
    """ "On these weekdays, from start to end, slots of N minutes with C counters staffed"."""

    __tablename__ = "reservation_slot_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_id: Mapped[str] = mapped_column(ForeignKey("reservation_offices.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[list[int]] = mapped_column(JSONType, default=list)  # 0 = Monday
    start_time: Mapped[str] = mapped_column(String(5))
    end_time: Mapped[str] = mapped_column(String(5))
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Closure(Base):
    """A day an office (or, with no office, every office) takes no bookings."""

    __tablename__ = "reservation_closures"
    __table_args__ = (UniqueConstraint("office_id", "day", name="uq_reservation_closures_office_id_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_id: Mapped[str | None] = mapped_column(ForeignKey("reservation_offices.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CounterSlot(Base):
    """One bookable time at one office. `booked` only moves through the conditional UPDATEs in
    service.py, so it can never pass `capacity` whatever runs at the same time."""

    __tablename__ = "counter_slots"
    __table_args__ = (
        UniqueConstraint("office_id", "starts_at", name="uq_counter_slots_office_id_starts_at"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        Index("ix_counter_slots_office_id_day", "office_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    office_id: Mapped[str] = mapped_column(ForeignKey("reservation_offices.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Staff changed this slot by hand (capacity or closed): rule edits leave it alone.
    is_adjusted: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def free(self) -> int:
        return 0 if self.is_closed else max(0, self.capacity - self.booked)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_line_user_id_status", "line_user_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("counter_slots.id"), index=True)
    office_id: Mapped[str] = mapped_column(ForeignKey("reservation_offices.id"))
    procedure_id: Mapped[str] = mapped_column(ForeignKey("reservation_procedures.id"))
    visit_day: Mapped[date] = mapped_column(Date, index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[ReservationStatus] = mapped_column(String(16), default=ReservationStatus.BOOKED, index=True)
    channel: Mapped[ReservationChannel] = mapped_column(String(16), default=ReservationChannel.LINE)
    # The citizen's LINE user id (None for phone and counter bookings): every citizen action checks it.
    line_user_id: Mapped[str | None] = mapped_column(String(64))
    qr_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    qr_token_enc: Mapped[str | None] = mapped_column(Text)
    answers_enc: Mapped[str | None] = mapped_column(Text)
    answers_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One per confirm button shown: a second tap (or a redelivered event) finds the first booking.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64), default="citizen")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReminderSent(Base):
    """One row per reminder pushed: the unique key is what makes "sent once" true across processes."""

    __tablename__ = "reservation_reminders_sent"
    __table_args__ = (
        UniqueConstraint("reservation_id", "kind", "starts_at", name="uq_reservation_reminders_sent_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"))
    kind: Mapped[ReminderKind] = mapped_column(String(16))
    # The visit time it reminded of: after a change of date, the new date is reminded again.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Schemas --------------------------------------------------------------------------------------


class OfficeBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32)
    opens: str = Field(default="08:30", pattern=HHMM_PATTERN)
    closes: str = Field(default="17:15", pattern=HHMM_PATTERN)
    sort_order: int = Field(default=0, ge=0, le=10_000)
    is_active: bool = True


class OfficeCreate(OfficeBase):
    id: str = Field(pattern=CODE_PATTERN)


class OfficeUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    opens: str | None = Field(default=None, pattern=HHMM_PATTERN)
    closes: str | None = Field(default=None, pattern=HHMM_PATTERN)
    sort_order: int | None = Field(default=None, ge=0, le=10_000)
    is_active: bool | None = None


def _clean(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v and v.strip()]


class ProcedureBase(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    duration_minutes: int = Field(default=30, ge=5, le=480)
    office_ids: list[str] = Field(default_factory=list, max_length=20)
    documents: list[str] = Field(default_factory=list, max_length=30)
    fields: list[str] = Field(default_factory=list, max_length=30)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    sort_order: int = Field(default=0, ge=0, le=10_000)
    is_active: bool = True

    @field_validator("documents", "keywords", "office_ids", "fields")
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return _clean(values)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, values: list[str]) -> list[str]:
        from handlers.reservations.forms import FIELDS

        unknown = [v for v in values if v not in FIELDS]
        if unknown:
            raise ValueError(f"unknown form fields: {unknown}")
        return list(dict.fromkeys(values))


class ProcedureCreate(ProcedureBase):
    id: str = Field(pattern=CODE_PATTERN)


class ProcedureUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    duration_minutes: int | None = Field(default=None, ge=5, le=480)
    office_ids: list[str] | None = None
    documents: list[str] | None = None
    fields: list[str] | None = None
    keywords: list[str] | None = None
    sort_order: int | None = Field(default=None, ge=0, le=10_000)
    is_active: bool | None = None

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else ProcedureBase._known_fields(_clean(values))


class ProcedureRead(ProcedureCreate):
    model_config = ConfigDict(from_attributes=True)


class SlotRuleCreate(BaseModel):
    office_id: str = Field(pattern=CODE_PATTERN)
    weekdays: list[int] = Field(min_length=1, max_length=7)
    start_time: str = Field(pattern=HHMM_PATTERN)
    end_time: str = Field(pattern=HHMM_PATTERN)
    slot_minutes: int = Field(default=30, ge=5, le=240)
    capacity: int = Field(default=1, ge=0, le=100)
    is_active: bool = True

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, values: list[int]) -> list[int]:
        if any(not 0 <= v <= 6 for v in values):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return sorted(set(values))


class SlotRuleUpdate(BaseModel):
    weekdays: list[int] | None = None
    start_time: str | None = Field(default=None, pattern=HHMM_PATTERN)
    end_time: str | None = Field(default=None, pattern=HHMM_PATTERN)
    slot_minutes: int | None = Field(default=None, ge=5, le=240)
    capacity: int | None = Field(default=None, ge=0, le=100)
    is_active: bool | None = None


class ClosureCreate(BaseModel):
    office_id: str | None = Field(default=None, pattern=CODE_PATTERN)
    day: date
    reason: str = Field(default="", max_length=200)


class SlotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    office_id: str
    day: date
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    is_closed: bool
    free: int


class ReservationCreate(BaseModel):
    """What the flow, the admin and the API send in. `answers` are validated per field (forms.py)."""

    procedure_id: str = Field(pattern=CODE_PATTERN)
    slot_id: int = Field(ge=1, le=MAX_ID)
    answers: dict[str, str] = Field(default_factory=dict)
    channel: ReservationChannel = ReservationChannel.LINE
    line_user_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=64)
    created_by: str = Field(default="citizen", max_length=64)


class ReservationRead(BaseModel):
    """A booking as staff lists and the audit log see it: no answers, no token."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    procedure_id: str
    office_id: str
    slot_id: int
    visit_day: date
    starts_at: datetime
    status: ReservationStatus
    channel: ReservationChannel
    created_at: datetime
    cancelled_at: datetime | None
    arrived_at: datetime | None
    done_at: datetime | None
    answers_purged: bool = False

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationRead:
        read = cls.model_validate(reservation)
        read.answers_purged = reservation.answers_purged_at is not None
        return read


class ReservationWithAnswersRead(ReservationRead):
    """For counter and admin roles only: the form answers, decrypted."""

    answers: dict[str, str] | None = None

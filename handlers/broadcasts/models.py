"""お知らせ配信: what citizens chose (topics), who belongs to a verified member group (愛育委員 …),
and the broadcasts staff compose, approve and schedule.

A broadcast is sent in runs: a one-off broadcast has one, a recurring one (毎月1日, 毎週月曜) gets
its next run when the previous one starts. A run resolves its audience to LINE user ids when it
starts and hands them to the delivery engine (notifications/engine.py), which owns chunks, retry
keys and each recipient's outcome: `BroadcastRun.send_job_id` points there.

A citizen's district is not stored here: it is the one the garbage flow asked for
(handlers/garbage: gis_garbage_preferences.district), remembered once for the whole bot.

Members' names and phone numbers are personal data: stored encrypted (bot/personal_data.py).
A registration code is shown to staff once and stored only as a keyed digest.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime

MAX_ID = 2**31 - 1


class Topic(Base):
    """A subject citizens subscribe to (防災, 子育て …). Data: staff add, rename and retire them."""

    __tablename__ = "broadcast_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)  # stable, for the API and postbacks
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Words that name it in free text (「防災」「災害」「避難」), besides its name.
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # On for a new friend, who is told so and can turn it off in one tap (only 防災 in the demo).
    default_on: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Subscription(Base):
    """A citizen's choice of one topic. No row: not subscribed."""

    __tablename__ = "broadcast_subscriptions"

    line_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("broadcast_topics.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_broadcast_subscriptions_topic", "topic_id", "line_user_id"),)


class SubscriberSettings(Base):
    """Per citizen: whether the short question after 友だち追加 was asked, and answered or skipped."""

    __tablename__ = "broadcast_subscribers"

    line_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MemberGroup(Base):
    """A verified group: 愛育委員, 自治会長, 消防団 … Members join with a registration code."""

    __tablename__ = "member_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(64))


class MemberStatus(StrEnum):
    PENDING = "pending"  # on the roster, code not used yet
    LINKED = "linked"  # sent the code on LINE: in the group
    REMOVED = "removed"  # retired or moved: unlinked by staff

    @property
    def label(self) -> str:
        return {"pending": "未登録", "linked": "登録済み", "removed": "解除済み"}[self.value]


class GroupMember(Base):
    """One person on a group's roster, and the LINE friend they became by sending their code."""

    __tablename__ = "group_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("member_groups.id", ondelete="CASCADE"), index=True)
    name_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[MemberStatus] = mapped_column(String(16), default=MemberStatus.PENDING)
    line_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Keyed digest of the one-time registration code (the code itself is shown once, printed).
    code_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CodeAttempts(Base):
    """Wrong registration codes per LINE user, for throttling guesses."""

    __tablename__ = "member_code_attempts"

    line_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return BROADCAST_STATUS_LABELS[self]


BROADCAST_STATUS_LABELS = {
    BroadcastStatus.DRAFT: "下書き",
    BroadcastStatus.AWAITING_APPROVAL: "承認待ち",
    BroadcastStatus.SCHEDULED: "配信予定",
    BroadcastStatus.SENDING: "配信中",
    BroadcastStatus.DONE: "配信済み",
    BroadcastStatus.CANCELLED: "取り消し",
}


class Broadcast(Base):
    """One message to an audience: composed, approved when the two-person rule applies, sent once
    or on a schedule.

    `audience`: {"all": true} or any of {"topics": [key], "districts": [name], "groups": [id]};
    topics, districts and groups each narrow nothing by themselves: a citizen is reached when they
    match any topic, any group, and (when districts are given) live in one of the districts.
    `recurrence`: None, {"monthly_day": 1} or {"weekday": 0} (Monday), at `send_at`'s time of day.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(80))  # for staff lists; not sent
    template: Mapped[str] = mapped_column(String(16), default="text")  # text | notice | urgent | event
    text: Mapped[str] = mapped_column(Text)
    image_path: Mapped[str | None] = mapped_column(String(200))  # a BroadcastImage's token
    audience: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[BroadcastStatus] = mapped_column(String(24), default=BroadcastStatus.DRAFT, index=True)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: at once
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(64))  # staff login, or "api:<token name>"
    created_by_id: Mapped[int | None] = mapped_column(Integer)  # staff user id (the author never approves)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunStatus(StrEnum):
    DUE = "due"  # waiting for its time (or for the morning, in quiet hours)
    STARTED = "started"  # handed to the delivery engine
    CANCELLED = "cancelled"


class BroadcastRun(Base):
    """One sending of a broadcast: when it is due, and the engine's send job once it started."""

    __tablename__ = "broadcast_runs"
    __table_args__ = (
        # One run per broadcast per due time: a second process starting the same run inserts nothing.
        UniqueConstraint("broadcast_id", "due_at", name="uq_broadcast_runs_broadcast_due"),
        Index("ix_broadcast_runs_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(String(16), default=RunStatus.DUE)
    send_job_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Held back by quiet hours: the time it was first due (shown to staff).
    held_from: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BroadcastImage(Base):
    """An image uploaded for a broadcast, in the database (every web process serves it, whichever
    took the upload), as LINE fetches it: the original (JPEG/PNG, at most 10 MB) and a preview (at
    most 1 MB). Its address is an unguessable token under PUBLIC_BASE_URL."""

    __tablename__ = "broadcast_images"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    preview: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

"""What pages and /api/v1 show of data owned elsewhere (citizens, the inbox), and the API's envelopes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from admin.models import Actor, AuditEntryRead, StaffRole
from bot.citizens import Citizen, CitizenStatus
from bot.inbox import InboxEvent


def mask_line_user_id(line_user_id: str) -> str:
    """Enough to tell rows apart, not enough to identify or message anyone."""
    if len(line_user_id) <= 8:
        return "•" * len(line_user_id)
    return f"{line_user_id[:5]}••••{line_user_id[-2:]}"


class ErrorRead(BaseModel):
    detail: Any = Field(description="理由（日本語）")


class MeRead(BaseModel):
    id: int
    name: str
    role: StaffRole
    role_label: str
    sees_personal_data: bool

    @classmethod
    def from_actor(cls, actor: Actor) -> MeRead:
        return cls(
            id=actor.id or 0,
            name=actor.name,
            role=actor.role,
            role_label=actor.role_label,
            sees_personal_data=actor.sees_personal_data,
        )


class CitizenListItem(BaseModel):
    """A LINE friend as staff see them; `display_name` is null and the ID masked for roles without access."""

    id: int
    line_user_id: str
    display_name: str | None
    status: CitizenStatus
    created_at: datetime
    followed_at: datetime | None
    blocked_at: datetime | None
    last_seen_at: datetime | None
    masked: bool

    @classmethod
    def from_citizen(cls, citizen: Citizen, *, personal: bool) -> CitizenListItem:
        return cls(
            id=citizen.id,
            line_user_id=citizen.line_user_id if personal else mask_line_user_id(citizen.line_user_id),
            display_name=citizen.display_name if personal else None,
            status=CitizenStatus(citizen.status),
            created_at=citizen.created_at,
            followed_at=citizen.followed_at,
            blocked_at=citizen.blocked_at,
            last_seen_at=citizen.last_seen_at,
            masked=not personal,
        )


class CitizenPage(BaseModel):
    items: list[CitizenListItem]
    counts: dict[str, int] = Field(description="状態ごとの人数（following / blocked）")
    limit: int
    offset: int
    has_more: bool


class InboxStatusRead(BaseModel):
    inbox: dict[str, int] = Field(description="受信イベントの状態ごとの件数（pending / processing / done / dead）")
    outbox: dict[str, int] = Field(description="送信メッセージの状態ごとの件数")
    dead_letters: int
    failed_messages: int


class DeadLetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_type: str
    event_time: datetime
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None

    @classmethod
    def from_event(cls, event: InboxEvent) -> DeadLetterRead:
        return cls.model_validate(event)


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    total: int
    limit: int
    offset: int

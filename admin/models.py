"""Staff accounts, their sessions and API tokens, login attempts and the audit log.

Secrets never leave as they came in: passwords are argon2 hashes, session and API tokens are
stored as SHA-256 digests (they are 256-bit random values, so a fast digest is enough), and no
Read schema carries a hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime

PASSWORD_MIN_LENGTH = 10
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class StaffRole(StrEnum):
    ADMIN = "admin"
    COUNTER = "counter"
    BROADCASTER = "broadcaster"
    VIEWER = "viewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    StaffRole.ADMIN: "管理者",
    StaffRole.COUNTER: "窓口担当",
    StaffRole.BROADCASTER: "配信担当",
    StaffRole.VIEWER: "閲覧のみ",
}

# Who may see citizens' names and LINE user IDs; everyone else sees counts and masked IDs.
PERSONAL_DATA_ROLES = frozenset({StaffRole.ADMIN, StaffRole.COUNTER})


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[StaffRole] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Failed logins before this moment no longer count towards a lock (an admin unlocked it).
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so staff can tell tokens apart without the secret.
    token_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    # Set on the failure that locked the account name or the address, until when.
    locks_name_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locks_ip_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_login_attempts_name_at", "name", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )


class AuditEntry(Base):
    """One staff action. Written once, never changed: no service updates or deletes it."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # No foreign key: the record of who did what outlives the account.
    staff_user_id: Mapped[int | None] = mapped_column(Integer)
    staff_name: Mapped[str] = mapped_column(String(64), index=True)
    via: Mapped[str] = mapped_column(String(8))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class AuditLogIsAppendOnly(Exception):
    """Raised when code tries to change or delete an audit entry."""


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_audit_change(_mapper: Any, _connection: Any, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit entry {target.id} cannot be changed")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in staff member (web), an API token (api) or the command line (cli)."""

    id: int | None
    name: str
    role: StaffRole
    via: str = "web"
    ip: str | None = None
    session_id: int | None = None
    csrf_token: str | None = None
    token_id: int | None = None

    @property
    def sees_personal_data(self) -> bool:
        return self.role in PERSONAL_DATA_ROLES

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]

    @classmethod
    def command_line(cls) -> Actor:
        import getpass

        try:
            who = getpass.getuser()
        except Exception:
            who = "unknown"
        return cls(id=None, name=f"cli:{who}"[:64], role=StaffRole.ADMIN, via="cli")

    @classmethod
    def system(cls) -> Actor:
        return cls(id=None, name="system", role=StaffRole.ADMIN, via="system")


# --- schemas -----------------------------------------------------------------------------------


class StaffUserCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="Login name: letters, digits, . _ -")
    role: StaffRole
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=1024)
    display_name: str | None = Field(default=None, max_length=100)


class StaffUserUpdate(BaseModel):
    role: StaffRole | None = None
    is_active: bool | None = None
    display_name: str | None = Field(default=None, max_length=100)


class StaffUserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    display_name: str | None
    role: StaffRole
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None


class ApiTokenCreate(BaseModel):
    staff_user_id: int
    name: str = Field(min_length=1, max_length=100)


class ApiTokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    staff_user_id: int
    name: str
    token_prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    staff_user_id: int | None
    staff_name: str
    via: str
    ip: str | None
    action: str
    target_type: str | None
    target_id: str | None
    summary: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

"""The city's LINE friends: who follows the account, who blocked it, what LINE told us of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, String, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot import clock, db
from bot.db import Base, UTCDateTime


class CitizenStatus(StrEnum):
    FOLLOWING = "following"
    BLOCKED = "blocked"


class Citizen(Base):
    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    picture_url: Mapped[str | None] = mapped_column(String(2000))
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[CitizenStatus] = mapped_column(String(16), default=CitizenStatus.FOLLOWING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_reachable(self) -> bool:
        return self.status == CitizenStatus.FOLLOWING


class CitizenProfile(BaseModel):
    """What LINE's profile endpoint told us (any field may be missing)."""

    display_name: str | None = None
    picture_url: str | None = None
    language: str | None = None


class CitizenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    line_user_id: str
    display_name: str | None
    status: CitizenStatus
    created_at: datetime
    followed_at: datetime | None
    blocked_at: datetime | None
    last_seen_at: datetime | None


def get_by_line_user_id(*, db_session: Session, line_user_id: str) -> Citizen | None:
    return db_session.scalars(select(Citizen).where(Citizen.line_user_id == line_user_id)).one_or_none()


def get_or_create(*, db_session: Session, line_user_id: str) -> Citizen:
    """A citizen who writes without a follow event we saw (e.g. events lost before launch) still counts."""
    citizen = get_by_line_user_id(db_session=db_session, line_user_id=line_user_id)
    if citizen is None:
        now = clock.now()
        citizen = Citizen(line_user_id=line_user_id, status=CitizenStatus.FOLLOWING, created_at=now, followed_at=now)
        db_session.add(citizen)
        db_session.flush()
    return citizen


def follow(*, db_session: Session, line_user_id: str, profile: CitizenProfile | None) -> Citizen:
    """Registers or re-activates a citizen who added (or unblocked) the account."""
    citizen = get_or_create(db_session=db_session, line_user_id=line_user_id)
    citizen.status = CitizenStatus.FOLLOWING
    citizen.followed_at = clock.now()
    citizen.blocked_at = None
    if profile is not None:
        citizen.display_name = profile.display_name or citizen.display_name
        citizen.picture_url = profile.picture_url or citizen.picture_url
        citizen.language = profile.language or citizen.language
    db_session.flush()
    return citizen


def block(*, db_session: Session, line_user_id: str) -> Citizen:
    """Marks a citizen who blocked the account: nothing is pushed to them any more."""
    citizen = get_or_create(db_session=db_session, line_user_id=line_user_id)
    citizen.status = CitizenStatus.BLOCKED
    citizen.blocked_at = clock.now()
    db_session.flush()
    return citizen


def touch(*, db_session: Session, line_user_ids: Sequence[str]) -> None:
    """Records that these citizens wrote just now (one UPDATE); first-time writers are created."""
    if not line_user_ids:
        return
    now = clock.now()
    seen = set(
        db_session.execute(
            update(Citizen)
            .where(Citizen.line_user_id.in_(list(line_user_ids)))
            .values(last_seen_at=now)
            .returning(Citizen.line_user_id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    new = [
        {
            "line_user_id": u,
            "status": CitizenStatus.FOLLOWING,
            "created_at": now,
            "followed_at": now,
            "last_seen_at": now,
        }
        for u in dict.fromkeys(line_user_ids)
        if u not in seen
    ]
    if new:
        insert = db.upsert_insert(db_session)
        db_session.execute(insert(Citizen).on_conflict_do_nothing(index_elements=["line_user_id"]), new)


def is_reachable(*, db_session: Session, line_user_id: str) -> bool:
    citizen = get_by_line_user_id(db_session=db_session, line_user_id=line_user_id)
    return citizen is None or citizen.is_reachable


def search(*, db_session: Session, query: str = "", limit: int = 50, offset: int = 0) -> list[Citizen]:
    stmt = select(Citizen).order_by(Citizen.id.desc()).limit(limit).offset(offset)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(or_(Citizen.display_name.ilike(like), Citizen.line_user_id.ilike(like)))
    return list(db_session.scalars(stmt))


def count_by_status(*, db_session: Session) -> dict[str, int]:
    return db.count_by_status(db_session, Citizen.status, CitizenStatus)

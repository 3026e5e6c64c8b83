"""Who an audience reaches: a SELECT of LINE user ids, resolved when a run starts (not when the
broadcast is written: people subscribe, move and block in between).

An audience is {"all": true}, or any of topics, groups and districts:
- topics and groups add people: subscribers of any topic named, linked members of any group named;
- districts narrow them to people living there (the district the citizen told the bot, or for a
  group member the district on the roster). Districts alone reach everyone living there.
Blocked friends are left out of the reach shown to staff; the delivery engine records them as
skipped if they block between the count and the send.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Select, func, or_, select, union
from sqlalchemy.orm import Session

from bot.citizens import Citizen, CitizenStatus
from bot.validation import PlainStr
from handlers.broadcasts.models import GroupMember, MemberGroup, MemberStatus, Subscription, Topic
from handlers.garbage.models import GarbagePreference


class Audience(BaseModel):
    """Who a broadcast is for (as the API and the compose page take it)."""

    all: bool = False
    topics: list[PlainStr] = Field(default_factory=list, max_length=50)
    districts: list[PlainStr] = Field(default_factory=list, max_length=50)
    # Row ids: within PostgreSQL's integer, or the database refuses the query (the API fuzz found it).
    groups: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _someone(self) -> Audience:
        if self.all and (self.topics or self.districts or self.groups):
            raise ValueError("「すべての友だち」と、分野・地区・グループは同時に指定できません")
        if not (self.all or self.topics or self.districts or self.groups):
            raise ValueError("配信先を指定してください（すべての友だち、分野、地区、グループのいずれか）")
        self.topics = sorted(set(self.topics))
        self.districts = sorted(set(self.districts))
        self.groups = sorted(set(self.groups))
        return self

    def stored(self) -> dict[str, Any]:
        if self.all:
            return {"all": True}
        return {key: value for key, value in self.model_dump(exclude={"all"}).items() if value}


class UnknownAudience(ValueError):
    """A topic key or group id that does not exist (staff's words)."""


def check(db_session: Session, audience: Audience) -> None:
    """Refuses topics and groups that do not exist (or are retired), naming them."""
    if audience.topics:
        known = set(
            db_session.scalars(select(Topic.key).where(Topic.key.in_(audience.topics), Topic.is_active.is_(True)))
        )
        missing = [key for key in audience.topics if key not in known]
        if missing:
            raise UnknownAudience(f"分野が見つかりません: {', '.join(missing)}")
    if audience.groups:
        known_groups = set(db_session.scalars(select(MemberGroup.id).where(MemberGroup.id.in_(audience.groups))))
        missing_groups = [str(g) for g in audience.groups if g not in known_groups]
        if missing_groups:
            raise UnknownAudience(f"グループが見つかりません: {', '.join(missing_groups)}")


def user_ids(audience: Audience) -> Select[Any]:
    """A SELECT of the LINE user ids the audience reaches (one column, may repeat an id; blocked
    friends included: see reachable_user_ids)."""
    if audience.all:
        return select(Citizen.line_user_id)
    district = GarbagePreference.district.in_(audience.districts)
    parts: list[Select[Any]] = []
    if audience.topics:
        query = (
            select(Subscription.line_user_id)
            .join(Topic, Topic.id == Subscription.topic_id)
            .where(Topic.key.in_(audience.topics), Topic.is_active.is_(True))
        )
        if audience.districts:
            query = query.join(GarbagePreference, GarbagePreference.line_user_id == Subscription.line_user_id).where(
                district
            )
        parts.append(query)
    if audience.groups:
        members: Select[Any] = select(GroupMember.line_user_id).where(
            GroupMember.group_id.in_(audience.groups),
            GroupMember.status == MemberStatus.LINKED,
            GroupMember.line_user_id.is_not(None),
        )
        if audience.districts:
            members = members.outerjoin(
                GarbagePreference, GarbagePreference.line_user_id == GroupMember.line_user_id
            ).where(or_(GroupMember.district.in_(audience.districts), district))
        parts.append(members)
    if not parts:  # districts alone
        parts.append(select(GarbagePreference.line_user_id).where(district))
    if len(parts) == 1:
        return parts[0]
    combined = union(*parts).subquery()
    return select(combined.c[0])


def reachable_user_ids(audience: Audience) -> Select[Any]:
    """The audience's LINE user ids that can receive a message now: distinct, friends only."""
    wanted = user_ids(audience).subquery()
    return (
        select(Citizen.line_user_id)
        .where(Citizen.line_user_id.in_(select(wanted.c[0])), Citizen.status == CitizenStatus.FOLLOWING)
        .distinct()
    )


def reach(db_session: Session, audience: Audience) -> int:
    """How many citizens the audience reaches now (blocked friends excluded)."""
    return int(db_session.scalar(select(func.count()).select_from(reachable_user_ids(audience).subquery())) or 0)

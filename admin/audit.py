"""The audit log: every change a staff member makes, with before/after for edits.

There is `record` and there are readers; nothing here updates or deletes an entry, and the
model refuses it too (admin.models.AuditLogIsAppendOnly). Call `record` in the same transaction
as the change it describes, so the two commit together or not at all.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from admin.models import Actor, AuditEntry
from bot import clock

log = logging.getLogger("madoguchi.audit")

# Japanese labels for action codes; a capability adds its own with `describe_action`.
ACTION_LABELS: dict[str, str] = {
    "login": "ログイン",
    "logout": "ログアウト",
    "login.locked": "ログインをロック",
    "user.create": "職員を追加",
    "user.update": "職員を変更",
    "user.password": "パスワードを変更",
    "user.unlock": "ログインのロックを解除",
    "token.create": "APIトークンを発行",
    "token.revoke": "APIトークンを失効",
    "inbox.retry": "受信イベントを再処理",
}


def describe_action(code: str, label: str) -> None:
    """Registers the Japanese label shown for an action code (e.g. "reservation.cancel")."""
    ACTION_LABELS[code] = label


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code, code)


def snapshot(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe dict of a Read schema (or a dict) for `before`/`after`."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return {str(k): _jsonable(v) for k, v in value.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def record(
    *,
    db_session: Session,
    actor: Actor | None,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    before: BaseModel | dict[str, Any] | None = None,
    after: BaseModel | dict[str, Any] | None = None,
    summary: str | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Writes one entry. `actor` None means an anonymous request (e.g. a login lock)."""
    entry = AuditEntry(
        at=clock.now(),
        staff_user_id=actor.id if actor else None,
        staff_name=(actor.name if actor else "(未ログイン)")[:64],
        via=(actor.via if actor else "web")[:8],
        ip=((ip or (actor.ip if actor else None)) or None),
        action=action[:64],
        target_type=target_type[:64] if target_type else None,
        target_id=str(target_id)[:64] if target_id is not None else None,
        summary=summary,
        before=snapshot(before),
        after=snapshot(after),
    )
    db_session.add(entry)
    db_session.flush()
    log.info("audit %s by %s on %s:%s", action, entry.staff_name, target_type, target_id)
    return entry


def _filtered(
    query: Select[Any],
    *,
    staff_name: str | None,
    action: str | None,
    since: date | None,
    until: date | None,
) -> Select[Any]:
    if staff_name:
        query = query.where(AuditEntry.staff_name == staff_name)
    if action:
        query = query.where(AuditEntry.action == action)
    start = jst_day_start(since)
    if start is not None:
        query = query.where(AuditEntry.at >= start)
    end = jst_day_start(until + timedelta(days=1)) if until is not None and until < date.max else None
    if end is not None:
        query = query.where(AuditEntry.at < end)
    return query


def jst_day_start(day: date | None) -> datetime | None:
    """The UTC instant a Tokyo calendar day begins; None for no day or one outside datetime's range."""
    if day is None:
        return None
    try:
        return datetime.combine(day, time(0), tzinfo=clock.TOKYO).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def get_all(
    *,
    db_session: Session,
    staff_name: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Newest first, filtered by who, what and a Tokyo date range (both ends included)."""
    query = _filtered(select(AuditEntry), staff_name=staff_name, action=action, since=since, until=until)
    query = query.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(db_session.scalars(query))


def count(
    *,
    db_session: Session,
    staff_name: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> int:
    query = _filtered(
        select(func.count()).select_from(AuditEntry), staff_name=staff_name, action=action, since=since, until=until
    )
    return int(db_session.scalar(query) or 0)


def get_actions(*, db_session: Session) -> list[str]:
    """Every action code that appears in the log (for the filter)."""
    return sorted(db_session.scalars(select(AuditEntry.action).distinct()))


def get_staff_names(*, db_session: Session) -> list[str]:
    return sorted(db_session.scalars(select(AuditEntry.staff_name).distinct()))

"""The audit log: every change a staff member makes, with before/after for edits.

There is `record` and there are readers; nothing here updates or deletes an entry, and the
model refuses it too (admin.models.AuditLogIsAppendOnly). Call `record` in the same transaction
as the change it describes, so the two commit together or not at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from admin.models import Actor, AuditEntry, LoginAttempt, StaffUser
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


# How 変更前・変更後 read: a Japanese label per field and, where a field holds a code, per value.
# A capability adds its own with `describe_field`; unknown keys show as they are.
FIELD_LABELS: dict[str, str] = {
    "name": "名前",
    "role": "役割",
    "is_active": "有効",
    "status": "状態",
    "reason": "理由",
    "locked": "ロックしたもの",
    "name_failures": "ログイン名の失敗回数",
    "ip_failures": "IPアドレスの失敗回数",
    "until": "ロックの期限",
    "label": "名称",
    "scopes": "権限",
    "expires_at": "有効期限",
    "created_at": "作成",
    "updated_at": "更新",
}
VALUE_LABELS: dict[str, dict[str, str]] = {
    "locked": {"name": "ログイン名", "ip": "IPアドレス"},
    "role": {"admin": "管理者", "counter": "窓口", "broadcaster": "配信担当", "viewer": "閲覧のみ"},
}


def describe_field(key: str, label: str, values: dict[str, str] | None = None) -> None:
    """Registers the Japanese label of a before/after field (and of the codes it may hold)."""
    FIELD_LABELS[key] = label
    if values:
        VALUE_LABELS.setdefault(key, {}).update(values)


ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _readable_value(key: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list):
        return "、".join(_readable_value(key, v) for v in value)
    if isinstance(value, dict):
        return "、".join(f"{FIELD_LABELS.get(k, k)}：{_readable_value(k, v)}" for k, v in value.items())
    text = str(value)
    if text in VALUE_LABELS.get(key, {}):
        return VALUE_LABELS[key][text]
    if ISO_MOMENT.match(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # stored times are UTC
        return moment.astimezone(clock.TOKYO).strftime("%Y/%m/%d %H:%M")
    if ISO_DAY.fullmatch(text):
        return text.replace("-", "/")
    return text


def readable(values: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A before/after snapshot as (Japanese label, readable value) rows: JST times, no JSON escapes."""
    if not values:
        return []
    return [(FIELD_LABELS.get(key, key), _readable_value(key, value)) for key, value in values.items()]


@dataclass(frozen=True)
class TargetKind:
    """What an entry's target is called, where it is shown, and how its name is found."""

    label: str
    link: str | None = None  # "/admin/reservations/{id}"
    name_of: Callable[[Session, str], str | None] | None = None


def _staff_name(db_session: Session, target_id: str) -> str | None:
    user = db_session.get(StaffUser, int(target_id)) if target_id.isdigit() else None
    return user.name if user is not None else None


TARGET_KINDS: dict[str, TargetKind] = {
    "staff_user": TargetKind("職員", "/admin/settings/users", _staff_name),
    "api_token": TargetKind("APIトークン", "/admin/settings/tokens"),
    "inbox_event": TargetKind("受信イベント", "/admin/inbox/dead"),
}


def describe_target(
    target_type: str,
    label: str,
    *,
    link: str | None = None,
    name_of: Callable[[Session, str], str | None] | None = None,
) -> None:
    """Registers how a capability's audit targets read (e.g. "reservation" → 予約, with a link)."""
    TARGET_KINDS[target_type] = TargetKind(label, link, name_of)


def target_of(db_session: Session, entry: AuditEntry) -> dict[str, str | None] | None:
    """An entry's target as staff read it: 「予約 No.3」 with its page, 「窓口 本庁 市民課」."""
    if not entry.target_type:
        return None
    kind = TARGET_KINDS.get(entry.target_type)
    target_id = entry.target_id or ""
    if kind is None:
        return {"text": f"{entry.target_type} #{target_id}" if target_id else entry.target_type, "href": None}
    name = None
    if target_id and kind.name_of is not None:
        try:
            name = kind.name_of(db_session, target_id)
        except (ValueError, LookupError):
            name = None
    text = f"{kind.label} {name}" if name else (f"{kind.label} #{target_id}" if target_id else kind.label)
    href = kind.link.format(id=target_id) if kind.link and (target_id or "{id}" not in kind.link) else None
    return {"text": text, "href": href}


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


def get_failed_logins(
    *, db_session: Session, since: date | None = None, until: date | None = None, limit: int = 50
) -> list[LoginAttempt]:
    """Failed sign-ins (and the ones that locked a name or an address), newest first, in a Tokyo date range."""
    query = select(LoginAttempt).where(LoginAttempt.succeeded.is_(False))
    start = jst_day_start(since)
    if start is not None:
        query = query.where(LoginAttempt.at >= start)
    end = jst_day_start(until + timedelta(days=1)) if until is not None and until < date.max else None
    if end is not None:
        query = query.where(LoginAttempt.at < end)
    return list(db_session.scalars(query.order_by(LoginAttempt.id.desc()).limit(limit)))

"""Broadcasts: the rules from compose to done. No LINE or HTTP inside.

- The two-person rule: a message to all friends, or one marked 緊急, waits for a second staff member
  (broadcaster or admin) to approve it. Nobody approves their own (the author's staff id, whether
  they wrote it in the admin or through an API token of theirs).
- Timing: at once, at a time, or on a recurring schedule (毎月N日, 毎週X曜日, at the first time's
  time of day). A run is due at its time; quiet hours (BROADCAST_QUIET_HOURS, default 21:00–8:00)
  hold a normal message until the morning; 緊急 goes at once.
- A run starts by resolving its audience and handing the ids to the delivery engine
  (notifications/engine.py), in one transaction with marking the run started: a run starts once,
  whichever process gets there first (a conditional UPDATE), and its recipients are planned with it.
- A broadcast is `done` when its last run's send job is; a recurring one goes back to `scheduled`
  with its next run planned, until cancelled.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import clock, db
from bot.settings import Settings
from bot.validation import PlainStr
from handlers.broadcasts.models import Broadcast, BroadcastRun, BroadcastStatus, RunStatus
from handlers.broadcasts.service import audience as audience_service
from handlers.broadcasts.service import content
from handlers.broadcasts.service.audience import Audience
from notifications import engine

MAX_TITLE = 80
WEEKDAYS = "月火水木金土日"


class BroadcastError(Exception):
    """A rule refused the request; the message is in staff's words."""


class NotFound(BroadcastError):
    pass


class NotAllowed(BroadcastError):
    """The two-person rule: e.g. the author approving their own broadcast."""


class InvalidTransition(BroadcastError):
    pass


class Recurrence(BaseModel):
    """毎月 `monthly_day` 日, or 毎週 `weekday` (0 = 月曜)."""

    monthly_day: int | None = Field(default=None, ge=1, le=31)
    weekday: int | None = Field(default=None, ge=0, le=6)

    @field_validator("weekday")
    @classmethod
    def _one(cls, value: int | None, info: Any) -> int | None:
        if value is not None and info.data.get("monthly_day") is not None:
            raise ValueError("毎月と毎週は同時に指定できません")
        return value

    def label(self) -> str:
        if self.monthly_day is not None:
            return f"毎月{self.monthly_day}日"
        if self.weekday is not None:
            return f"毎週{WEEKDAYS[self.weekday]}曜日"
        return "1回のみ"

    def is_set(self) -> bool:
        return self.monthly_day is not None or self.weekday is not None


class BroadcastDraft(BaseModel):
    """What staff (or another system) compose."""

    title: PlainStr = Field(default="", max_length=MAX_TITLE)
    text: PlainStr = Field(max_length=20_000)
    template: content.Template = content.Template.TEXT
    audience: Audience
    urgent: bool = False
    send_at: datetime | None = None
    recurrence: Recurrence | None = None
    # An uploaded image's token, from the compose page's upload (the API ignores it: api/broadcasts.py).
    image_path: PlainStr | None = Field(default=None, max_length=200)

    @field_validator("send_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=clock.TOKYO)  # staff write Tokyo time
        return value


@dataclass(frozen=True)
class Author:
    name: str
    staff_id: int | None


def needs_approval(audience: Audience, urgent: bool) -> bool:
    return audience.all or urgent


def get(*, db_session: Session, broadcast_id: int) -> Broadcast:
    broadcast = db_session.get(Broadcast, broadcast_id) if 0 < broadcast_id < 2**31 else None
    if broadcast is None:
        raise NotFound("配信が見つかりません")
    return broadcast


def lock(*, db_session: Session, broadcast_id: int) -> Broadcast:
    """The broadcast, its row locked for a change (approve, cancel, a run starting)."""
    broadcast = db_session.get(Broadcast, broadcast_id, with_for_update=True) if 0 < broadcast_id < 2**31 else None
    if broadcast is None:
        raise NotFound("配信が見つかりません")
    return broadcast


def list_recent(*, db_session: Session, limit: int = 100) -> list[Broadcast]:
    return list(db_session.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)))


def list_scheduled(*, db_session: Session, limit: int = 10) -> list[tuple[Broadcast, datetime | None]]:
    """Broadcasts waiting (for approval or for their time), with the next run's time."""
    rows = db_session.scalars(
        select(Broadcast)
        .where(Broadcast.status.in_([BroadcastStatus.AWAITING_APPROVAL, BroadcastStatus.SCHEDULED]))
        .order_by(Broadcast.id)
        .limit(limit)
    )
    return [(b, next_due(db_session=db_session, broadcast=b)) for b in rows]


def next_due(*, db_session: Session, broadcast: Broadcast) -> datetime | None:
    return db_session.scalar(
        select(BroadcastRun.due_at)
        .where(BroadcastRun.broadcast_id == broadcast.id, BroadcastRun.status == RunStatus.DUE)
        .order_by(BroadcastRun.due_at)
        .limit(1)
    )


def runs(*, db_session: Session, broadcast: Broadcast) -> list[BroadcastRun]:
    return list(
        db_session.scalars(
            select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast.id).order_by(BroadcastRun.due_at)
        )
    )


def latest_job(*, db_session: Session, broadcast: Broadcast) -> int | None:
    return db_session.scalar(
        select(BroadcastRun.send_job_id)
        .where(BroadcastRun.broadcast_id == broadcast.id, BroadcastRun.send_job_id.is_not(None))
        .order_by(BroadcastRun.due_at.desc())
        .limit(1)
    )


# --- compose, approve, cancel ---------------------------------------------------------------------------
def create(*, db_session: Session, draft: BroadcastDraft, author: Author, settings: Settings) -> Broadcast:
    """Writes the broadcast; without the two-person rule it is scheduled (or starts) at once."""
    why = content.problem(draft.text, draft.template)
    if why:
        raise BroadcastError(why)
    audience_service.check(db_session, draft.audience)
    now = clock.now()
    if draft.send_at is not None and draft.send_at < now - timedelta(minutes=1):
        raise BroadcastError("配信日時が過ぎています。これから先の日時を指定してください")
    if draft.recurrence is not None and draft.recurrence.is_set() and draft.send_at is None:
        raise BroadcastError("くり返し配信には、初回の日時を指定してください")
    title = draft.title.strip() or content_title(draft.text)
    broadcast = Broadcast(
        title=title[:MAX_TITLE],
        template=draft.template,
        text=draft.text,
        image_path=draft.image_path,
        audience=draft.audience.stored(),
        urgent=draft.urgent or draft.template == content.Template.URGENT,
        status=BroadcastStatus.DRAFT,
        send_at=draft.send_at,
        recurrence=draft.recurrence.model_dump(exclude_none=True)
        if draft.recurrence and draft.recurrence.is_set()
        else None,
        created_by=author.name[:64],
        created_by_id=author.staff_id,
        created_at=now,
        updated_at=now,
    )
    db_session.add(broadcast)
    db_session.flush()
    if needs_approval(audience_of(broadcast), broadcast.urgent):
        broadcast.status = BroadcastStatus.AWAITING_APPROVAL
    else:
        _schedule(db_session, broadcast, settings)
    db_session.flush()
    return broadcast


def content_title(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:30] + ("…" if len(first) > 30 else "")


def approve(*, db_session: Session, broadcast_id: int, approver: Author, settings: Settings) -> Broadcast:
    broadcast = lock(db_session=db_session, broadcast_id=broadcast_id)
    if broadcast.status != BroadcastStatus.AWAITING_APPROVAL:
        raise InvalidTransition(f"この配信は承認待ちではありません（{BroadcastStatus(broadcast.status).label}）")
    if approver.staff_id is not None and approver.staff_id == broadcast.created_by_id:
        raise NotAllowed("自分で作成した配信は承認できません。ほかの担当者に承認を依頼してください")
    broadcast.approved_by = approver.name[:64]
    broadcast.approved_at = clock.now()
    if broadcast.send_at is not None and broadcast.send_at < clock.now() and not _recurring(broadcast):
        broadcast.send_at = None  # approved after its time: it goes now (or in the morning)
    _schedule(db_session, broadcast, settings)
    broadcast.updated_at = clock.now()
    db_session.flush()
    return broadcast


def cancel(*, db_session: Session, broadcast_id: int, by: Author) -> Broadcast:
    """Stops a broadcast: waiting runs never start; a send in progress stops after the chunks in flight."""
    broadcast = lock(db_session=db_session, broadcast_id=broadcast_id)
    if broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED):
        raise InvalidTransition(f"この配信は取り消せません（{BroadcastStatus(broadcast.status).label}）")
    db_session.execute(
        update(BroadcastRun)
        .where(BroadcastRun.broadcast_id == broadcast.id, BroadcastRun.status == RunStatus.DUE)
        .values(status=RunStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    for job_id in db_session.scalars(
        select(BroadcastRun.send_job_id).where(
            BroadcastRun.broadcast_id == broadcast.id, BroadcastRun.send_job_id.is_not(None)
        )
    ):
        if job_id is not None:
            engine.cancel(db_session, job_id)
    broadcast.status = BroadcastStatus.CANCELLED
    broadcast.cancelled_by = by.name[:64]
    broadcast.cancelled_at = broadcast.updated_at = clock.now()
    db_session.flush()
    return broadcast


def audience_of(broadcast: Broadcast) -> Audience:
    return Audience.model_validate(broadcast.audience)


def _recurring(broadcast: Broadcast) -> bool:
    return bool(broadcast.recurrence)


# --- timing -------------------------------------------------------------------------------------------
def _hm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_hours(settings: Settings) -> tuple[time, time] | None:
    """(start, end) in Tokyo time, or None when switched off ("" or start == end)."""
    value = settings.broadcast_quiet_hours.strip()
    if not value:
        return None
    start, end = (_hm(part.strip()) for part in value.split("-"))
    return None if start == end else (start, end)


def release_time(due: datetime, *, urgent: bool, settings: Settings) -> datetime:
    """When a run due at `due` may go: at once for 緊急, else after quiet hours."""
    window = quiet_hours(settings)
    if urgent or window is None:
        return due
    start, end = window
    local = due.astimezone(clock.TOKYO)
    now_t = local.time()
    in_window = (start <= now_t or now_t < end) if start > end else (start <= now_t < end)
    if not in_window:
        return due
    day = local.date() if now_t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=clock.TOKYO)


def next_occurrence(recurrence: Recurrence, first: datetime, after: datetime) -> datetime:
    """The first time on the schedule at or after `after` (and not before `first`), at `first`'s time of day."""
    first_local = first.astimezone(clock.TOKYO)
    at = first_local.timetz()
    start = max(first_local, after.astimezone(clock.TOKYO))
    day = start.date()
    for _ in range(400):
        candidate = datetime.combine(day, at.replace(tzinfo=None), tzinfo=clock.TOKYO)
        if candidate >= start and _on_schedule(recurrence, day):
            return candidate
        day += timedelta(days=1)
    raise BroadcastError("くり返しの予定が見つかりません")


def _on_schedule(recurrence: Recurrence, day: date) -> bool:
    if recurrence.weekday is not None:
        return day.weekday() == recurrence.weekday
    assert recurrence.monthly_day is not None
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == min(recurrence.monthly_day, last)  # 31日 in a short month: its last day


def _first_due(broadcast: Broadcast, now: datetime) -> datetime:
    if broadcast.recurrence:
        first = broadcast.send_at or now
        return next_occurrence(Recurrence.model_validate(broadcast.recurrence), first, now)
    return broadcast.send_at if broadcast.send_at is not None and broadcast.send_at > now else now


def _schedule(db_session: Session, broadcast: Broadcast, settings: Settings) -> None:
    """Plans the first run; one due now starts in this transaction."""
    now = clock.now()
    wanted = _first_due(broadcast, now)
    run = _add_run(db_session, broadcast, wanted, settings)
    broadcast.status = BroadcastStatus.SCHEDULED
    if run.due_at <= now:
        _start(db_session, broadcast, run, settings)


def _add_run(db_session: Session, broadcast: Broadcast, wanted: datetime, settings: Settings) -> BroadcastRun:
    due = release_time(wanted, urgent=broadcast.urgent, settings=settings)
    run = BroadcastRun(
        broadcast_id=broadcast.id,
        due_at=due,
        status=RunStatus.DUE,
        held_from=wanted if due != wanted else None,
    )
    db_session.add(run)
    db_session.flush()
    return run


# --- sending ------------------------------------------------------------------------------------------
def aggregation_unit(broadcast: Broadcast) -> str:
    """LINE's reach statistics are kept per unit: one per broadcast (all its runs)."""
    return f"broadcast_{broadcast.id}"


def image_urls(broadcast: Broadcast, settings: Settings) -> tuple[str | None, str | None]:
    if not broadcast.image_path:
        return None, None
    base = settings.public_base_url.rstrip("/")
    return (
        f"{base}/media/broadcasts/{broadcast.image_path}",
        f"{base}/media/broadcasts/preview/{broadcast.image_path}",
    )


def messages_of(broadcast: Broadcast, settings: Settings) -> list[dict[str, Any]]:
    original, preview = image_urls(broadcast, settings)
    return content.build(
        template=content.Template(broadcast.template),
        title=broadcast.title,
        text=broadcast.text,
        image_url=original,
        preview_url=preview,
    )


def _start(db_session: Session, broadcast: Broadcast, run: BroadcastRun, settings: Settings) -> bool:
    """Starts a due run once: False when another process already did (or it was cancelled)."""
    now = clock.now()
    claimed = db.affected_rows(
        db_session.execute(
            update(BroadcastRun)
            .where(BroadcastRun.id == run.id, BroadcastRun.status == RunStatus.DUE)
            .values(status=RunStatus.STARTED, started_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if claimed != 1:
        return False
    job_id = engine.start(
        db_session,
        owner=f"broadcast:{broadcast.id}",
        messages=messages_of(broadcast, settings),
        recipients=audience_service.user_ids(audience_of(broadcast)),
        aggregation_unit=aggregation_unit(broadcast),
    )
    db_session.execute(
        update(BroadcastRun)
        .where(BroadcastRun.id == run.id)
        .values(send_job_id=job_id)
        .execution_options(synchronize_session=False)
    )
    db_session.refresh(run)
    broadcast.status = BroadcastStatus.SENDING
    broadcast.updated_at = now
    if broadcast.recurrence:
        recurrence = Recurrence.model_validate(broadcast.recurrence)
        wanted = next_occurrence(recurrence, broadcast.send_at or run.due_at, run.due_at + timedelta(minutes=1))
        _add_run(db_session, broadcast, wanted, settings)
    return True


def start_due_runs(*, db_session: Session, settings: Settings, limit: int = 20) -> int:
    """Starts the runs whose time has come (the scheduler's job, every few seconds). Answers how many."""
    now = clock.now()
    query = (
        select(BroadcastRun.id, BroadcastRun.broadcast_id)
        .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
        .where(
            BroadcastRun.status == RunStatus.DUE,
            BroadcastRun.due_at <= now,
            Broadcast.status.in_([BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING]),
        )
        .order_by(BroadcastRun.due_at)
        .limit(limit)
    )
    started = 0
    for run_id, broadcast_id in db_session.execute(query).all():
        broadcast = lock(db_session=db_session, broadcast_id=broadcast_id)
        run = db_session.get(BroadcastRun, run_id)
        if run is None or broadcast.status not in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING):
            continue
        if _start(db_session, broadcast, run, settings):
            started += 1
    return started


def finish_sent(*, db_session: Session) -> int:
    """Marks broadcasts whose sending is over: `done`, or `scheduled` again for a recurring one."""
    finished = 0
    for broadcast in db_session.scalars(select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING)):
        job_ids = [
            job_id
            for job_id in db_session.scalars(
                select(BroadcastRun.send_job_id).where(
                    BroadcastRun.broadcast_id == broadcast.id, BroadcastRun.status == RunStatus.STARTED
                )
            )
            if job_id is not None
        ]
        if any(engine.counts(db_session, job_id).status == "sending" for job_id in job_ids):
            continue
        waiting = next_due(db_session=db_session, broadcast=broadcast)
        broadcast.status = BroadcastStatus.SCHEDULED if waiting is not None else BroadcastStatus.DONE
        broadcast.updated_at = clock.now()
        finished += 1
    db_session.flush()
    return finished


@dataclass(frozen=True)
class Counts:
    total: int
    sent: int
    failed: int
    skipped: int
    remaining: int
    rate_per_second: float | None
    eta_seconds: float | None


def progress(*, db_session: Session, broadcast: Broadcast) -> tuple[BroadcastStatus, Counts | None]:
    """The status as staff should see it now (`done` as soon as the engine is, before the job marks
    it) and the latest run's figures (None before the first run started), from ONE reading of the
    engine: the job's status is read before its chunks, so "done" never comes with figures older
    than it (a sender may finish between two readings)."""
    status = BroadcastStatus(broadcast.status)
    job_id = latest_job(db_session=db_session, broadcast=broadcast)
    if job_id is None:
        return status, None
    try:
        figures = engine.counts(db_session, job_id)
    except engine.JobNotFound:  # purged after the retention period
        return (BroadcastStatus.DONE if status == BroadcastStatus.SENDING else status), None
    if status == BroadcastStatus.SENDING and figures.status != "sending":
        waiting = next_due(db_session=db_session, broadcast=broadcast)
        status = BroadcastStatus.SCHEDULED if waiting is not None else BroadcastStatus.DONE
    return status, Counts(
        total=figures.total,
        sent=figures.sent,
        failed=figures.failed,
        skipped=figures.skipped,
        remaining=figures.remaining,
        rate_per_second=figures.rate_per_second,
        eta_seconds=figures.eta_seconds,
    )

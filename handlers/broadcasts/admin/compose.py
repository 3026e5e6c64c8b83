"""The broadcasts' pages: the list, compose (live length counter, preview as the sandbox renders it,
reach and LINE's quota before sending, timing), one broadcast (approve by a second person, cancel,
test send, live progress, each recipient's result, LINE's reach statistics), and the dashboard panel.
Views are thin: parse, call a staff action (flows.py), redirect or render."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from admin.auth import CurrentStaff, DbSession
from admin.nav import DashboardPanel, staff_roles
from admin.templating import redirect, render
from bot import clock
from bot.citizens import Citizen, CitizenStatus
from handlers.broadcasts import flows
from handlers.broadcasts.admin.shared import ASSETS, BASE, page_assets
from handlers.broadcasts.api.broadcasts import CurrentBroadcast
from handlers.broadcasts.guards import broadcaster_only
from handlers.broadcasts.models import MAX_ID, Broadcast, BroadcastStatus, MemberGroup, Topic
from handlers.broadcasts.service import audience as audience_service
from handlers.broadcasts.service import broadcasts as service
from handlers.broadcasts.service import content, images
from handlers.broadcasts.service.audience import Audience
from handlers.broadcasts.service.broadcasts import BroadcastDraft, BroadcastError, Recurrence
from handlers.garbage import service as garbage_service
from notifications import engine

log = logging.getLogger(__name__)
router = APIRouter()
RECIPIENTS_SHOWN = 200
STATUS_CLASSES = {
    BroadcastStatus.AWAITING_APPROVAL: "badge-warn",
    BroadcastStatus.SENDING: "badge-info",
    BroadcastStatus.DONE: "badge-ok",
    BroadcastStatus.CANCELLED: "badge-muted",
}
RECIPIENT_LABELS = {
    "pending": "送信待ち",
    "sent": "送信済み",
    "failed": "失敗",
    "skipped": "対象外（ブロック中）",
    "cancelled": "取り消し",
}


def tokyo(value: datetime | None) -> str:
    return f"{value.astimezone(clock.TOKYO):%Y年%-m月%-d日 %H:%M}" if value else ""


def choices(db_session: Session) -> dict[str, Any]:
    """What an audience can be made of: active topics, the districts, the member groups."""
    return {
        "topics": list(
            db_session.scalars(select(Topic).where(Topic.is_active.is_(True)).order_by(Topic.sort_order, Topic.id))
        ),
        "districts": garbage_service.districts(db_session=db_session),
        "groups": list(db_session.scalars(select(MemberGroup).order_by(MemberGroup.name))),
    }


def audience_label(db_session: Session, stored: dict[str, Any]) -> str:
    if stored.get("all"):
        return "すべての友だち"
    parts = []
    if stored.get("topics"):
        names = dict(db_session.execute(select(Topic.key, Topic.name).where(Topic.key.in_(stored["topics"]))).all())
        parts.append("分野: " + "・".join(names.get(k, k) for k in stored["topics"]))
    if stored.get("groups"):
        groups = dict(
            db_session.execute(
                select(MemberGroup.id, MemberGroup.name).where(MemberGroup.id.in_(stored["groups"]))
            ).all()
        )
        parts.append("グループ: " + "・".join(groups.get(g, f"No.{g}") for g in stored["groups"]))
    if stored.get("districts"):
        parts.append("地区: " + "・".join(stored["districts"]))
    return " ／ ".join(parts)


def timing_label(broadcast: Broadcast) -> str:
    if broadcast.recurrence:
        recurrence = Recurrence.model_validate(broadcast.recurrence)
        at = broadcast.send_at.astimezone(clock.TOKYO) if broadcast.send_at else None
        return f"{recurrence.label()} {at:%H:%M}" if at else recurrence.label()
    return tokyo(broadcast.send_at) if broadcast.send_at else "すぐに配信"


@router.get("/broadcasts/static/{name}", include_in_schema=False)
def broadcasts_static(name: str) -> Response:
    """The pages' script and styles."""
    return ASSETS.serve(name)


# --- the list and the dashboard panel -------------------------------------------------------------------
@router.get("/broadcasts", response_class=HTMLResponse)
def list_broadcasts(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    rows = []
    for b in service.list_recent(db_session=db_session, limit=200):
        status, counts = service.progress(db_session=db_session, broadcast=b)
        rows.append(
            {
                "b": b,
                "status": status,
                "audience": audience_label(db_session, b.audience),
                "timing": timing_label(b),
                "created": tokyo(b.created_at),
                "counts": counts,
            }
        )
    return render(
        request,
        "broadcasts/list.html",
        {"rows": rows, "can_edit": actor.role != "viewer", "status_classes": STATUS_CLASSES},
    )


def scheduled_panel(db_session: Session, actor: Any) -> dict[str, Any]:
    return {
        "rows": [
            {"b": b, "due": tokyo(due), "audience": audience_label(db_session, b.audience), "status": b.status}
            for b, due in service.list_scheduled(db_session=db_session)
        ]
    }


PANELS = (
    DashboardPanel(
        "scheduled_broadcasts",
        "予約済みの配信",
        roles=staff_roles("broadcaster", "viewer"),
        template="broadcasts/panel.html",
        load=scheduled_panel,
        order=50,
    ),
)


# --- compose ------------------------------------------------------------------------------------------
def _compose_page(
    request: Request, db_session: Session, values: dict[str, Any], problems: list[str] | None = None, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "broadcasts/compose.html",
        {
            "values": values,
            "problems": problems or [],
            "templates": [(t.value, t.label) for t in content.Template],
            "limits": {t.value: content.limit_for(t) for t in content.Template},
            "weekdays": list(enumerate(service.WEEKDAYS)),
            "quiet_hours": request.app.state.settings.broadcast_quiet_hours,
            **choices(db_session),
            **page_assets(),
        },
        status_code=status,
    )


@router.get("/broadcasts/new", response_class=HTMLResponse, dependencies=broadcaster_only)
def compose(request: Request, db_session: DbSession) -> HTMLResponse:
    return _compose_page(
        request, db_session, {"template": "notice", "timing": "now", "topics": [], "districts": [], "groups": []}
    )


def _ints(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and 0 < int(v) <= MAX_ID]


def _read_form(form: Any) -> dict[str, Any]:
    return {
        "title": str(form.get("title", "")).strip(),
        "text": str(form.get("text", "")).replace("\r\n", "\n"),
        "template": str(form.get("template", "text")),
        "all": form.get("all") == "1",
        "topics": [str(v) for v in form.getlist("topics")],
        "districts": [str(v) for v in form.getlist("districts")],
        "groups": [str(v) for v in form.getlist("groups")],
        "urgent": form.get("urgent") == "1",
        "timing": str(form.get("timing", "now")),
        "send_at": str(form.get("send_at", "")),
        "repeat": str(form.get("repeat", "monthly")),
        "monthly_day": str(form.get("monthly_day", "1")),
        "weekday": str(form.get("weekday", "0")),
    }


def draft_of(values: dict[str, Any], image_token: str | None) -> BroadcastDraft:
    """The form as a draft; raises ValueError with staff's words."""
    send_at = None
    recurrence = None
    if values["timing"] in ("at", "repeat"):
        if not values["send_at"]:
            raise ValueError("配信日時を入力してください")
        try:
            send_at = datetime.fromisoformat(values["send_at"]).replace(tzinfo=clock.TOKYO)
        except ValueError:
            raise ValueError("配信日時の形式が正しくありません") from None
    if values["timing"] == "repeat":
        if values["repeat"] == "weekly":
            recurrence = Recurrence(weekday=int(values["weekday"]) if values["weekday"].isdigit() else 0)
        else:
            day = int(values["monthly_day"]) if values["monthly_day"].isdigit() else 0
            if not 1 <= day <= 31:
                raise ValueError("毎月の日付は1〜31で入力してください")
            recurrence = Recurrence(monthly_day=day)
    try:
        return BroadcastDraft(
            title=values["title"],
            text=values["text"],
            template=content.Template(values["template"])
            if values["template"] in {t.value for t in content.Template}
            else content.Template.TEXT,
            audience=Audience(
                all=values["all"],
                topics=values["topics"],
                districts=values["districts"],
                groups=_ints(values["groups"]),
            ),
            urgent=values["urgent"],
            send_at=send_at,
            recurrence=recurrence,
            image_path=image_token,
        )
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None


def _first_error(exc: ValidationError) -> str:
    message = str(exc.errors()[0].get("msg", "入力内容を確認してください"))
    return message.removeprefix("Value error, ")


@router.post("/broadcasts/new", dependencies=broadcaster_only)
async def create(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    form = await request.form()
    values = _read_form(form)
    upload = form.get("image")
    try:
        with db_session.begin_nested():  # a refusal keeps nothing, the image included
            token = None
            if isinstance(upload, UploadFile) and upload.filename:
                token = images.store(db_session=db_session, data=await upload.read()).token
            broadcast = flows.create(
                db_session=db_session,
                draft=draft_of(values, token),
                actor=actor,
                settings=request.app.state.settings,
            )
    except (ValueError, BroadcastError) as exc:
        return _compose_page(request, db_session, values, [str(exc)], status=400)
    if broadcast.status == BroadcastStatus.AWAITING_APPROVAL:
        notice = "お知らせを作成しました。ほかの担当者の承認を受けると配信されます。"
    elif broadcast.status == BroadcastStatus.SENDING:
        notice = "配信を開始しました。"
    else:
        notice = "配信を予約しました。"
    return redirect(f"{BASE}/{broadcast.id}", notice=notice)


class PreviewIn(BaseModel):
    template: content.Template = content.Template.TEXT
    title: str = ""
    text: str = ""
    has_image: bool = False


@router.post("/broadcasts/preview", dependencies=broadcaster_only)
def preview(body: PreviewIn) -> JSONResponse:
    """The messages LINE would get, for the compose page's preview (the image is the browser's own file)."""
    title = body.title.strip() or service.content_title(body.text)
    image = "local-image" if body.has_image else None
    return JSONResponse(
        {
            "messages": content.build(
                template=body.template, title=title, text=body.text or " ", image_url=image, preview_url=image
            ),
            "length": content.length(body.text),
            "limit": content.limit_for(body.template),
            "problem": content.problem(body.text, body.template) if body.text else None,
        }
    )


class ReachIn(BaseModel):
    all: bool = False
    topics: list[str] = []
    districts: list[str] = []
    groups: list[int] = []


@router.post("/broadcasts/reach")
async def reach(request: Request, db_session: DbSession, body: ReachIn) -> JSONResponse:
    """How many friends the audience reaches now, and what LINE's monthly quota has left."""
    try:
        audience = Audience(all=body.all, topics=body.topics, districts=body.districts, groups=body.groups)
    except ValidationError as exc:
        return JSONResponse({"reach": 0, "problem": _first_error(exc)})
    count = audience_service.reach(db_session, audience)
    remaining = await _quota_remaining(request)
    return JSONResponse(
        {"reach": count, "quota_remaining": remaining, "over_quota": remaining is not None and count > remaining}
    )


async def _quota_remaining(request: Request) -> int | None:
    client = getattr(request.app.state, "line_client", None)
    if client is None:
        return None
    try:
        return (await engine.quota(client)).remaining
    except Exception as exc:  # LINE unreachable: the page says nothing rather than failing
        log.warning("LINE quota not available: %s", exc)
        return None


# --- one broadcast --------------------------------------------------------------------------------------
def _progress(db_session: Session, broadcast: Broadcast) -> dict[str, Any]:
    return _figures(*service.progress(db_session=db_session, broadcast=broadcast))


def _figures(status: BroadcastStatus, counts: service.Counts | None) -> dict[str, Any]:
    figures: dict[str, Any] = {"status": status.value, "status_label": status.label}
    if counts is not None:
        done = counts.sent + counts.failed + counts.skipped
        figures.update(
            total=counts.total,
            sent=counts.sent,
            failed=counts.failed,
            skipped=counts.skipped,
            remaining=counts.remaining,
            percent=round(100 * done / counts.total) if counts.total else 100,
            rate=round(counts.rate_per_second, 1) if counts.rate_per_second else None,
            eta=round(counts.eta_seconds) if counts.eta_seconds is not None else None,
        )
    return figures


@router.get("/broadcasts/{broadcast_id}", response_class=HTMLResponse)
async def detail(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    broadcast: CurrentBroadcast,
    show: Annotated[str | None, Query(pattern="^(pending|sent|failed|skipped|cancelled)$")] = None,
) -> HTMLResponse:
    status, counts = service.progress(db_session=db_session, broadcast=broadcast)
    job_id = service.latest_job(db_session=db_session, broadcast=broadcast)
    recipients = (
        engine.recipients(db_session, job_id, status=show, limit=RECIPIENTS_SHOWN) if job_id is not None else []
    )
    reach = None
    if status in (BroadcastStatus.AWAITING_APPROVAL, BroadcastStatus.SCHEDULED):
        reach = audience_service.reach(db_session, service.audience_of(broadcast))
    insight = await _insight(request, broadcast) if status == BroadcastStatus.DONE else None
    names = _display_names(db_session, [r.line_user_id for r in recipients])
    can_edit = actor.role != "viewer"
    return render(
        request,
        "broadcasts/detail.html",
        {
            "b": broadcast,
            "status": status,
            "status_classes": STATUS_CLASSES,
            "audience": audience_label(db_session, broadcast.audience),
            "timing": timing_label(broadcast),
            "runs": [
                {"r": r, "due": tokyo(r.due_at), "held_from": tokyo(r.held_from)}
                for r in service.runs(db_session=db_session, broadcast=broadcast)
            ],
            "created": tokyo(broadcast.created_at),
            "approved": tokyo(broadcast.approved_at),
            "messages": service.messages_of(broadcast, request.app.state.settings),
            "progress": _figures(status, counts),
            "recipients": [
                {"r": r, "name": names.get(r.line_user_id), "label": RECIPIENT_LABELS.get(r.status, r.status)}
                for r in recipients
            ],
            "show": show,
            "recipient_labels": RECIPIENT_LABELS,
            "reach": reach,
            "quota_remaining": await _quota_remaining(request) if reach is not None else None,
            "insight": insight,
            "can_approve": can_edit
            and status == BroadcastStatus.AWAITING_APPROVAL
            and broadcast.created_by_id != actor.id,
            "is_author": broadcast.created_by_id == actor.id,
            "can_cancel": can_edit and status not in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED),
            "can_edit": can_edit,
            "test_targets": _test_targets(db_session) if can_edit else [],
            **page_assets(),
        },
    )


def _display_names(db_session: Session, user_ids: list[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    rows = db_session.execute(
        select(Citizen.line_user_id, Citizen.display_name).where(Citizen.line_user_id.in_(user_ids))
    ).all()
    return {user_id: name for user_id, name in rows if name}


def _test_targets(db_session: Session) -> list[tuple[str, str]]:
    """LINE friends to test-send to (staff pick their own account), the recently active first."""
    rows = db_session.execute(
        select(Citizen.line_user_id, Citizen.display_name)
        .where(Citizen.status == CitizenStatus.FOLLOWING)
        .order_by(Citizen.last_seen_at.desc().nulls_last(), Citizen.id.desc())
        .limit(50)
    ).all()
    return [(user_id, name or user_id[:10] + "…") for user_id, name in rows]


async def _insight(request: Request, broadcast: Broadcast) -> engine.Insight | None:
    client = getattr(request.app.state, "line_client", None)
    if client is None:
        return None
    first = broadcast.created_at.astimezone(clock.TOKYO).date()
    last = min(clock.now_tokyo().date(), first + timedelta(days=30))
    try:
        return await engine.insight(client, service.aggregation_unit(broadcast), first, max(first, last))
    except Exception as exc:  # statistics are a bonus: never break the page
        log.warning("LINE insight not available: %s", exc)
        return None


@router.get("/broadcasts/{broadcast_id}/progress")
def progress(db_session: DbSession, broadcast: CurrentBroadcast) -> JSONResponse:
    return JSONResponse(_progress(db_session, broadcast))


@router.post("/broadcasts/{broadcast_id}/approve", dependencies=broadcaster_only)
def approve(request: Request, actor: CurrentStaff, db_session: DbSession, broadcast: CurrentBroadcast) -> Response:
    try:
        approved = flows.approve(
            db_session=db_session, broadcast_id=broadcast.id, actor=actor, settings=request.app.state.settings
        )
    except BroadcastError as exc:
        return redirect(f"{BASE}/{broadcast.id}", error=str(exc))
    notice = "承認しました。配信を開始しました。" if approved.status == BroadcastStatus.SENDING else "承認しました。"
    return redirect(f"{BASE}/{broadcast.id}", notice=notice)


@router.post("/broadcasts/{broadcast_id}/cancel", dependencies=broadcaster_only)
def cancel(actor: CurrentStaff, db_session: DbSession, broadcast: CurrentBroadcast) -> Response:
    try:
        flows.cancel(db_session=db_session, broadcast_id=broadcast.id, actor=actor)
    except BroadcastError as exc:
        return redirect(f"{BASE}/{broadcast.id}", error=str(exc))
    return redirect(f"{BASE}/{broadcast.id}", notice="配信を取り消しました。")


@router.post("/broadcasts/{broadcast_id}/test-send", dependencies=broadcaster_only)
async def test_send(
    request: Request, actor: CurrentStaff, db_session: DbSession, broadcast: CurrentBroadcast
) -> Response:
    form = await request.form()
    target = str(form.get("line_user_id", ""))
    known = db_session.scalar(
        select(Citizen.id).where(Citizen.line_user_id == target, Citizen.status == CitizenStatus.FOLLOWING)
    )
    if known is None:
        return redirect(f"{BASE}/{broadcast.id}", error="テスト送信先のLINEアカウントを選んでください。")
    flows.test_send(
        db_session=db_session,
        broadcast_id=broadcast.id,
        line_user_id=target,
        actor=actor,
        settings=request.app.state.settings,
    )
    return redirect(f"{BASE}/{broadcast.id}", notice="テスト送信しました。LINEで表示を確かめてください。")

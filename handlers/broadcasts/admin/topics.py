"""The topics citizens choose in 配信設定 (/admin/broadcasts/topics): the list with how many receive
each (and where they live), a topic added or edited (name, description, keywords, on by default),
retired or brought back, moved up or down. Broadcasters and admins change; viewers read. Every change
is a staff action (topics_actions.py), which audits it; citizens see it from their next message."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from admin.auth import CurrentStaff, DbSession
from admin.models import Actor, StaffRole
from admin.templating import redirect, render
from handlers.broadcasts import topics_actions
from handlers.broadcasts.admin.shared import BASE
from handlers.broadcasts.api.segments import CurrentTopic
from handlers.broadcasts.guards import broadcaster_only
from handlers.broadcasts.models import Topic
from handlers.broadcasts.service import topics as topic_service
from handlers.broadcasts.service.topics import TopicCreate, TopicExists, TopicUpdate

router = APIRouter()
TOPICS = f"{BASE}/topics"
MAX_FIELD = 2000
FIELD_PROBLEMS = {
    "key": "キーは半角英小文字で始め、英小文字・数字・「_」で32文字までにしてください（例：bousai）。",
    "name": "名前を入力してください（40文字まで）。",
    "description": "説明は200文字までにしてください。",
    "keywords": "言いかえは30個まで、各40文字までにしてください。",
}


def can_edit(actor: Actor) -> bool:
    return actor.role in (StaffRole.ADMIN, StaffRole.BROADCASTER)


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value[:MAX_FIELD] for key, value in form.items() if isinstance(value, str)}


def keywords_of(value: str) -> list[str]:
    """One a line, or separated by 、 or commas."""
    return [w.strip() for w in re.split(r"[\n、,，]", value) if w.strip()]


def problems(exc: ValidationError) -> list[str]:
    found: list[str] = []
    for error in exc.errors():
        text = FIELD_PROBLEMS.get(str(error.get("loc", ("",))[0]), "入力内容が正しくありません。")
        if text not in found:
            found.append(text)
    return found


def topic_form(topic: Topic | None) -> dict[str, Any]:
    if topic is None:
        return {"key": "", "name": "", "description": "", "keywords": "", "default_on": False}
    return {
        "key": topic.key,
        "name": topic.name,
        "description": topic.description,
        "keywords": "\n".join(topic.keywords or ()),
        "default_on": topic.default_on,
    }


def _values(form: dict[str, str]) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "keywords": keywords_of(form.get("keywords", "")),
        "default_on": form.get("default_on") == "1",
    }


@router.get("/broadcasts/topics", response_class=HTMLResponse)
def list_topics(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    """Every topic (retired ones last in their place, marked) with its subscribers, by district."""
    topics = topic_service.get_all(db_session=db_session, include_inactive=True)
    counts = topic_service.counts(db_session=db_session)
    by_district = topic_service.counts_by_district(db_session=db_session)
    districts = topic_service.district_choices(db_session=db_session)
    return render(
        request,
        "broadcasts/topics.html",
        {
            "topics": topics,
            "counts": counts,
            "by_district": by_district,
            "districts": districts,
            "no_district": topic_service.NO_DISTRICT,
            "district_counts": topic_service.district_counts(db_session=db_session),
            "can_edit": can_edit(actor),
        },
    )


def _form_page(
    request: Request,
    *,
    topic: Topic | None,
    values: dict[str, Any],
    editable: bool,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "broadcasts/topics_form.html",
        {"topic": topic, "values": values, "can_edit": editable, "problems": errors or [], "base": TOPICS},
        status_code=status_code,
    )


@router.get("/broadcasts/topics/new", response_class=HTMLResponse, dependencies=broadcaster_only)
def show_new_topic(request: Request) -> HTMLResponse:
    return _form_page(request, topic=None, values=topic_form(None), editable=True)


@router.post("/broadcasts/topics/new", response_class=HTMLResponse, dependencies=broadcaster_only)
async def create_topic(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    form = await read_form(request)
    values = topic_form(None) | {k: form.get(k, "") for k in ("key", "name", "description", "keywords")}
    values["default_on"] = form.get("default_on") == "1"
    try:
        topic_in = TopicCreate(key=form.get("key", "").strip(), **_values(form))
        topic = topics_actions.create_topic(db_session=db_session, topic_in=topic_in, actor=actor)
    except ValidationError as exc:
        return _form_page(request, topic=None, values=values, editable=True, errors=problems(exc), status_code=400)
    except TopicExists:
        errors = ["そのキーの分野はすでにあります（停止中のものを含みます）。別のキーにしてください。"]
        return _form_page(request, topic=None, values=values, editable=True, errors=errors, status_code=400)
    return redirect(TOPICS, notice=f"「{topic.name}」を追加しました。LINEの配信設定にすぐ表示されます。")


@router.get("/broadcasts/topics/{key}", response_class=HTMLResponse)
def show_topic(request: Request, actor: CurrentStaff, topic: CurrentTopic) -> HTMLResponse:
    return _form_page(request, topic=topic, values=topic_form(topic), editable=can_edit(actor))


@router.post("/broadcasts/topics/{key}", response_class=HTMLResponse, dependencies=broadcaster_only)
async def update_topic(request: Request, actor: CurrentStaff, db_session: DbSession, topic: CurrentTopic) -> Response:
    form = await read_form(request)
    try:
        topic_in = TopicUpdate(**_values(form))
    except ValidationError as exc:
        values = topic_form(topic) | {k: form.get(k, "") for k in ("name", "description", "keywords")}
        values["default_on"] = form.get("default_on") == "1"
        return _form_page(request, topic=topic, values=values, editable=True, errors=problems(exc), status_code=400)
    topics_actions.update_topic(db_session=db_session, topic=topic, topic_in=topic_in, actor=actor)
    return redirect(TOPICS, notice=f"「{topic.name}」を保存しました。")


@router.post("/broadcasts/topics/{key}/retire", dependencies=broadcaster_only)
def retire_topic(actor: CurrentStaff, db_session: DbSession, topic: CurrentTopic) -> Response:
    topics_actions.retire_topic(db_session=db_session, topic=topic, actor=actor)
    return redirect(TOPICS, notice=f"「{topic.name}」を停止しました。市民には表示されず、配信も届きません。")


@router.post("/broadcasts/topics/{key}/reactivate", dependencies=broadcaster_only)
def reactivate_topic(actor: CurrentStaff, db_session: DbSession, topic: CurrentTopic) -> Response:
    topics_actions.reactivate_topic(db_session=db_session, topic=topic, actor=actor)
    return redirect(TOPICS, notice=f"「{topic.name}」を再開しました。以前の登録者にまた届きます。")


@router.post("/broadcasts/topics/{key}/move", dependencies=broadcaster_only)
async def move_topic(request: Request, actor: CurrentStaff, db_session: DbSession, topic: CurrentTopic) -> Response:
    form = await read_form(request)
    step = -1 if form.get("direction") == "up" else 1
    topics_actions.move_topic(db_session=db_session, topic=topic, step=step, actor=actor)
    return redirect(TOPICS)

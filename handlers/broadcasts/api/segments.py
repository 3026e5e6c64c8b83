"""/api/v1/segments: the topics citizens choose (配信設定) with how many receive each, and the
districts with how many friends live in each. Viewers read; broadcasters and admins add and change
topics, through the same staff actions as the pages (topics_actions.py), which audit them.

`router` has no guard of its own: the admin mounts it behind its token guard and the section's roles.
"""

# No `from __future__ import annotations`: the routes' parameter types are built at run time.

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel

from admin.auth import CurrentStaff, DbSession
from handlers.broadcasts import topics_actions
from handlers.broadcasts.guards import broadcaster_only
from handlers.broadcasts.models import Topic
from handlers.broadcasts.service import topics as topic_service
from handlers.broadcasts.service.topics import KEY_PATTERN, TopicCreate, TopicExists, TopicUpdate

router = APIRouter()
ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "見つからない"},
    409: {"description": "そのキーの分野はすでにある"},
    422: {"description": "入力が正しくない"},
}


def current_topic(db_session: DbSession, key: Annotated[str, Path(pattern=KEY_PATTERN)]) -> Topic:
    """The topic a path names (pages and API alike), or 404."""
    topic = topic_service.get_by_key(db_session=db_session, key=key)
    if topic is None:
        raise HTTPException(status_code=404, detail="その配信の分野は見つかりません。")
    return topic


CurrentTopic = Annotated[Topic, Depends(current_topic)]


class SegmentRead(BaseModel):
    """A topic as the API shows it, with its subscribers (friends who blocked the account not counted)."""

    key: str
    name: str
    description: str
    keywords: list[str]
    default_on: bool
    is_active: bool
    subscribers: int


class DistrictRead(BaseModel):
    name: str
    citizens: int  # friends (not blocked) who told the bot they live there


class SegmentsRead(BaseModel):
    topics: list[SegmentRead]
    districts: list[DistrictRead]


def _read(topic: Topic, subscribers: int) -> SegmentRead:
    return SegmentRead(
        key=topic.key,
        name=topic.name,
        description=topic.description,
        keywords=list(topic.keywords or ()),
        default_on=topic.default_on,
        is_active=topic.is_active,
        subscribers=subscribers,
    )


@router.get("/segments", response_model=SegmentsRead, summary="配信の分野（受け取り中の人数つき）と地区")
def list_segments(db_session: DbSession) -> SegmentsRead:
    counts = topic_service.counts(db_session=db_session)
    people = topic_service.district_counts(db_session=db_session)
    topics = topic_service.get_all(db_session=db_session, include_inactive=True)
    return SegmentsRead(
        topics=[_read(topic, counts.get(topic.id, 0)) for topic in topics],
        districts=[
            DistrictRead(name=name, citizens=people.get(name, 0))
            for name in topic_service.district_choices(db_session=db_session)
        ],
    )


@router.post(
    "/segments",
    response_model=SegmentRead,
    status_code=201,
    summary="配信の分野を追加する（LINEの配信設定にすぐ表示されます）",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def create_segment(body: TopicCreate, actor: CurrentStaff, db_session: DbSession) -> SegmentRead:
    try:
        topic = topics_actions.create_topic(db_session=db_session, topic_in=body, actor=actor)
    except TopicExists:
        raise HTTPException(status_code=409, detail="そのキーの分野はすでにあります。") from None
    return _read(topic, 0)


@router.get("/segments/{key}", response_model=SegmentRead, summary="配信の分野の1件", responses=ERRORS)
def read_segment(topic: CurrentTopic, db_session: DbSession) -> SegmentRead:
    return _read(topic, topic_service.counts(db_session=db_session).get(topic.id, 0))


@router.patch(
    "/segments/{key}",
    response_model=SegmentRead,
    summary="配信の分野を変更・停止・再開する",
    responses=ERRORS,
    dependencies=broadcaster_only,
)
def update_segment(body: TopicUpdate, topic: CurrentTopic, actor: CurrentStaff, db_session: DbSession) -> SegmentRead:
    topics_actions.update_topic(db_session=db_session, topic=topic, topic_in=body, actor=actor)
    return _read(topic, topic_service.counts(db_session=db_session).get(topic.id, 0))

"""お知らせ配信: citizens choose topics (配信設定), members of verified groups join with a code, and
staff compose, approve and schedule broadcasts that the delivery engine (notifications/) sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.broadcasts import member_flow, settings_flow

if TYPE_CHECKING:
    from fastapi import APIRouter


def _public() -> APIRouter:
    from handlers.broadcasts.media import router

    return router


def _seed(db_session: Session) -> None:
    # The demo topics (data/topics.yml): those missing are added, staff edits are kept.
    from handlers.broadcasts.service import topics as topic_service

    topic_service.seed(db_session=db_session)
    # The demo group 愛育委員 with sample members (kept as staff left it once it exists).
    from handlers.broadcasts import seed_groups

    seed_groups.seed(db_session=db_session)


def _admin() -> Sequence[Any]:
    from handlers.broadcasts.admin import SCREENS

    return SCREENS


CAPABILITY = Capability(
    name="broadcasts",
    # A registration code first: it is a short string any other flow might misread.
    flows=(member_flow.FLOW, settings_flow.FLOW),
    # 友だち追加: the welcome desk's greeting, then the short question about news (配信設定).
    events={"follow": settings_flow.follow},
    intents=frozenset({"subscribe", "unsubscribe"}),
    models=("handlers.broadcasts.models",),
    admin=_admin,
    seed=_seed,
    public=_public,
    # A broadcast's image (10 MB as LINE allows, in a multipart form).
    body_limits={"/admin/broadcasts/new": 11_000_000},
    jobs=(
        Job(
            id="broadcasts:due",
            func="handlers.broadcasts.jobs:send_due",
            name="お知らせの配信開始（予定の時刻・静かな時間帯の明け）",
            trigger="interval",
            schedule=lambda settings: {"seconds": 10},
        ),
    ),
)

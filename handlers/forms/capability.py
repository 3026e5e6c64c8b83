"""申請・通報: forms staff build in the admin (surveys, reports with photo and place, 市長への手紙),
answered one question at a time in chat; each submission is a case with a 受付番号 and a status the
citizen is told of, handled by the department it is routed to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.forms import flow, history
from handlers.forms import service as forms_service

if TYPE_CHECKING:
    from fastapi import APIRouter


def _admin() -> Sequence[Any]:
    from handlers.forms.admin import SCREENS

    return SCREENS


def _public() -> APIRouter:
    from handlers.forms.media import router

    return router


def _seed(db_session: Session) -> None:
    forms_service.seed(db_session=db_session)


CAPABILITY = Capability(
    name="forms",
    flows=(flow.FLOW,),
    intents=frozenset({"form_list"}),  # the menu's 申請・通報 (a button, not something the NLU reads)
    models=("handlers.forms.models",),
    admin=_admin,
    public=_public,
    jobs=(
        Job(
            id="forms:photos",
            func="handlers.forms.jobs:fetch_photos",
            name="申請・通報の写真の取得",
            trigger="interval",
            schedule=lambda settings: {"seconds": 15},
        ),
        Job(
            id="forms:retention",
            func="handlers.forms.jobs:purge_cases",
            name="完了した申請・通報の削除",
            trigger="cron",
            schedule=lambda settings: {"hour": 3, "minute": 35},
        ),
    ),
    seed=_seed,
    citizen_history=history.citizen_history,
)

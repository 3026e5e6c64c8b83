"""申請・通報: forms staff build in the admin (surveys, reports with photo and place, 市長への手紙),
answered one question at a time in chat; each submission is a case with a 受付番号 and a status the
citizen is told of, handled by the department it is routed to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from bot.catalog import t
from bot.messages import postback_item
from handlers.forms import flow, history
from handlers.forms import service as forms_service

if TYPE_CHECKING:
    from fastapi import APIRouter
    from linebot.v3.messaging import QuickReplyItem


def _admin() -> Sequence[Any]:
    from handlers.forms.admin import SCREENS

    return SCREENS


def _public() -> APIRouter:
    from handlers.forms.media import router

    return router


def _seed(db_session: Session) -> None:
    forms_service.seed(db_session=db_session)


def _faq_buttons(db_session: Session, faq_id: str) -> list[QuickReplyItem]:
    """「LINEで報告する」 under the answer of a FAQ entry a form names; several forms, by their titles."""
    forms = forms_service.forms_for_faq(db_session=db_session, faq_id=faq_id)
    return [
        postback_item(
            f.definition.title if len(forms) > 1 else t(f"forms.faq_button_{f.definition.kind.value}"),
            "form_start",
            display=f.definition.title,
            k=f.key,
        )
        for f in forms
    ]


CAPABILITY = Capability(
    name="forms",
    flows=(flow.FLOW,),
    # The menu's 申請・通報, and what the NLU reads as asking for it (「通報したい」「アンケートに答えたい」).
    intents=frozenset({"form_list"}),
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
    faq_buttons=_faq_buttons,
)

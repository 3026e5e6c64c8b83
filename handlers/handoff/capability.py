"""職員対応: 「職員と話したい」 opens a thread in the staff inbox; while staff handle it, the bot
stays quiet for the citizen and what they send goes to the thread; staff reply from the admin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.handoff import flow, history
from handlers.handoff import service as handoff_service


def _admin() -> Sequence[Any]:
    from handlers.handoff.admin import SCREENS

    return SCREENS


def _seed(db_session: Session) -> None:
    handoff_service.seed_canned_replies(db_session=db_session)


CAPABILITY = Capability(
    name="handoff",
    flows=(flow.FLOW,),
    intents=frozenset({"handoff"}),
    models=("handlers.handoff.models",),
    admin=_admin,
    jobs=(
        Job(
            id="handoff:retention",
            func="handlers.handoff.jobs:purge_requests",
            name="職員への取り次ぎ依頼の削除",
            trigger="cron",
            schedule=lambda settings: {"hour": 3, "minute": 25},
        ),
        Job(
            id="handoff:hand_back",
            func="handlers.handoff.notify:hand_back_waiting",
            name="職員対応の待ち時間切れ（ボットに戻す）",
            trigger="interval",
            schedule=lambda settings: {"seconds": 60},
        ),
        Job(
            id="handoff:images",
            func="handlers.handoff.notify:fetch_images",
            name="職員対応の画像の取得",
            trigger="interval",
            schedule=lambda settings: {"seconds": 30},
        ),
    ),
    seed=_seed,
    citizen_history=history.citizen_history,
)

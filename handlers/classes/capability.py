"""スマホ教室: smartphone classes for seniors: signup on LINE (for oneself or a family member), by
phone or at the counter; waitlist that moves up by itself, lottery, reminders, attendance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.classes import flow, history
from handlers.classes.service import seed as class_seed
from handlers.classes.service import signups as signup_service


def _admin() -> Sequence[Any]:
    from handlers.classes.admin import SCREENS

    return SCREENS


def _cli() -> click.Command:
    from handlers.classes.cli import classes

    return classes


def _seed(db_session: Session) -> None:
    class_seed.seed(db_session=db_session)


CAPABILITY = Capability(
    name="classes",
    flows=(flow.FLOW,),
    intents=frozenset({"class_info", "class_signup", "class_cancel"}),
    models=("handlers.classes.models",),
    admin=_admin,
    cli=_cli,
    qr_tokens=signup_service.has_live_token,
    jobs=(
        Job(
            id="classes:reminders",
            func="handlers.classes.notify:send_due_reminders",
            name="スマホ教室のリマインダー",
            trigger="interval",
            schedule=lambda settings: {"seconds": settings.reminder_sweep_seconds},
        ),
        Job(
            id="classes:lottery",
            func="handlers.classes.notify:draw_due_lotteries",
            name="スマホ教室の抽選",
            trigger="interval",
            schedule=lambda settings: {"seconds": settings.reminder_sweep_seconds},
        ),
        Job(
            id="classes:purge",
            func="handlers.classes.notify:purge_personal_data",
            name="スマホ教室の個人情報の削除",
            trigger="cron",
            schedule=lambda settings: {"hour": 3, "minute": 25},
        ),
    ),
    seed=_seed,
    citizen_history=history.citizen_history,
)

"""書かない窓口: counter reservations with a QR code, reminders, and staff check-in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.reservations import bookings, flow, history
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import seed as counter_seed


def _admin() -> Sequence[Any]:
    from handlers.reservations.admin.screens import SCREENS

    return SCREENS


def _cli() -> click.Command:
    from handlers.reservations.cli import reservations_group

    return reservations_group


def _seed(db_session: Session) -> None:
    # Counter offices, procedures and slot rules (sample data): what is missing is added.
    counter_seed.seed(db_session=db_session)


CAPABILITY = Capability(
    name="reservations",
    # Booking first, then my bookings (予約確認); entry points are tried in this order.
    flows=(flow.FLOW, bookings.FLOW),
    intents=frozenset({"reservation_make", "reservation_check", "reservation_cancel"}),
    models=("handlers.reservations.models",),
    admin=_admin,
    cli=_cli,
    # Its QR codes' images (bot/qr_media.py): a booking's token until it is cancelled or purged.
    qr_tokens=reservation_service.has_live_token,
    jobs=(
        Job(
            id="reservations:reminders",
            func="handlers.reservations.notify:send_due_reminders",
            name="予約のリマインダー",
            trigger="interval",
            schedule=lambda settings: {"seconds": settings.reminder_sweep_seconds},
        ),
        Job(
            id="reservations:purge",
            func="handlers.reservations.notify:purge_personal_data",
            name="個人情報の削除",
            trigger="cron",
            schedule=lambda settings: {"hour": 3, "minute": 15},
        ),
    ),
    seed=_seed,
    citizen_history=history.citizen_history,
)

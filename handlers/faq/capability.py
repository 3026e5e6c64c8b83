"""FAQ answers: questions and unsure text answered from the city's knowledge base."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.orm import Session

from bot.capability import Capability, Job
from handlers.faq import flow
from handlers.faq import service as faq_service


def _admin() -> Sequence[Any]:
    from handlers.faq.admin.screens import SCREENS

    return SCREENS


def _cli() -> click.Command:
    from handlers.faq.cli import faq_group

    return faq_group


def _seed(db_session: Session) -> None:
    # Entries missing from the database are added; staff edits are kept.
    faq_service.seed(db_session=db_session)


def _warmup(db_session: Session) -> None:
    faq_service.get_index(db_session=db_session)


CAPABILITY = Capability(
    name="faq",
    flows=(flow.FLOW,),
    intents=frozenset({"faq", "out_of_scope"}),
    models=("handlers.faq.models",),
    admin=_admin,
    cli=_cli,
    jobs=(
        Job(
            id="faq:retention",
            func="handlers.faq.jobs:purge_unanswered",
            name="答えられなかった質問の削除",
            trigger="cron",
            schedule=lambda settings: {"hour": 3, "minute": 20},
        ),
    ),
    seed=_seed,
    warmup=_warmup,
)

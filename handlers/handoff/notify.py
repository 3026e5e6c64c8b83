"""The inbox's pushes and jobs: a staff reply, the thread closed, the polite hand-back when nobody
replied in time; and fetching the images citizens sent from LINE (LINE keeps them for a while only).

A push is written to the outbox in the caller's transaction (sent after commit, with a stored
X-Line-Retry-Key). The hand-back is claimed by a conditional UPDATE, so it goes out once.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session

from bot import clock
from bot import outbox as outbox_service
from bot.catalog import t
from bot.db import Database
from bot.line_client import LineClient
from bot.messages import menu_text, text, to_json
from bot.settings import Settings
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffMessage, HandoffRequest
from notifications import scheduler

log = logging.getLogger(__name__)


def staff_reply(*, db_session: Session, request: HandoffRequest, message: HandoffMessage, body: str) -> None:
    outbox_service.enqueue_push(
        db_session=db_session,
        to=request.line_user_id,
        messages=to_json([text(t("handoff.staff_reply", body=body))]),
        purpose=f"handoff_reply:{request.id}:{message.id}",
    )


def closed(*, db_session: Session, request: HandoffRequest) -> None:
    outbox_service.enqueue_push(
        db_session=db_session,
        to=request.line_user_id,
        messages=to_json([menu_text(t("handoff.closed_by_staff"))]),
        purpose=f"handoff_closed:{request.id}",
    )


# Scheduled jobs -------------------------------------------------------------------------------


def hand_back_one(*, db: Database, request_id: int) -> bool:
    with db.session() as db_session:
        request = handoff_service.claim_hand_back(db_session=db_session, request_id=request_id, now=clock.now())
        if request is None:
            return False
        if not handoff_service.stop_waiting(db_session=db_session, request=request):
            return False  # already back with the bot: nothing to say
        outbox_service.enqueue_push(
            db_session=db_session,
            to=request.line_user_id,
            messages=to_json([menu_text(t("handoff.handed_back"))]),
            purpose=f"handoff_back:{request.id}",
        )
        return True


def hand_back_due(*, db: Database) -> int:
    with db.session() as db_session:
        due = handoff_service.due_hand_backs(db_session=db_session, now=clock.now())
    told = 0
    for request_id in due:
        try:
            told += hand_back_one(db=db, request_id=request_id)
        except Exception:
            log.exception("handing back the citizen of request %s failed", request_id)
    return told


async def hand_back_waiting() -> int:
    """Every minute: citizens who waited HANDOFF_WAIT_MINUTES with no staff reply go back to the bot."""
    context = scheduler.context()
    return await asyncio.to_thread(hand_back_due, db=context.db)


async def fetch_images_now(*, db: Database, settings: Settings, client: LineClient) -> int:
    """Fetches the images citizens sent into threads; each is tried a few times (LINE may be down)."""
    with db.session() as db_session:
        pending = handoff_service.images_to_fetch(db_session=db_session)
    fetched = 0
    for message_id in pending:
        with db.session() as db_session:
            message = handoff_service.get_message(db_session=db_session, message_id=message_id)
            if message is None or message.line_message_id is None:
                continue
            line_id = message.line_message_id
            message.fetch_attempts += 1
        try:
            data, media_type = await client.get_content(line_id)
        except Exception as exc:
            log.warning("image %s of a handoff thread could not be fetched: %s", message_id, type(exc).__name__)
            continue
        with db.session() as db_session:
            message = handoff_service.get_message(db_session=db_session, message_id=message_id)
            if message is not None:
                handoff_service.store_image(
                    db_session=db_session, message=message, data=data, media_type=media_type, settings=settings
                )
                fetched += 1
    return fetched


async def fetch_images() -> int:
    context = scheduler.context()
    with context.db.session() as db_session:
        if not handoff_service.images_to_fetch(db_session=db_session):
            return 0
    client = LineClient(context.settings)
    try:
        return await fetch_images_now(db=context.db, settings=context.settings, client=client)
    finally:
        await client.close()

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
    """Fetches the images citizens sent into threads; each is tried a few times (LINE may be down).
    The database is used from worker threads only: on SQLite a transaction waits for the write lock,
    and the event loop must never wait for it (the request holding it needs the loop to finish)."""
    pending = await asyncio.to_thread(_images_to_fetch, db)
    fetched = 0
    for message_id in pending:
        line_id = await asyncio.to_thread(_count_attempt, db, message_id)
        if line_id is None:
            continue
        try:
            data, media_type = await client.get_content(line_id)
        except Exception as exc:
            log.warning("image %s of a handoff thread could not be fetched: %s", message_id, type(exc).__name__)
            continue
        fetched += await asyncio.to_thread(_store, db, settings, message_id, data, media_type)
    return fetched


def _images_to_fetch(db: Database) -> list[int]:
    with db.session() as db_session:
        return handoff_service.images_to_fetch(db_session=db_session)


def _count_attempt(db: Database, message_id: int) -> str | None:
    """Counts one more try; answers the LINE message id to fetch (None: nothing to fetch)."""
    with db.session() as db_session:
        message = handoff_service.get_message(db_session=db_session, message_id=message_id)
        if message is None or message.line_message_id is None:
            return None
        message.fetch_attempts += 1
        return message.line_message_id


def _store(db: Database, settings: Settings, message_id: int, data: bytes, media_type: str) -> bool:
    with db.session() as db_session:
        message = handoff_service.get_message(db_session=db_session, message_id=message_id)
        if message is None:
            return False
        handoff_service.store_image(
            db_session=db_session, message=message, data=data, media_type=media_type, settings=settings
        )
        return True


async def fetch_images() -> int:
    """Every 30 s: the images waiting to be fetched (a LINE client only when there are some)."""
    context = scheduler.context()
    if not await asyncio.to_thread(_images_to_fetch, context.db):
        return 0
    client = LineClient(context.settings)
    try:
        return await fetch_images_now(db=context.db, settings=context.settings, client=client)
    finally:
        await client.close()

"""The forms' scheduled jobs: fetching the photos citizens sent with their forms from LINE's content
endpoint (api-data; LINE keeps them for a limited time), and the nightly purge of closed cases.

The database is used from worker threads only (asyncio.to_thread): on SQLite a transaction waits for
the write lock, and the event loop must never wait for it. Each photo is tried a few times (LINE may
be down); one that is not an image or too large is refused, and the case says so.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot import clock
from bot import images as checked_images
from bot.db import Database
from bot.line_client import LineClient
from bot.settings import Settings
from handlers.forms import service as forms_service
from handlers.forms.models import PhotoStatus
from notifications import scheduler

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def _to_fetch(db: Database) -> list[int]:
    with db.session() as db_session:
        return forms_service.photos_to_fetch(db_session=db_session, max_attempts=MAX_ATTEMPTS)


def _count_attempt(db: Database, photo_id: int) -> str | None:
    """One more try counted; answers the LINE message id to fetch (None: nothing to fetch)."""
    with db.session() as db_session:
        photo = db_session.get(forms_service.Photo, photo_id)
        if photo is None or photo.status != PhotoStatus.PENDING or photo.line_message_id is None:
            return None
        photo.fetch_attempts += 1
        return photo.line_message_id


def _store(db: Database, settings: Settings, photo_id: int, data: bytes) -> bool:
    refused = None
    try:
        image = checked_images.check(data, max_bytes=settings.forms_max_photo_bytes)
    except checked_images.ImageRefused as reason:
        image, refused = None, str(reason)
    with db.session() as db_session:
        photo = db_session.get(forms_service.Photo, photo_id)
        if photo is None or photo.status != PhotoStatus.PENDING:
            return False
        if image is None:
            forms_service.refuse_photo(photo=photo, reason=refused or "")
            log.warning("photo %s of a form refused: %s", photo_id, refused)
            return False
        forms_service.store_photo(
            db_session=db_session,
            settings=settings,
            photo=photo,
            data=image.data,
            thumbnail=image.preview,
            media_type=image.media_type,
        )
        return True


def _give_up(db: Database, photo_id: int) -> None:
    with db.session() as db_session:
        photo = db_session.get(forms_service.Photo, photo_id)
        if photo is not None and photo.status == PhotoStatus.PENDING and photo.fetch_attempts >= MAX_ATTEMPTS:
            forms_service.refuse_photo(photo=photo, reason="LINEから写真を取得できませんでした")


async def fetch_photos_now(*, db: Database, settings: Settings, client: LineClient) -> int:
    """Fetches the photos waiting; answers how many were stored."""
    stored = 0
    for photo_id in await asyncio.to_thread(_to_fetch, db):
        stored += await _fetch(db, settings, client, photo_id)
    return stored


async def fetch_one(*, db: Database, settings: Settings, client: LineClient, token: str) -> bool:
    """One photo now (its preview was asked for before the job came to it)."""
    photo_id = await asyncio.to_thread(_photo_id, db, token)
    return photo_id is not None and await _fetch(db, settings, client, photo_id)


def _photo_id(db: Database, token: str) -> int | None:
    with db.session() as db_session:
        photo = forms_service.get_photo(db_session=db_session, token=token)
        return None if photo is None else photo.id


async def _fetch(db: Database, settings: Settings, client: LineClient, photo_id: int) -> bool:
    line_id = await asyncio.to_thread(_count_attempt, db, photo_id)
    if line_id is None:
        return False
    try:
        data, _ = await client.get_content(line_id)
    except Exception as exc:
        log.warning("photo %s of a form could not be fetched: %s", photo_id, type(exc).__name__)
        await asyncio.to_thread(_give_up, db, photo_id)
        return False
    return await asyncio.to_thread(_store, db, settings, photo_id, data)


async def fetch_photos() -> int:
    """Every 15 s: the photos waiting (a LINE client only when there are some)."""
    context = scheduler.context()
    if not await asyncio.to_thread(_to_fetch, context.db):
        return 0
    client = LineClient(context.settings)
    try:
        return await fetch_photos_now(db=context.db, settings=context.settings, client=client)
    finally:
        await client.close()


def purge(*, db: Database, settings: Settings) -> int:
    before = clock.now() - timedelta(days=settings.forms_retention_days)
    with db.session() as db_session:
        return forms_service.purge(db_session=db_session, before=before)


async def purge_cases() -> int:
    context = scheduler.context()
    return await asyncio.to_thread(purge, db=context.db, settings=context.settings)

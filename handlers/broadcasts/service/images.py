"""Images staff attach to a broadcast: checked and stored as LINE wants them.

LINE takes JPEG or PNG, at most 10 MB for the original and 1 MB for the preview, over HTTPS. An
upload is checked and re-encoded by bot/images.py and kept with a small JPEG preview.
"""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from bot import clock
from bot import images as checked_images
from bot.images import ImageRefused
from handlers.broadcasts.models import BroadcastImage

__all__ = ["MAX_UPLOAD_BYTES", "ImageRefused", "get", "store"]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # LINE's limit for an image message's original


def store(*, db_session: Session, data: bytes) -> BroadcastImage:
    """Checks an upload (bot/images.py) and stores it; answers the row (its token is the image's address)."""
    image = checked_images.check(data, max_bytes=MAX_UPLOAD_BYTES)
    row = BroadcastImage(
        token=secrets.token_urlsafe(24),
        content_type=image.media_type,
        data=image.data,
        preview=image.preview,
        width=image.width,
        height=image.height,
        created_at=clock.now(),
    )
    db_session.add(row)
    db_session.flush()
    return row


def get(*, db_session: Session, token: str) -> BroadcastImage | None:
    if not token or len(token) > 64:
        return None
    return db_session.get(BroadcastImage, token)

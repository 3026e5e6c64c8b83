"""Images staff attach to a broadcast: checked and stored as LINE wants them.

LINE takes JPEG or PNG, at most 10 MB for the original and 1 MB for the preview, over HTTPS. An
upload is opened with Pillow (so a file named .jpg that is not an image is refused), re-encoded
(which drops EXIF metadata such as where a photo was taken) and kept with a small JPEG preview.
"""

from __future__ import annotations

import io
import secrets

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from bot import clock
from handlers.broadcasts.models import BroadcastImage

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # LINE's limit for an image message's original
MAX_PREVIEW_BYTES = 1024 * 1024
MAX_PIXELS = 40_000_000  # refuses decompression bombs long before Pillow's own warning
PREVIEW_SIDE = 480
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


class ImageRefused(ValueError):
    """Why the upload cannot go to LINE (staff's words)."""


def store(*, db_session: Session, data: bytes) -> BroadcastImage:
    """Checks an upload and stores it; answers the row (its token is the image's address)."""
    if not data:
        raise ImageRefused("画像ファイルが空です")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRefused("画像が大きすぎます（10MBまで）")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format or ""
            width, height = probe.size
            if kind not in FORMATS:
                raise ImageRefused("JPEGかPNGの画像を選んでください")
            if width * height > MAX_PIXELS:
                raise ImageRefused("画像の画素数が多すぎます")
            probe.load()
            image = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ImageRefused("画像として読み込めませんでした。JPEGかPNGの画像を選んでください") from None
    original = _encode(image, kind)
    if len(original) > MAX_UPLOAD_BYTES:
        raise ImageRefused("画像が大きすぎます（10MBまで）")
    row = BroadcastImage(
        token=secrets.token_urlsafe(24),
        content_type=FORMATS[kind],
        data=original,
        preview=_preview(image),
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


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _preview(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    for quality in (80, 60, 40):
        out = io.BytesIO()
        small.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_PREVIEW_BYTES:
            return out.getvalue()
    return out.getvalue()

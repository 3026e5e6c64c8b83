"""Images from outside (a staff upload, a photo a citizen sent): checked and re-encoded with Pillow.

A file that is not a JPEG or PNG image is refused, however it is named; so is one too large or with
too many pixels (decompression bombs). Re-encoding drops EXIF metadata, such as where a photo was
taken, and turns the image upright; a small JPEG preview is made beside it (LINE's preview: ≤ 1 MB).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PREVIEW_BYTES = 1024 * 1024
MAX_PIXELS = 40_000_000
PREVIEW_SIDE = 480
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


class ImageRefused(ValueError):
    """Why the image cannot be kept (staff's words)."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    preview: bytes
    media_type: str
    width: int
    height: int


def check(data: bytes, *, max_bytes: int) -> CheckedImage:
    limit = f"{max_bytes // (1024 * 1024)}MB"
    if not data:
        raise ImageRefused("画像ファイルが空です")
    if len(data) > max_bytes:
        raise ImageRefused(f"画像が大きすぎます（{limit}まで）")
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
    if len(original) > max_bytes:
        raise ImageRefused(f"画像が大きすぎます（{limit}まで）")
    return CheckedImage(original, _preview(image), FORMATS[kind], image.width, image.height)


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

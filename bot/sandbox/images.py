"""Images: a generated PNG for a photo a citizen sends, and the size check of rich menu images."""

from __future__ import annotations

import io
import struct
import zlib


def tiny_png(width: int = 240, height: int = 240, rgb: tuple[int, int, int] = (6, 199, 85)) -> bytes:
    """A solid-colour PNG with a light diagonal stripe: stands in for a photo a citizen sent."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            stripe = abs(x - y) < 12
            rows.extend((255, 255, 255) if stripe else rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG; None for anything else or what cannot be read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                return None
            return image.size
    except (UnidentifiedImageError, OSError):
        return None

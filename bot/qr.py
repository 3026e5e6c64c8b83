"""QR tokens and their PNG images.

A token is 160 random bits in RFC 4648 base32 (32 characters of A–Z and 2–7): QR's alphanumeric
mode stores it compactly, and a USB keyboard-wedge scanner types it the same on a JIS or a US
keyboard layout (no symbols, and we ignore case). It is the citizen's secret, not an id: the
database keeps its SHA-256 digest to look it up.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M

TOKEN_BYTES = 20
TOKEN_PATTERN = re.compile(r"^[A-Z2-7]{32}$")
# LINE: the original is shown when tapped (≤ 10 MB), the preview in the chat (≤ 1 MB).
SIZES = {"original": 1024, "preview": 240}


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")


def normalise_token(raw: str) -> str | None:
    """What a scanner or a person typed, as a token; None if it cannot be one."""
    cleaned = re.sub(r"[\s\-_]", "", raw or "").upper()
    # A full-width entry (an IME left on) is folded to ASCII first.
    cleaned = cleaned.translate({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})
    return cleaned if TOKEN_PATTERN.fullmatch(cleaned) else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def png(token: str, size: str = "original") -> bytes:
    """The QR code for `token` as a square PNG of SIZES[size] pixels (cached: a token's image never changes)."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}")
    return _png(token, SIZES[size])


@lru_cache(maxsize=512)
def _png(token: str, pixels: int) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, box_size=1)
    code.add_data(token)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    # Whole pixels per module keep the edges sharp for camera scanners; the rest is white margin.
    modules = image.size[0]
    scale = max(1, pixels // modules)
    from PIL import Image

    scaled = image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    canvas = Image.new("L", (pixels, pixels), 255)
    offset = (pixels - scaled.size[0]) // 2
    canvas.paste(scaled, (offset, offset))
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def etag(token: str, size: str) -> str:
    return '"' + hashlib.sha256(f"{token}:{size}".encode()).hexdigest()[:32] + '"'

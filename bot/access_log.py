"""Keeps secrets out of the access log.

Public media URLs carry their secret in the path (`/media/qr/<token>.png`: whoever has the URL
has the booking), and uvicorn writes every request's path at INFO. This filter masks what follows
`/media/<kind>/` before the line is written. `madoguchi serve` and `demo` install it (bot/cli.py).
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
MASK = "***"
# /media/<kind>/<secret>[?query]: the secret (and whatever else the path holds) is masked; the query stays.
_MEDIA_PATH = re.compile(r"(/media/[^/?#\s\"]+/)[^?#\s\"]+")


def mask(text: str) -> str:
    return _MEDIA_PATH.sub(rf"\g<1>{MASK}", text) if "/media/" in text else text


class MaskMediaPaths(logging.Filter):
    """Masks media secrets in a record's message and arguments (uvicorn passes the path as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def install() -> None:
    """On uvicorn's access logger (once; uvicorn's own logging setup keeps a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, MaskMediaPaths) for f in logger.filters):
        logger.addFilter(MaskMediaPaths())

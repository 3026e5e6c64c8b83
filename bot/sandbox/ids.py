"""Identifiers the sandbox makes and checks (ULIDs, user and chat ids, request ids) and the times it stamps.

Times come from the one clock (`bot.clock`), so event timestamps and ids move when a test travels in time.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import uuid
from datetime import UTC, datetime

from bot import clock

USER_ID = re.compile(r"^U[0-9a-f]{32}$")
CHAT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_ulid_lock = threading.Lock()
_ulid_last = (0, 0)


def epoch_ms() -> int:
    """Event timestamps and ids follow the one clock, so a test that travels moves them too."""
    return int(clock.now().timestamp() * 1000)


def epoch_seconds() -> float:
    return clock.now().timestamp()


def iso_utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_ulid(now_ms: int | None = None) -> str:
    """A real ULID (48-bit ms time + 80 random bits, Crockford base32), as webhookEventId is.

    Monotonic within a millisecond (the ULID spec's variant), so ids sort in creation order.
    """
    global _ulid_last
    millis = epoch_ms() if now_ms is None else now_ms
    with _ulid_lock:
        last_ms, last_random = _ulid_last
        if millis <= last_ms and last_random < (1 << 80) - 1:
            millis, randomness = last_ms, last_random + 1
        else:
            randomness = int.from_bytes(os.urandom(10), "big")
        _ulid_last = (millis, randomness)
    value = (millis << 80) | randomness
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def new_request_id() -> str:
    return str(uuid.uuid4())

"""POST /callback: verify the signature on the raw body, store the events, answer 200. Nothing else.

Processing happens after the answer, from the inbox (bot.processor), so LINE never waits on us.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot import errors

log = logging.getLogger(__name__)

router = APIRouter()

MAX_BODY_BYTES = 1_000_000


def signature_is_valid(secret: str, body: bytes, signature: str | None) -> bool:
    """LINE's X-Line-Signature: Base64(HMAC-SHA256(channel secret, raw body)), compared in constant time."""
    if not signature or not secret:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode("ascii", "replace"))


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


@router.post("/callback", include_in_schema=False)
async def callback(request: Request) -> JSONResponse:
    state = request.app.state
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _refuse(413, "request body too large")
    # Starlette's headers are case-insensitive, as LINE asks.
    if not signature_is_valid(state.settings.line_channel_secret, body, request.headers.get("x-line-signature")):
        log.warning("webhook refused: bad or missing signature from %s", request.client.host if request.client else "?")
        return _refuse(400, "invalid signature")
    try:
        payload: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "body is not JSON")
    except RecursionError:
        # Signed, but nested deeper than any LINE event: bad input, not a server error.
        log.warning("webhook refused: JSON nested too deeply")
        return _refuse(400, "body is nested too deeply")
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        return _refuse(400, "body has no events list")
    raw_events = [e for e in events if isinstance(e, dict)]
    if raw_events:
        try:
            stored = await state.inbox_writer.store(raw_events)
        except Exception as exc:
            # Not stored: LINE must not think it was (it redelivers after an error answer).
            log.error("webhook events could not be stored: %s", errors.describe_with_stack(exc))
            return _refuse(503, "temporarily unavailable")
        if stored and state.processor is not None:
            state.processor.wake()
    return JSONResponse({})

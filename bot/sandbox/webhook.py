"""Delivering webhook events as LINE does: the JSON body, its X-Line-Signature, and the signed POST."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
from typing import Any

import certifi
import httpx

_ssl_context: ssl.SSLContext | None = None


def sign(channel_secret: str, body: bytes) -> str:
    """X-Line-Signature: Base64(HMAC-SHA256(channel secret, raw body))."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def encode(destination: str, events: list[dict[str, Any]]) -> bytes:
    payload = {"destination": destination, "events": events}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def post(url: str, body: bytes, signature: str, timeout_seconds: float) -> int:
    """POSTs a signed body to the bot's webhook URL; returns the HTTP status."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Line-Signature": signature,
        "User-Agent": "LineBotWebhook/2.0",
    }
    async with httpx.AsyncClient(timeout=timeout_seconds, verify=_webhook_ssl_context()) as client:
        response = await client.post(url, content=body, headers=headers)
    return response.status_code


def _webhook_ssl_context() -> ssl.SSLContext:
    """One shared context: building one per webhook costs ~70 ms (the CA bundle is re-read)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context(cafile=certifi.where())
    return _ssl_context

"""The fake LINE platform: state and rules, no HTTP server.

`SandboxPlatform` holds what LINE would hold for one channel — users and whether they follow the
account, reply tokens it issued in webhook events, what the bot sent, rich menus, retry keys — and
answers Messaging API calls as plain data (`ApiCall` in, `ApiResponse` out); `bot.sandbox.api` turns
those into HTTP. It also plays the citizen's side: it makes webhook events with every field LINE's
OpenAPI marks required, signs them and POSTs them to the bot.

Everything is in memory behind one lock: tests read deliveries from another thread than the server's.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import ssl
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx

from bot.sandbox import validation
from bot.sandbox.validation import Problems

AUTH_FAILED = "Authentication failed. Confirm that the access token in the authorization header is valid."
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_RICH_MENU_IMAGE_BYTES = 1024 * 1024
RETRY_KEY_TTL_SECONDS = 24 * 3600
RETRY_KEY_ENDPOINTS = frozenset({"push", "multicast", "narrowcast", "broadcast"})
SEND_ENDPOINTS = ("reply", "push", "multicast", "narrowcast", "broadcast")
# Names accepted by inject_fault / set_rate_limit: one per group of routes (see bot.sandbox.api).
ENDPOINTS = frozenset({*SEND_ENDPOINTS, "validate", "progress", "quota", "content", "profile", "loading",
                       "richmenu", "info", "followers"})
DEFAULT_FAULT_BODIES = {429: {"message": "Too many requests"}, 500: {"message": "Internal server error"}}
QUOTABLE_MESSAGE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_CHAT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# --- identifiers -------------------------------------------------------------------------------------
_ulid_lock = threading.Lock()
_ulid_last = (0, 0)


def new_ulid(now_ms: int | None = None) -> str:
    """A real ULID (48-bit ms time + 80 random bits, Crockford base32), as webhookEventId is.

    Monotonic within a millisecond (the ULID spec's variant), so ids sort in creation order.
    """
    global _ulid_last
    millis = int(time.time() * 1000) if now_ms is None else now_ms
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


_ssl_context: ssl.SSLContext | None = None


def _webhook_ssl_context() -> ssl.SSLContext:
    """One shared context: building one per webhook costs ~70 ms (the CA bundle is re-read)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context(cafile=certifi.where())
    return _ssl_context


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_utc(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + \
        chunk(b"IEND", b"")


# --- records -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Delivery:
    """One accepted send request. `to` lists the chats it was addressed to (reply: the token's chat;
    broadcast/narrowcast: the followers at the time); `blocked` is the subset that had not added or had
    blocked the account: LINE answers 200 for them too, but nobody sees the message."""

    seq: int
    endpoint: str
    to: list[str]
    messages: list[dict[str, Any]]
    request_id: str
    retry_key: str | None
    at: float
    blocked: list[str] = field(default_factory=list)
    notification_disabled: bool = False
    sent_message_ids: list[str] = field(default_factory=list)


@dataclass
class SandboxUser:
    user_id: str
    display_name: str
    picture_url: str | None = None
    status_message: str | None = None
    language: str = "ja"
    followed: bool = True
    blocked: bool = False  # unfollowed (blocked) the account; cleared by the next follow
    created_at: float = field(default_factory=time.time)

    def profile(self) -> dict[str, Any]:
        body: dict[str, Any] = {"userId": self.user_id, "displayName": self.display_name}
        if self.picture_url:
            body["pictureUrl"] = self.picture_url
        body["language"] = self.language
        if self.status_message:
            body["statusMessage"] = self.status_message
        return body

    def summary(self) -> dict[str, Any]:
        return {**self.profile(), "followed": self.followed, "blocked": self.blocked}


@dataclass
class _ReplyToken:
    chat_id: str
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class _RichMenu:
    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"richMenuId": self.rich_menu_id, **copy.deepcopy(self.body)}


@dataclass
class _AcceptedKey:
    request_id: str
    sent_messages: list[dict[str, Any]] | None
    accepted_at: float


@dataclass
class _TokenBucket:
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        capacity = max(1.0, self.rate)
        self.tokens = min(capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class _Fault:
    status: int
    body: dict[str, Any]
    remaining: int


# --- the API boundary (plain data; bot.sandbox.api maps it to HTTP) ----------------------------------
@dataclass
class ApiCall:
    endpoint: str  # the fault / rate-limit / retry-key group, one of ENDPOINTS
    authorization: str | None = None
    retry_key: str | None = None
    body: bytes = b""
    content_type: str | None = None
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    def json_object(self) -> dict[str, Any]:
        try:
            payload = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LineError(400, "The request body could not be parsed as JSON",
                            [{"message": str(exc), "property": ""}]) from exc
        if not isinstance(payload, dict):
            raise LineError(400, "The request body must be a JSON object")
        return payload


@dataclass
class ApiResponse:
    status: int
    json: Any = None
    content: bytes | None = None
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class LineError(Exception):
    """A refusal shaped like LINE's: `{"message", "details"?}` plus optional extra body fields."""

    def __init__(self, status: int, message: str, details: list[dict[str, str]] | None = None, *,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.extra = extra or {}
        self.headers = headers or {}

    @classmethod
    def from_problems(cls, problems: Problems) -> LineError:
        return cls(400, problems.summary(), problems.details)

    def response(self) -> ApiResponse:
        body: dict[str, Any] = {"message": self.message}
        if self.details:
            body["details"] = self.details
        body.update(self.extra)
        return ApiResponse(self.status, body, headers=dict(self.headers))


def _not_found() -> LineError:
    return LineError(404, "Not found")


Operation = Callable[[ApiCall, str], ApiResponse]


# --- the platform ------------------------------------------------------------------------------------
class SandboxPlatform:
    """One LINE channel, in memory. See the module docstring; the public methods are the test API."""

    def __init__(self, *, channel_secret: str, access_token: str, webhook_url: str,
                 allow_http_images: bool = True, reply_token_ttl_seconds: float = 60.0,
                 destination: str | None = None, webhook_timeout_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.webhook_url = webhook_url
        self.allow_http_images = allow_http_images
        self.reply_token_ttl_seconds = reply_token_ttl_seconds
        self.destination = destination or new_user_id()
        self.webhook_timeout_seconds = webhook_timeout_seconds
        self.default_group_id = "C" + secrets.token_hex(16)
        self._clock = clock
        self._lock = threading.RLock()
        self._seq = 0  # shared by deliveries and citizen timeline items; never reset, so pollers stay valid
        self._message_id = 500_000_000_000_000_000 + secrets.randbelow(10**15)
        self._clear()

    def _clear(self) -> None:
        self._users: dict[str, SandboxUser] = {}
        self._deliveries: list[Delivery] = []
        self._citizen_items: list[tuple[str, dict[str, Any]]] = []
        self._reply_tokens: dict[str, _ReplyToken] = {}
        self._rich_menus: dict[str, _RichMenu] = {}
        self._default_rich_menu: str | None = None
        self._user_rich_menus: dict[str, str] = {}
        self._contents: dict[str, tuple[bytes, str]] = {}
        self._accepted_keys: dict[str, _AcceptedKey] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._rate_limits: dict[str, _TokenBucket] = {}
        self._narrowcasts: dict[str, dict[str, Any]] = {}
        self._loading_until: dict[str, float] = {}
        self._total_usage = 0

    def reset(self) -> None:
        """Forgets users, deliveries, tokens, rich menus, content, keys, faults and rate limits."""
        with self._lock:
            self._clear()

    # --- users -----------------------------------------------------------------------------------
    def add_user(self, user_id: str, display_name: str, *, picture_url: str | None = None,
                 status_message: str | None = None, language: str = "ja", followed: bool = True) -> None:
        """Registers (or updates) a LINE user; by default one who has added the account as a friend."""
        if not _USER_ID.match(user_id):
            raise ValueError(f"not a LINE user id (U + 32 hex): {user_id!r}")
        with self._lock:
            self._users[user_id] = SandboxUser(user_id, display_name, picture_url, status_message, language,
                                               followed=followed)

    def user(self, user_id: str) -> SandboxUser | None:
        with self._lock:
            return self._users.get(user_id)

    def users(self) -> list[SandboxUser]:
        with self._lock:
            return list(self._users.values())

    def _ensure_user(self, user_id: str) -> SandboxUser:
        user = self._users.get(user_id)
        if user is None:
            # LINE knows everyone who can send an event; an unnamed test user gets a plain name.
            self.add_user(user_id, "テスト利用者")
            user = self._users[user_id]
        return user

    # --- what the bot sent -----------------------------------------------------------------------
    def deliveries(self, to: str | None = None, endpoint: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries
                    if (to is None or to in d.to) and (endpoint is None or d.endpoint == endpoint)]

    async def wait_for_deliveries(self, to: str, count: int = 1, timeout: float = 5.0,  # noqa: ASYNC109 - public API
                                  after_seq: int = 0) -> list[Delivery]:
        """Waits until `to` has at least `count` deliveries with seq > after_seq; returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.deliveries(to=to) if d.seq > after_seq]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(self._wait_failure(to, count, timeout, after_seq, found))
            await asyncio.sleep(0.02)

    def _wait_failure(self, to: str, count: int, timeout: float, after_seq: int, found: list[Delivery]) -> str:
        with self._lock:
            others = sorted({r for d in self._deliveries if d.seq > after_seq for r in d.to} - {to})
        texts = [_summarise(d) for d in found]
        return (f"expected {count} delivery(ies) to {to} after seq {after_seq} within {timeout}s, got {len(found)}"
                f": {texts}; other recipients since then: {others or 'none'}")

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _next_message_id(self) -> str:
        self._message_id += 1
        return str(self._message_id)

    def _record_delivery(self, endpoint: str, to: list[str], payload: dict[str, Any], request_id: str,
                         retry_key: str | None) -> tuple[Delivery, list[dict[str, Any]]]:
        messages = copy.deepcopy(payload["messages"])
        sent = [self._sent_message(m) for m in messages]
        blocked = [r for r in to if (u := self._users.get(r)) is not None and not u.followed]
        delivery = Delivery(
            seq=self._next_seq(), endpoint=endpoint, to=list(to), messages=messages, request_id=request_id,
            retry_key=retry_key, at=time.time(), blocked=blocked,
            notification_disabled=bool(payload.get("notificationDisabled", False)),
            sent_message_ids=[s["id"] for s in sent])
        self._deliveries.append(delivery)
        for recipient in to:
            self._loading_until.pop(recipient, None)
        if endpoint != "reply":
            # LINE counts one message per reached recipient per request, whatever the number of bubbles.
            self._total_usage += len(to) - len(blocked)
        return delivery, sent

    def _sent_message(self, message: dict[str, Any]) -> dict[str, Any]:
        sent: dict[str, Any] = {"id": self._next_message_id()}
        if message.get("type") in QUOTABLE_MESSAGE_TYPES:
            sent["quoteToken"] = secrets.token_urlsafe(48)
        return sent

    # --- faults and rate limits ------------------------------------------------------------------
    def inject_fault(self, endpoint: str, status: int, count: int = 1, body: dict[str, Any] | None = None) -> None:
        """The next `count` calls to `endpoint` answer `status` with `body` and record nothing."""
        _check_endpoint(endpoint)
        if not 400 <= status <= 599:
            raise ValueError("a fault status must be 4xx or 5xx")
        answer = body if body is not None else DEFAULT_FAULT_BODIES.get(status, {"message": f"Error {status}"})
        with self._lock:
            self._faults.setdefault(endpoint, []).append(_Fault(status, dict(answer), count))

    def set_rate_limit(self, endpoint: str, per_second: float | None) -> None:
        """A token bucket (burst: one second's worth) for `endpoint`; over it LINE answers 429."""
        _check_endpoint(endpoint)
        with self._lock:
            if per_second is None:
                self._rate_limits.pop(endpoint, None)
            else:
                self._rate_limits[endpoint] = _TokenBucket(per_second, max(1.0, per_second), self._clock())

    def _take_fault(self, endpoint: str) -> None:
        queue = self._faults.get(endpoint)
        if not queue:
            return
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        raise LineError(fault.status, str(fault.body.get("message", "")), extra=fault.body)

    def _take_rate_token(self, endpoint: str) -> None:
        bucket = self._rate_limits.get(endpoint)
        if bucket is not None and not bucket.take(self._clock()):
            raise LineError(429, "Too many requests")

    # --- the Messaging API -----------------------------------------------------------------------
    def handle_api(self, call: ApiCall, operation: Operation) -> ApiResponse:
        """Runs one API call the way LINE does: auth, faults, rate limit, size, retry key, then the
        operation; a retry key is remembered only when the operation succeeded."""
        request_id = new_request_id()
        with self._lock:
            try:
                self._authenticate(call.authorization)
                self._take_fault(call.endpoint)
                self._take_rate_token(call.endpoint)
                if len(call.body) > MAX_BODY_BYTES:
                    raise LineError(413, "Request Entity Too Large")
                retry_key = self._check_retry_key(call)
                response = operation(call, request_id)
                if retry_key is not None and response.status < 300:
                    sent = response.json.get("sentMessages") if isinstance(response.json, dict) else None
                    self._accepted_keys[retry_key.lower()] = _AcceptedKey(request_id, sent, self._clock())
            except LineError as error:
                response = error.response()
        response.headers["X-Line-Request-Id"] = request_id
        return response

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        # Bytes, not str: compare_digest raises TypeError on non-ASCII text, which would be a 500.
        presented = token.strip().encode("utf-8")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, self.access_token.encode("utf-8")):
            raise LineError(401, AUTH_FAILED)

    def _check_retry_key(self, call: ApiCall) -> str | None:
        key = call.retry_key
        if key is None:
            return None
        if call.endpoint not in RETRY_KEY_ENDPOINTS:
            raise LineError(400, "The X-Line-Retry-Key header cannot be used with this endpoint")
        if not _UUID.match(key):
            raise LineError(400, "The retry key must be a UUID",
                            [{"message": "must be a UUID", "property": "X-Line-Retry-Key"}])
        now = self._clock()
        self._accepted_keys = {k: v for k, v in self._accepted_keys.items()
                               if now - v.accepted_at < RETRY_KEY_TTL_SECONDS}
        accepted = self._accepted_keys.get(key.lower())
        if accepted is not None:
            extra = {"sentMessages": accepted.sent_messages} if accepted.sent_messages is not None else {}
            raise LineError(409, "The retry key is already accepted", extra=extra,
                            headers={"X-Line-Accepted-Request-Id": accepted.request_id})
        return key

    def _check_messages(self, payload: dict[str, Any]) -> None:
        problems = Problems(allow_http_images=self.allow_http_images)
        validation.check_messages(payload.get("messages"), problems)
        disabled = payload.get("notificationDisabled")
        if disabled is not None and not isinstance(disabled, bool):
            problems.add("notificationDisabled", "must be a boolean")
        if problems:
            raise LineError.from_problems(problems)

    def api_reply(self, call: ApiCall, request_id: str) -> ApiResponse:
        payload = call.json_object()
        self._check_messages(payload)
        token = self._reply_tokens.get(str(payload.get("replyToken")))
        if token is None or token.used or self._clock() - token.issued_at > self.reply_token_ttl_seconds:
            raise LineError(400, "Invalid reply token")
        token.used = True
        _, sent = self._record_delivery("reply", [token.chat_id], payload, request_id, None)
        return ApiResponse(200, {"sentMessages": sent})

    def api_push(self, call: ApiCall, request_id: str) -> ApiResponse:
        payload = call.json_object()
        to = payload.get("to")
        if not isinstance(to, str) or not _CHAT_ID.match(to):
            raise LineError(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
        self._check_messages(payload)
        _, sent = self._record_delivery("push", [to], payload, request_id, call.retry_key)
        return ApiResponse(200, {"sentMessages": sent})

    def api_multicast(self, call: ApiCall, request_id: str) -> ApiResponse:
        payload = call.json_object()
        to = payload.get("to")
        problems = Problems(allow_http_images=self.allow_http_images)
        if not isinstance(to, list) or not 1 <= len(to) <= 500:
            problems.add("to", "Size must be between 1 and 500")
        else:
            for index, user_id in enumerate(to):
                if not isinstance(user_id, str) or not _USER_ID.match(user_id):
                    problems.add(f"to[{index}]", "must be a user ID (U + 32 hex)")
        validation.check_messages(payload.get("messages"), problems)
        if problems:
            raise LineError.from_problems(problems)
        recipients = list(dict.fromkeys(to))  # LINE sends once per distinct user
        self._record_delivery("multicast", recipients, payload, request_id, call.retry_key)
        return ApiResponse(200, {})

    def api_narrowcast(self, call: ApiCall, request_id: str) -> ApiResponse:
        """Audiences and demographic filters mean nothing here: every follower is targeted, up to limit.max."""
        payload = call.json_object()
        self._check_messages(payload)
        recipients = self._followers()
        limit = payload.get("limit")
        if isinstance(limit, dict) and isinstance(limit.get("max"), int):
            recipients = recipients[: limit["max"]]
        delivery, _ = self._record_delivery("narrowcast", recipients, payload, request_id, call.retry_key)
        self._narrowcasts[request_id] = {
            "phase": "succeeded", "successCount": len(recipients), "failureCount": 0, "targetCount": len(recipients),
            "acceptedTime": _iso_utc(delivery.at), "completedTime": _iso_utc(delivery.at)}
        return ApiResponse(202, {})

    def api_broadcast(self, call: ApiCall, request_id: str) -> ApiResponse:
        payload = call.json_object()
        self._check_messages(payload)
        self._record_delivery("broadcast", self._followers(), payload, request_id, call.retry_key)
        return ApiResponse(200, {})

    def api_validate(self, call: ApiCall, request_id: str) -> ApiResponse:
        self._check_messages(call.json_object())
        return ApiResponse(200, {})

    def api_narrowcast_progress(self, call: ApiCall, request_id: str) -> ApiResponse:
        progress = self._narrowcasts.get(call.query.get("requestId", ""))
        if progress is None:
            raise _not_found()
        return ApiResponse(200, dict(progress))

    def api_quota(self, call: ApiCall, request_id: str) -> ApiResponse:
        return ApiResponse(200, {"type": "none"})

    def api_quota_consumption(self, call: ApiCall, request_id: str) -> ApiResponse:
        return ApiResponse(200, {"totalUsage": self._total_usage})

    def api_profile(self, call: ApiCall, request_id: str) -> ApiResponse:
        user = self._users.get(call.path["userId"])
        if user is None:
            raise _not_found()
        return ApiResponse(200, user.profile())

    def api_bot_info(self, call: ApiCall, request_id: str) -> ApiResponse:
        return ApiResponse(200, {"userId": self.destination, "basicId": "@000sandbox",
                                 "displayName": "LINE サンドボックス", "chatMode": "bot", "markAsReadMode": "auto"})

    def api_followers(self, call: ApiCall, request_id: str) -> ApiResponse:
        limit = int(call.query.get("limit") or 300)
        start = int(call.query.get("start") or 0)
        followers = self._followers()
        body: dict[str, Any] = {"userIds": followers[start:start + limit]}
        if start + limit < len(followers):
            body["next"] = str(start + limit)
        return ApiResponse(200, body)

    def api_loading(self, call: ApiCall, request_id: str) -> ApiResponse:
        payload = call.json_object()
        problems = Problems()
        chat_id = payload.get("chatId")
        if not isinstance(chat_id, str) or not _USER_ID.match(chat_id):
            problems.add("chatId", "must be a user ID (U + 32 hex)")
        seconds = payload.get("loadingSeconds", 20)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5:
            problems.add("loadingSeconds", "must be 5, 10, 15, ... or 60")
        if problems:
            raise LineError.from_problems(problems)
        self._loading_until[chat_id] = self._clock() + seconds
        return ApiResponse(202, {})

    def api_message_content(self, call: ApiCall, request_id: str) -> ApiResponse:
        stored = self._contents.get(call.path["messageId"])
        if stored is None:
            raise _not_found()
        data, media_type = stored
        return ApiResponse(200, content=data, media_type=media_type)

    def _followers(self) -> list[str]:
        return [u.user_id for u in self._users.values() if u.followed]

    # --- rich menus (REF #rich-menu) -------------------------------------------------------------
    def _rich_menu(self, rich_menu_id: str) -> _RichMenu:
        menu = self._rich_menus.get(rich_menu_id)
        if menu is None:
            raise LineError(404, "Not found")
        return menu

    def api_create_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        payload = self._checked_rich_menu(call)
        rich_menu_id = "richmenu-" + secrets.token_hex(16)
        self._rich_menus[rich_menu_id] = _RichMenu(rich_menu_id, payload)
        return ApiResponse(200, {"richMenuId": rich_menu_id})

    def api_validate_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        self._checked_rich_menu(call)
        return ApiResponse(200, {})

    def _checked_rich_menu(self, call: ApiCall) -> dict[str, Any]:
        payload = call.json_object()
        problems = Problems()
        validation.check_rich_menu(payload, problems)
        if problems:
            raise LineError.from_problems(problems)
        return payload

    def api_get_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        return ApiResponse(200, self._rich_menu(call.path["richMenuId"]).as_json())

    def api_list_rich_menus(self, call: ApiCall, request_id: str) -> ApiResponse:
        return ApiResponse(200, {"richmenus": [m.as_json() for m in self._rich_menus.values()]})

    def api_delete_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        rich_menu_id = self._rich_menu(call.path["richMenuId"]).rich_menu_id
        del self._rich_menus[rich_menu_id]
        if self._default_rich_menu == rich_menu_id:
            self._default_rich_menu = None
        self._user_rich_menus = {u: m for u, m in self._user_rich_menus.items() if m != rich_menu_id}
        return ApiResponse(200, {})

    def api_upload_rich_menu_image(self, call: ApiCall, request_id: str) -> ApiResponse:
        menu = self._rich_menu(call.path["richMenuId"])
        media_type = (call.content_type or "").split(";")[0].strip().lower()
        if media_type not in ("image/png", "image/jpeg"):
            raise LineError(415, "Unsupported Media Type: the image must be image/png or image/jpeg")
        if len(call.body) > MAX_RICH_MENU_IMAGE_BYTES:
            raise LineError(413, "Request Entity Too Large: a rich menu image must be 1 MB or less")
        if menu.image is not None:
            raise LineError(400, "An image has already been uploaded to the richmenu")
        size = _image_size(call.body)
        expected = (menu.body["size"]["width"], menu.body["size"]["height"])
        if size is None:
            raise LineError(400, "The image could not be read as PNG or JPEG")
        if size != expected:
            raise LineError(400, f"The image size {size[0]}x{size[1]} does not match the rich menu size "
                                 f"{expected[0]}x{expected[1]}")
        menu.image, menu.image_type = bytes(call.body), media_type
        return ApiResponse(200, {})

    def api_download_rich_menu_image(self, call: ApiCall, request_id: str) -> ApiResponse:
        menu = self._rich_menu(call.path["richMenuId"])
        if menu.image is None:
            raise _not_found()
        return ApiResponse(200, content=menu.image, media_type=menu.image_type or "image/png")

    def _linkable_rich_menu(self, rich_menu_id: str) -> _RichMenu:
        menu = self._rich_menu(rich_menu_id)
        if menu.image is None:
            raise LineError(400, "must upload richmenu image before applying it to user")
        return menu

    def api_set_default_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        self._default_rich_menu = self._linkable_rich_menu(call.path["richMenuId"]).rich_menu_id
        return ApiResponse(200, {})

    def api_get_default_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        if self._default_rich_menu is None:
            raise LineError(404, "no default richmenu")
        return ApiResponse(200, {"richMenuId": self._default_rich_menu})

    def api_cancel_default_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        self._default_rich_menu = None
        return ApiResponse(200, {})

    def api_link_user_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        user_id = call.path["userId"]
        if not _USER_ID.match(user_id):
            raise LineError(400, "The user ID is invalid")
        self._user_rich_menus[user_id] = self._linkable_rich_menu(call.path["richMenuId"]).rich_menu_id
        return ApiResponse(200, {})

    def api_get_user_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        rich_menu_id = self._user_rich_menus.get(call.path["userId"])
        if rich_menu_id is None:
            raise LineError(404, "the user has no richmenu")
        return ApiResponse(200, {"richMenuId": rich_menu_id})

    def api_unlink_user_rich_menu(self, call: ApiCall, request_id: str) -> ApiResponse:
        self._user_rich_menus.pop(call.path["userId"], None)
        return ApiResponse(200, {})

    def rich_menu_for(self, user_id: str | None = None) -> dict[str, Any] | None:
        """The menu a user sees (their own link, else the default), with its image; None if none."""
        with self._lock:
            rich_menu_id = (self._user_rich_menus.get(user_id) if user_id else None) or self._default_rich_menu
            menu = self._rich_menus.get(rich_menu_id) if rich_menu_id else None
            return menu.as_json() if menu is not None and menu.image is not None else None

    def rich_menu_image(self, rich_menu_id: str | None = None) -> tuple[bytes, str] | None:
        """The image of a menu (default: the default menu) as (bytes, media type)."""
        with self._lock:
            menu = self._rich_menus.get(rich_menu_id or self._default_rich_menu or "")
            if menu is None or menu.image is None:
                return None
            return menu.image, menu.image_type or "image/png"

    def rich_menus(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.as_json() for m in self._rich_menus.values()]

    @property
    def default_rich_menu_id(self) -> str | None:
        with self._lock:
            return self._default_rich_menu

    # --- webhook events (the citizen's side) -----------------------------------------------------
    def make_event(self, kind: str, user_id: str, **fields: Any) -> dict[str, Any]:
        """A complete webhook event as LINE would send it; see `_EVENT_BUILDERS` for the kinds.

        Common options: mode ("active"|"standby"), source_type ("user"|"group"|"room"), group_id /
        room_id, timestamp (ms), redelivery (bool). A reply token, when the kind has one and the mode is
        active, is registered as valid. follow/unfollow also change whether the user follows us.
        Unknown options raise TypeError, so a typo does not silently build the wrong event.
        """
        builder = _EVENT_BUILDERS.get(kind)
        if builder is None:
            raise ValueError(f"unknown event kind {kind!r}; one of {sorted(_EVENT_BUILDERS)}")
        mode = fields.pop("mode", "active")
        if mode not in ("active", "standby"):
            raise ValueError("mode must be 'active' or 'standby'")
        with self._lock:
            user = self._ensure_user(user_id)
            source = self._event_source(user_id, fields)
            event: dict[str, Any] = {
                "type": builder.event_type,
                "timestamp": int(fields.pop("timestamp", _now_ms())),
                "mode": mode,
                "webhookEventId": new_ulid(),
                "deliveryContext": {"isRedelivery": bool(fields.pop("redelivery", False))},
                "source": source,
            }
            try:
                event.update(builder.build(self, user, fields))
            except KeyError as missing:
                raise TypeError(f"a {kind!r} event needs {missing.args[0]}=") from None
            if fields:
                raise TypeError(f"unexpected field(s) for a {kind!r} event: {sorted(fields)}")
            if builder.has_reply_token and mode == "active":
                chat_id = source.get("groupId") or source.get("roomId") or user_id
                event["replyToken"] = self._issue_reply_token(chat_id, user_id)
            builder.apply(user)
            return event

    def _event_source(self, user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        source_type = fields.pop("source_type", "user")
        group_id = fields.pop("group_id", self.default_group_id)
        room_id = fields.pop("room_id", "R" + self.default_group_id[1:])
        if source_type == "user":
            return {"type": "user", "userId": user_id}
        if source_type == "group":
            return {"type": "group", "groupId": group_id, "userId": user_id}
        if source_type == "room":
            return {"type": "room", "roomId": room_id, "userId": user_id}
        raise ValueError("source_type must be 'user', 'group' or 'room'")

    def _issue_reply_token(self, chat_id: str, user_id: str) -> str:
        now = self._clock()
        if len(self._reply_tokens) > 10_000:  # long demo sessions: forget tokens that can no longer work
            self._reply_tokens = {t: r for t, r in self._reply_tokens.items()
                                  if not r.used and now - r.issued_at <= self.reply_token_ttl_seconds}
        token = secrets.token_hex(16)
        self._reply_tokens[token] = _ReplyToken(chat_id, user_id, now)
        return token

    def _message_content(self, kind: str, extra: dict[str, Any], *, quotable: bool = True) -> dict[str, Any]:
        message: dict[str, Any] = {"id": self._next_message_id(), "type": kind}
        if quotable:
            message["quoteToken"] = secrets.token_urlsafe(48)
        message.update(extra)
        return message

    def _store_generated_image(self, message_id: str) -> None:
        self._contents[message_id] = (tiny_png(), "image/png")

    def sign(self, body: bytes) -> str:
        """X-Line-Signature: Base64(HMAC-SHA256(channel secret, raw body))."""
        digest = hmac.new(self.channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def webhook_body(self, events: list[dict[str, Any]]) -> bytes:
        payload = {"destination": self.destination, "events": events}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def send_events(self, events: list[dict[str, Any]]) -> int:
        """POSTs the events, signed, to the webhook URL like LINE does; returns the HTTP status."""
        body = self.webhook_body(events)
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Line-Signature": self.sign(body),
                   "User-Agent": "LineBotWebhook/2.0"}
        async with httpx.AsyncClient(timeout=self.webhook_timeout_seconds, verify=_webhook_ssl_context()) as client:
            response = await client.post(self.webhook_url, content=body, headers=headers)
        return response.status_code

    # --- the chat page's citizens ----------------------------------------------------------------
    def create_citizen(self, display_name: str) -> SandboxUser:
        """A new person on the chat page: not a friend yet (the page sends the follow event)."""
        name = display_name.strip()
        if not name or len(name) > 20:
            raise ValueError("displayName must be 1 to 20 characters")
        user_id = new_user_id()
        self.add_user(user_id, name, followed=False)
        return self._users[user_id]

    async def citizen_event(self, user_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Makes the event the page asked for, shows it in the citizen's timeline, sends it for real.

        Raises KeyError for an unknown citizen and ValueError for a malformed request.
        """
        if self.user(user_id) is None:
            raise KeyError(user_id)
        kind, fields, shown = citizen_event_fields(request)
        event = self.make_event(kind, user_id, **fields)
        with self._lock:
            item = {"seq": self._next_seq(), "at": time.time(), "from": "citizen", "kind": kind, **shown,
                    "webhookEventId": event["webhookEventId"], "status": None}
            self._citizen_items.append((user_id, item))
        try:
            status = await self.send_events([event])
        except httpx.HTTPError as exc:
            with self._lock:
                item["status"], item["error"] = 0, f"{type(exc).__name__}: {exc}"
            return {"status": 0, "webhookEventId": event["webhookEventId"], "error": item["error"]}
        with self._lock:
            item["status"] = status
        return {"status": status, "webhookEventId": event["webhookEventId"]}

    def timeline(self, user_id: str, after: int = 0) -> dict[str, Any]:
        """What the citizen's chat shows after `after`: their own items and the bot's messages to them
        (not those sent while they had blocked us), in order, plus live state for the page."""
        with self._lock:
            user = self._users.get(user_id)
            if user is None:
                raise KeyError(user_id)
            items = [dict(i) for u, i in self._citizen_items if u == user_id and i["seq"] > after]
            items += [_bot_item(d) for d in self._deliveries
                      if d.seq > after and user_id in d.to and user_id not in d.blocked]
            items.sort(key=lambda i: i["seq"])
            menu = self.rich_menu_for(user_id)
            return {"items": items, "lastSeq": self._seq, "user": user.summary(),
                    "loading": self._loading_until.get(user_id, 0) > self._clock(),
                    "richMenuId": menu["richMenuId"] if menu else None}


# --- event kinds -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _EventBuilder:
    event_type: str
    has_reply_token: bool
    build: Callable[[SandboxPlatform, SandboxUser, dict[str, Any]], dict[str, Any]]
    apply: Callable[[SandboxUser], None] = lambda user: None


def _text_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    return {"message": platform._message_content("text", {"text": str(fields.pop("text"))})}


def _location_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for key in ("title", "address"):
        value = fields.pop(key, None)
        if value:
            extra[key] = str(value)
    extra["latitude"] = float(fields.pop("latitude"))
    extra["longitude"] = float(fields.pop("longitude"))
    return {"message": platform._message_content("location", extra, quotable=False)}


def _sticker_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    extra = {"packageId": str(fields.pop("package_id", "446")), "stickerId": str(fields.pop("sticker_id", "1988")),
             "stickerResourceType": "STATIC", "keywords": list(fields.pop("keywords", ["OK", "Good"]))}
    return {"message": platform._message_content("sticker", extra)}


def _image_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    message = platform._message_content("image", {"contentProvider": {"type": "line"}})
    platform._store_generated_image(message["id"])
    return {"message": message}


def _postback_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    postback: dict[str, Any] = {"data": str(fields.pop("data"))}
    params = fields.pop("params", None)
    if params:
        postback["params"] = {str(k): str(v) for k, v in params.items()}
    return {"postback": postback}


def _follow_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    return {"follow": {"isUnblocked": bool(fields.pop("is_unblocked", user.blocked))}}


def _no_body(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    return {}


def _start_following(user: SandboxUser) -> None:
    user.followed, user.blocked = True, False


def _block(user: SandboxUser) -> None:
    user.followed, user.blocked = False, True


_EVENT_BUILDERS: dict[str, _EventBuilder] = {
    "text": _EventBuilder("message", True, _text_event),
    "location": _EventBuilder("message", True, _location_event),
    "sticker": _EventBuilder("message", True, _sticker_event),
    "image": _EventBuilder("message", True, _image_event),
    "postback": _EventBuilder("postback", True, _postback_event),
    "follow": _EventBuilder("follow", True, _follow_event, _start_following),
    "unfollow": _EventBuilder("unfollow", False, _no_body, _block),
}


def citizen_event_fields(request: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Checks a chat-page request; returns (event kind, make_event fields, what the timeline shows)."""
    kind = request.get("kind")
    if kind == "text":
        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        if validation.utf16_length(text) > validation.MAX_TEXT_UTF16:
            raise ValueError("text must be 5000 UTF-16 code units or fewer")
        return "text", {"text": text}, {"text": text}
    if kind == "location":
        return _citizen_location(request)
    if kind == "postback":
        return _citizen_postback(request)
    if kind == "sticker":
        fields = {"package_id": str(request.get("packageId", "446")),
                  "sticker_id": str(request.get("stickerId", "1988"))}
        return "sticker", fields, {"packageId": fields["package_id"], "stickerId": fields["sticker_id"]}
    if kind in ("follow", "unfollow", "image"):
        return kind, {}, {}
    raise ValueError("kind must be one of text, location, postback, sticker, image, follow, unfollow")


def _citizen_location(request: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    try:
        latitude, longitude = float(request["latitude"]), float(request["longitude"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("latitude and longitude must be numbers") from exc
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("latitude/longitude out of range")
    fields: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for key in ("title", "address"):
        if request.get(key):
            fields[key] = str(request[key])[:100]
    return "location", fields, dict(fields)


def _citizen_postback(request: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    data = request.get("data")
    if not isinstance(data, str) or not 1 <= len(data) <= validation.MAX_POSTBACK_DATA:
        raise ValueError("data must be a string of 1 to 300 characters")
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("params must be an object")
    display_text = request.get("displayText")
    shown: dict[str, Any] = {"data": data, "params": params}
    if isinstance(display_text, str) and display_text:
        shown["displayText"] = display_text
    return "postback", {"data": data, "params": params}, shown


def _bot_item(delivery: Delivery) -> dict[str, Any]:
    return {"seq": delivery.seq, "at": delivery.at, "from": "bot", "endpoint": delivery.endpoint,
            "messages": copy.deepcopy(delivery.messages)}


def _summarise(delivery: Delivery) -> str:
    parts = [m.get("text") or m.get("altText") or m.get("type") for m in delivery.messages]
    return f"#{delivery.seq} {delivery.endpoint}: " + " | ".join(str(p)[:40] for p in parts)


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(ENDPOINTS)}")


def _image_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                return None
            return image.size
    except (UnidentifiedImageError, OSError):
        return None

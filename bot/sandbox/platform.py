"""The fake LINE platform: state and rules, no HTTP server.

`SandboxPlatform` holds what LINE would hold for one channel — users and whether they follow the
account, reply tokens it issued in webhook events, what the bot sent, rich menus, retry keys — and
answers Messaging API calls as plain data (`ApiCall` in, `ApiResponse` out); `bot.sandbox.api` turns
those into HTTP. It also plays the citizen's side: it makes webhook events with every field LINE's
OpenAPI marks required, signs them and POSTs them to the bot.

Everything is in memory behind one lock: tests read deliveries from another thread than the server's.
The state lives here; the rules live beside it, as functions of the platform:

- `ids`, `images`, `records`: identifiers and times, generated images, the records kept;
- `calls`: the plain-data API boundary (`ApiCall`, `ApiResponse`, `LineError`);
- `guard`: auth, injected faults, rate limits, body size and retry keys, checked before an operation;
- `messaging`, `richmenu`: the Messaging API operations, bound below as the `api_*` methods;
- `events`, `webhook`: building webhook events, and signing and sending them;
- `chat`: the chat page's citizens and their timeline.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.sandbox import chat, messaging, richmenu, webhook
from bot.sandbox.calls import MAX_BODY_BYTES, ApiCall, ApiResponse, LineError, Operation
from bot.sandbox.events import build_event
from bot.sandbox.guard import CallGuard
from bot.sandbox.ids import USER_ID, epoch_seconds, new_request_id, new_user_id
from bot.sandbox.records import Delivery, ReplyToken, SandboxUser

# A redelivered event's reply token is renewed only within this long after the event (LINE: 20 min).
REDELIVERY_TOKEN_LIMIT = 20 * 60

# Still importable from here, as before the split (each is defined in the module it is imported from).
__all__ = [
    "MAX_BODY_BYTES",
    "ApiCall",
    "ApiResponse",
    "Delivery",
    "LineError",
    "SandboxPlatform",
    "SandboxUser",
    "new_request_id",
]


class SandboxPlatform:
    """One LINE channel, in memory. See the module docstring; the public methods are the test API."""

    def __init__(
        self,
        *,
        channel_secret: str,
        access_token: str,
        webhook_url: str,
        allow_http_images: bool = True,
        reply_token_ttl_seconds: float = 60.0,
        destination: str | None = None,
        webhook_timeout_seconds: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.webhook_url = webhook_url
        self.allow_http_images = allow_http_images
        self.reply_token_ttl_seconds = reply_token_ttl_seconds
        self.destination = destination or new_user_id()
        self.webhook_timeout_seconds = webhook_timeout_seconds
        self.default_group_id = "C" + secrets.token_hex(16)
        # Reply-token life, retry keys, loading and rate limits: the one clock unless a test passes its own.
        self._clock = clock or epoch_seconds
        self._lock = threading.RLock()
        self._seq = 0  # shared by deliveries and citizen timeline items; never reset, so pollers stay valid
        self._message_id = 500_000_000_000_000_000 + secrets.randbelow(10**15)
        self._clear()

    def _clear(self) -> None:
        self._users: dict[str, SandboxUser] = {}
        self._deliveries: list[Delivery] = []
        self._citizen_items: list[tuple[str, dict[str, Any]]] = []
        self._reply_tokens: dict[str, ReplyToken] = {}
        self._rich_menus: dict[str, richmenu.RichMenu] = {}
        self._default_rich_menu: str | None = None
        self._user_rich_menus: dict[str, str] = {}
        self._contents: dict[str, tuple[bytes, str]] = {}
        self._guard = CallGuard(self._clock)  # faults, rate limits and accepted retry keys
        self._latency: dict[str | None, float] = {}  # per endpoint; None: every endpoint
        self._drops: dict[str, int] = {}  # successful calls whose connection is cut, per endpoint
        self._narrowcasts: dict[str, dict[str, Any]] = {}
        self._loading_until: dict[str, float] = {}
        self._total_usage = 0
        self._quota_limit: int | None = None  # messages a month; None: LINE's type "none"
        self._seen: set[tuple[int, str]] = set()  # (delivery seq, user id) the chat page has shown

    def reset(self) -> None:
        """Forgets users, deliveries, tokens, rich menus, content, keys, faults, rate limits, latency
        and cut connections."""
        with self._lock:
            self._clear()

    # --- users -----------------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        display_name: str,
        *,
        picture_url: str | None = None,
        status_message: str | None = None,
        language: str = "ja",
        followed: bool = True,
    ) -> None:
        """Registers (or updates) a LINE user; by default one who has added the account as a friend."""
        if not USER_ID.match(user_id):
            raise ValueError(f"not a LINE user id (U + 32 hex): {user_id!r}")
        with self._lock:
            self._users[user_id] = SandboxUser(
                user_id, display_name, picture_url, status_message, language, followed=followed
            )

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
            return [
                d
                for d in self._deliveries
                if (to is None or to in d.to) and (endpoint is None or d.endpoint == endpoint)
            ]

    async def wait_for_deliveries(
        self,
        to: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - public API
        after_seq: int = 0,
    ) -> list[Delivery]:
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
        return (
            f"expected {count} delivery(ies) to {to} after seq {after_seq} within {timeout}s, got {len(found)}"
            f": {texts}; other recipients since then: {others or 'none'}"
        )

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _next_message_id(self) -> str:
        self._message_id += 1
        return str(self._message_id)

    # --- faults, rate limits, latency and cut connections -----------------------------------------
    def inject_fault(
        self,
        endpoint: str,
        status: int,
        count: int = 1,
        body: dict[str, Any] | None = None,
        *,
        seconds: float | None = None,
    ) -> None:
        """The next `count` calls to `endpoint` (with `seconds`: every call for that long) answer `status`
        with `body` and record nothing. A 2xx status with a body is a malformed success: LINE answering
        200 with something the client does not expect (e.g. a profile without its fields)."""
        with self._lock:
            self._guard.inject_fault(endpoint, status, count, body, seconds)

    def inject_random_faults(self, endpoint: str, odds: dict[int, float], *, seed: int | None = 0) -> None:
        """Every call to `endpoint` fails with each status at its probability, e.g. {429: 0.10, 500: 0.01},
        and records nothing; the same seed fails the same calls. `{}` stops them."""
        with self._lock:
            self._guard.inject_random_faults(endpoint, odds, seed)

    def set_quota(self, limit: int | None) -> None:
        """This month's message limit (None: none, LINE's type "none"). A send that would pass it is
        refused with LINE's 429 "You have reached your monthly limit."."""
        with self._lock:
            self._quota_limit = limit

    def open_messages(self, user_id: str) -> None:
        """The citizen opens the chat: every message to them counts as seen (as the chat page's does)."""
        with self._lock:
            self._seen.update(
                (d.seq, user_id) for d in self._deliveries if user_id in d.to and user_id not in d.blocked
            )

    def set_latency(self, seconds: float, endpoint: str | None = None) -> None:
        """Every call (to `endpoint`, or to any endpoint) takes this long: half before LINE acts on it,
        half after, so a client that gives up or dies mid-call may leave it done or not done. Calls
        wait concurrently, as they would on LINE."""
        if seconds < 0:
            raise ValueError("latency cannot be negative")
        with self._lock:
            if endpoint is not None:
                self._guard.check_endpoint(endpoint)
            self._latency[endpoint] = seconds

    def latency(self, endpoint: str) -> float:
        with self._lock:
            return self._latency.get(endpoint, self._latency.get(None, 0.0))

    def drop_after_accepting(self, endpoint: str, count: int = 1) -> None:
        """The next `count` calls to `endpoint` that succeed are done (recorded, retry key accepted),
        then their connection is cut before the answer: the client cannot know it went through."""
        with self._lock:
            self._guard.check_endpoint(endpoint)
            self._drops[endpoint] = self._drops.get(endpoint, 0) + count

    def take_drop(self, endpoint: str) -> bool:
        """Whether this successful call's connection is to be cut (bot.sandbox.api asks)."""
        with self._lock:
            left = self._drops.get(endpoint, 0)
            if left <= 0:
                return False
            self._drops[endpoint] = left - 1
            return True

    def set_rate_limit(self, endpoint: str, per_second: float | None) -> None:
        """A token bucket (burst: one second's worth) for `endpoint`; over it LINE answers 429."""
        with self._lock:
            self._guard.set_rate_limit(endpoint, per_second)

    # --- the Messaging API -----------------------------------------------------------------------
    def handle_api(self, call: ApiCall, operation: Operation) -> ApiResponse:
        """Runs one API call the way LINE does: auth, faults, rate limit, size, retry key, then the
        operation; a retry key is remembered only when the operation succeeded."""
        request_id = new_request_id()
        with self._lock:
            response = self._guard.run(call, operation, request_id, self.access_token)
        response.headers["X-Line-Request-Id"] = request_id
        return response

    # The operations bot.sandbox.api routes to (LINE_ROUTES names them): functions of (platform, call,
    # request id), run by handle_api under the lock.
    api_reply = messaging.api_reply
    api_push = messaging.api_push
    api_multicast = messaging.api_multicast
    api_narrowcast = messaging.api_narrowcast
    api_broadcast = messaging.api_broadcast
    api_validate = messaging.api_validate
    api_narrowcast_progress = messaging.api_narrowcast_progress
    api_quota = messaging.api_quota
    api_quota_consumption = messaging.api_quota_consumption
    api_profile = messaging.api_profile
    api_bot_info = messaging.api_bot_info
    api_followers = messaging.api_followers
    api_loading = messaging.api_loading
    api_message_content = messaging.api_message_content
    api_insight_by_unit = messaging.api_insight_by_unit
    api_create_rich_menu = richmenu.api_create_rich_menu
    api_validate_rich_menu = richmenu.api_validate_rich_menu
    api_get_rich_menu = richmenu.api_get_rich_menu
    api_list_rich_menus = richmenu.api_list_rich_menus
    api_delete_rich_menu = richmenu.api_delete_rich_menu
    api_upload_rich_menu_image = richmenu.api_upload_rich_menu_image
    api_download_rich_menu_image = richmenu.api_download_rich_menu_image
    api_set_default_rich_menu = richmenu.api_set_default_rich_menu
    api_get_default_rich_menu = richmenu.api_get_default_rich_menu
    api_cancel_default_rich_menu = richmenu.api_cancel_default_rich_menu
    api_link_user_rich_menu = richmenu.api_link_user_rich_menu
    api_get_user_rich_menu = richmenu.api_get_user_rich_menu
    api_unlink_user_rich_menu = richmenu.api_unlink_user_rich_menu

    # --- rich menus ------------------------------------------------------------------------------
    def rich_menu_for(self, user_id: str | None = None) -> dict[str, Any] | None:
        """The menu a user sees (their own link, else the default), with its image; None if none."""
        return richmenu.menu_for(self, user_id)

    def rich_menu_image(self, rich_menu_id: str | None = None) -> tuple[bytes, str] | None:
        """The image of a menu (default: the default menu) as (bytes, media type)."""
        return richmenu.menu_image(self, rich_menu_id)

    def rich_menus(self) -> list[dict[str, Any]]:
        return richmenu.all_menus(self)

    @property
    def default_rich_menu_id(self) -> str | None:
        with self._lock:
            return self._default_rich_menu

    # --- webhook events (the citizen's side) -----------------------------------------------------
    def make_event(self, kind: str, user_id: str, **fields: Any) -> dict[str, Any]:
        """A complete webhook event as LINE would send it; see `bot.sandbox.events` for the kinds.

        Common options: mode ("active"|"standby"), source_type ("user"|"group"|"room"), group_id /
        room_id, timestamp (ms), redelivery (bool). A reply token, when the kind has one and the mode is
        active, is registered as valid. follow/unfollow also change whether the user follows us.
        Unknown options raise TypeError, so a typo does not silently build the wrong event.
        """
        return build_event(self, kind, user_id, fields)

    def sign(self, body: bytes) -> str:
        """X-Line-Signature: Base64(HMAC-SHA256(channel secret, raw body))."""
        return webhook.sign(self.channel_secret, body)

    def webhook_body(self, events: list[dict[str, Any]]) -> bytes:
        return webhook.encode(self.destination, events)

    def redeliver(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events as LINE sends them again after the bot failed to answer 200: the same
        webhookEventId, `isRedelivery` true, and a reply token that works for another minute from
        now, unless it was used or the event is 20 minutes old."""
        now = self._clock()
        again = copy.deepcopy(events)
        with self._lock:
            for event in again:
                event["deliveryContext"] = {"isRedelivery": True}
                token = self._reply_tokens.get(str(event.get("replyToken")))
                age = epoch_seconds() - event["timestamp"] / 1000  # event times follow the one clock
                if token is not None and not token.used and age < REDELIVERY_TOKEN_LIMIT:
                    token.issued_at = now
        return again

    async def send_events(self, events: list[dict[str, Any]]) -> int:
        """POSTs the events, signed, to the webhook URL like LINE does; returns the HTTP status."""
        body = self.webhook_body(events)
        return await webhook.post(self.webhook_url, body, self.sign(body), self.webhook_timeout_seconds)

    # --- the chat page's citizens ----------------------------------------------------------------
    def create_citizen(self, display_name: str) -> SandboxUser:
        """A new person on the chat page: not a friend yet (the page sends the follow event)."""
        return chat.create_citizen(self, display_name)

    async def citizen_event(self, user_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Makes the event the page asked for, shows it in the citizen's timeline, sends it for real.

        Raises KeyError for an unknown citizen and ValueError for a malformed request.
        """
        return await chat.citizen_event(self, user_id, request)

    def timeline(self, user_id: str, after: int = 0) -> dict[str, Any]:
        """What the citizen's chat shows after `after`: their own items and the bot's messages to them
        (not those sent while they had blocked us), in order, plus live state for the page."""
        return chat.timeline(self, user_id, after)


def _summarise(delivery: Delivery) -> str:
    parts = [m.get("text") or m.get("altText") or m.get("type") for m in delivery.messages]
    return f"#{delivery.seq} {delivery.endpoint}: " + " | ".join(str(p)[:40] for p in parts)

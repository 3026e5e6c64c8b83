"""The one way out to LINE: line-bot-sdk's async API with timeouts, classified errors and retries.

- push and multicast carry an X-Line-Retry-Key, so they are retried on 5xx, timeouts and
  "too many requests"; a 409 means LINE already accepted that key: success, not an error.
- reply has no retry key (LINE accepts a token once), so it is tried once here; the outbox
  decides what an ambiguous failure means.
- 4xx other than 409/429 is never retried. A 429 for the monthly quota is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
)
from linebot.v3.messaging.api_response import ApiResponse
from linebot.v3.messaging.exceptions import ApiException
from yarl import URL

from bot import errors
from bot.citizens import CitizenProfile
from bot.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

MONTHLY_LIMIT = "monthly limit"


class LineApiError(Exception):
    """LINE (or the network) refused a request. `retryable` says whether trying again can help."""

    def __init__(
        self,
        status: int | None,
        message: str,
        *,
        retryable: bool,
        request_id: str | None = None,
        accepted_request_id: str | None = None,
    ) -> None:
        super().__init__(f"LINE API {status or 'network'}: {message}")
        self.status = status
        self.message = message
        self.retryable = retryable
        self.request_id = request_id
        self.accepted_request_id = accepted_request_id

    @property
    def is_invalid_reply_token(self) -> bool:
        return self.status == 400 and "reply token" in self.message.lower()

    @property
    def is_already_accepted(self) -> bool:
        return self.status == 409


@dataclass
class SendResult:
    request_id: str | None
    status: int
    sent_message_ids: list[str] = field(default_factory=list)
    already_accepted: bool = False


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def classify(exc: BaseException) -> LineApiError:
    """Turns SDK and network exceptions into one error type with a retry verdict."""
    if isinstance(exc, LineApiError):
        return exc
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        message = str(exc.reason or "")
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message", message)
        retryable = status >= 500 or (status == 429 and MONTHLY_LIMIT not in message.lower())
        return LineApiError(
            status,
            message,
            retryable=retryable,
            request_id=_header(exc.headers, "X-Line-Request-Id"),
            accepted_request_id=_header(exc.headers, "X-Line-Accepted-Request-Id"),
        )
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | OSError):
        return LineApiError(None, f"{type(exc).__name__}: {exc}", retryable=True)
    raise exc


def _without_per_request_env_lookups(client: AsyncApiClient, base_url: str) -> AsyncApiClient:
    """The SDK's aiohttp session trusts the environment, so aiohttp looks for a proxy and reads
    ~/.netrc again on every request (a sixth of the worker's time under load). The proxy settings
    (HTTPS_PROXY, NO_PROXY) are read once here instead, and the session stops looking."""
    rest = client.rest_client
    if rest.proxy is None:
        with contextlib.suppress(LookupError):
            proxy, _auth = get_env_proxy_for_url(URL(base_url))
            rest.proxy = str(proxy)
    rest.pool_manager._trust_env = False  # aiohttp has no public setter; the session is the SDK's
    return client


class LineClient:
    """Create inside a running event loop (aiohttp needs one); call `close()` at shutdown."""

    def __init__(self, settings: Settings, *, retry_delays: Sequence[float] = (0.2, 0.8, 2.0)) -> None:
        self._settings = settings
        self._retry_delays = tuple(retry_delays)
        self._timeout = settings.line_timeout_seconds
        api_config = Configuration(host=settings.line_api_base_url, access_token=settings.line_channel_access_token)
        data_config = Configuration(
            host=settings.line_data_api_base_url, access_token=settings.line_channel_access_token
        )
        self._api_client = _without_per_request_env_lookups(AsyncApiClient(api_config), settings.line_api_base_url)
        self._data_client = _without_per_request_env_lookups(
            AsyncApiClient(data_config), settings.line_data_api_base_url
        )
        self.api = AsyncMessagingApi(self._api_client)
        self.blob_api = AsyncMessagingApiBlob(self._data_client)

    async def close(self) -> None:
        await self._api_client.close()
        await self._data_client.close()

    async def _with_retries(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        for attempt in range(len(self._retry_delays) + 1):
            try:
                return await call()
            except Exception as exc:  # classified below; anything unexpected re-raises there
                error = classify(exc)
                if error.is_already_accepted or not error.retryable or attempt == len(self._retry_delays):
                    raise error from exc
                delay = self._retry_delays[attempt] * (1 + random.random() / 2)
                if error.status == 429:
                    delay *= 2  # LINE sends no Retry-After; back off harder on rate limits
                log.warning("%s failed (%s); retrying in %.1fs", what, error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _post_messages(
        self, path: str, body: dict[str, Any], *, retry_key: str | None = None, response_type: str | None = None
    ) -> SendResult:
        """POSTs message JSON through the SDK's own ApiClient (its auth, headers and error types).

        Messages are built with the SDK's models and stored as the JSON those models produced; turning
        them back into models only to serialise them again would double the cost of every answer.
        """
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if retry_key is not None:
            headers["X-Line-Retry-Key"] = retry_key
        response = await self._api_client.call_api(
            path,
            "POST",
            {},
            [],
            headers,
            body=body,
            response_types_map={"200": response_type} if response_type else {},
            auth_settings=["Bearer"],
            _return_http_data_only=False,
            _preload_content=True,
            _request_timeout=self._timeout,
            _host=self._settings.line_api_base_url,
        )
        sent = getattr(response.data, "sent_messages", None) or []
        return SendResult(
            request_id=_header(response.headers, "X-Line-Request-Id"),
            status=response.status_code,
            sent_message_ids=[m.id for m in sent],
        )

    async def reply(
        self, reply_token: str, messages: Sequence[dict[str, Any]], *, notification_disabled: bool = False
    ) -> SendResult:
        body = {"replyToken": reply_token, "messages": list(messages), "notificationDisabled": notification_disabled}
        try:
            return await self._post_messages("/v2/bot/message/reply", body, response_type="ReplyMessageResponse")
        except Exception as exc:
            raise classify(exc) from exc

    async def push(
        self, to: str, messages: Sequence[dict[str, Any]], *, retry_key: str, notification_disabled: bool = False
    ) -> SendResult:
        body = {"to": to, "messages": list(messages), "notificationDisabled": notification_disabled}
        return await self._accepting_409(
            lambda: self._post_messages(
                "/v2/bot/message/push", body, retry_key=retry_key, response_type="PushMessageResponse"
            ),
            f"push to {to}",
        )

    async def multicast(
        self,
        to: Sequence[str],
        messages: Sequence[dict[str, Any]],
        *,
        retry_key: str,
        notification_disabled: bool = False,
        custom_aggregation_units: Sequence[str] | None = None,
        retry: bool = True,
    ) -> SendResult:
        """`retry=False`: one request; the caller schedules retries (the broadcast engine does, through
        the database, so that every try passes its rate cap)."""
        body: dict[str, Any] = {
            "to": list(to),
            "messages": list(messages),
            "notificationDisabled": notification_disabled,
        }
        if custom_aggregation_units:
            body["customAggregationUnits"] = list(custom_aggregation_units)
        return await self._accepting_409(
            lambda: self._post_messages("/v2/bot/message/multicast", body, retry_key=retry_key),
            f"multicast to {len(to)}",
            retry=retry,
        )

    async def _accepting_409(
        self, call: Callable[[], Awaitable[SendResult]], what: str, *, retry: bool = True
    ) -> SendResult:
        try:
            if retry:
                return await self._with_retries(call, what)
            try:
                return await call()
            except Exception as exc:
                raise classify(exc) from exc
        except LineApiError as error:
            if error.is_already_accepted:
                # An earlier try with this retry key reached LINE: the messages went out once.
                return SendResult(request_id=error.accepted_request_id, status=409, already_accepted=True)
            raise

    async def get_content(self, message_id: str) -> tuple[bytes, str]:
        """An image (or other content) a citizen sent, from LINE's data API: (bytes, media type).
        LINE keeps content for a limited time; raises LineApiError when it is gone or LINE fails."""
        # The SDK types the async API's calls as returning their result; they return an awaitable.
        response: ApiResponse = await self._with_retries(
            lambda: cast(
                Awaitable[ApiResponse],
                self.blob_api.get_message_content_with_http_info(
                    message_id, _request_timeout=self._timeout, _preload_content=True
                ),
            ),
            "get_message_content",
        )
        media_type = (response.headers or {}).get("Content-Type") or "application/octet-stream"
        return bytes(response.raw_data or b""), str(media_type).split(";")[0]

    async def get_profile(self, user_id: str) -> CitizenProfile | None:
        """The citizen's LINE profile, or None when LINE will not tell (blocked, unknown, down)."""
        try:
            profile = await self._with_retries(
                lambda: self.api.get_profile(user_id, _request_timeout=self._timeout), "get_profile"
            )
        except LineApiError as error:
            log.info("profile of %s unavailable: %s", user_id, error)
            return None
        except Exception as error:  # LINE answered, but not a profile (a body without its fields)
            log.warning("profile of %s unreadable: %s", user_id, errors.describe(error))
            return None
        return CitizenProfile(
            display_name=profile.display_name, picture_url=profile.picture_url, language=profile.language
        )

    async def _get_json(self, path: str, query: Sequence[tuple[str, str]] = ()) -> Any:
        """GETs a JSON resource through the SDK's ApiClient (its auth and error types), with retries."""

        async def call() -> Any:
            response = await self._api_client.call_api(
                path,
                "GET",
                {},
                list(query),
                {"Accept": "application/json"},
                response_types_map={},
                auth_settings=["Bearer"],
                _return_http_data_only=False,
                _preload_content=True,
                _request_timeout=self._timeout,
                _host=self._settings.line_api_base_url,
            )
            return json.loads(response.raw_data or b"{}")

        return await self._with_retries(call, f"GET {path}")

    async def message_quota(self) -> int | None:
        """This month's message limit; None when there is none (LINE's type "none")."""
        body = await self._get_json("/v2/bot/message/quota")
        return int(body["value"]) if body.get("type") == "limited" and "value" in body else None

    async def message_quota_consumption(self) -> int:
        """Messages counted against this month's limit so far."""
        body = await self._get_json("/v2/bot/message/quota/consumption")
        return int(body.get("totalUsage", 0))

    async def insight_by_aggregation_unit(self, unit: str, from_day: date, to_day: date) -> dict[str, Any] | None:
        """LINE's statistics for a customAggregationUnit between two days (yyyyMMdd, Tokyo), as LINE
        answers them; None when LINE has none or will not say (e.g. the unit is unknown)."""
        query = [
            ("customAggregationUnit", unit),
            ("from", from_day.strftime("%Y%m%d")),
            ("to", to_day.strftime("%Y%m%d")),
        ]
        try:
            body = await self._get_json("/v2/bot/insight/message/event/aggregation", query)
        except LineApiError as error:
            log.info("insight for %s unavailable: %s", unit, error)
            return None
        return body if isinstance(body, dict) else None

"""The Messaging API's message and channel operations: reply, push, multicast, narrowcast, broadcast,
validate, narrowcast progress, quota, profile, bot info, followers, loading animation and message content.

Each operation is a function of (platform, call, request id) that `SandboxPlatform` binds as its `api_*`
method; `SandboxPlatform.handle_api` runs it under the platform's lock after `CallGuard`'s checks.
"""

from __future__ import annotations

import copy
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.sandbox import validation
from bot.sandbox.calls import ApiCall, ApiResponse, LineError, not_found
from bot.sandbox.ids import CHAT_ID, USER_ID, epoch_seconds, iso_utc
from bot.sandbox.records import Delivery
from bot.sandbox.validation import Problems

if TYPE_CHECKING:
    from bot.sandbox.platform import SandboxPlatform

QUOTABLE_MESSAGE_TYPES = frozenset({"text", "textV2", "sticker", "image", "video"})
AGGREGATION_UNIT = re.compile(r"^[a-zA-Z0-9_]{1,30}$")
TOKYO = ZoneInfo("Asia/Tokyo")


# --- sending ------------------------------------------------------------------------------------------
def api_reply(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    payload = call.json_object()
    _check_messages(platform, payload)
    token = platform._reply_tokens.get(str(payload.get("replyToken")))
    if token is None or token.used or platform._clock() - token.issued_at > platform.reply_token_ttl_seconds:
        raise LineError(400, "Invalid reply token")
    token.used = True
    _, sent = _record_delivery(platform, "reply", [token.chat_id], payload, request_id, None)
    return ApiResponse(200, {"sentMessages": sent})


def api_push(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    payload = call.json_object()
    to = payload.get("to")
    if not isinstance(to, str) or not CHAT_ID.match(to):
        raise LineError(400, "The property, 'to', in the request body is invalid (line: -, column: -)")
    _check_messages(platform, payload)
    _check_aggregation_units(platform, payload)
    _, sent = _record_delivery(platform, "push", [to], payload, request_id, call.retry_key)
    return ApiResponse(200, {"sentMessages": sent})


def api_multicast(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    payload = call.json_object()
    to = payload.get("to")
    problems = Problems(allow_http_images=platform.allow_http_images)
    if not isinstance(to, list) or not 1 <= len(to) <= 500:
        problems.add("to", "Size must be between 1 and 500")
    else:
        for index, user_id in enumerate(to):
            if not isinstance(user_id, str) or not USER_ID.match(user_id):
                problems.add(f"to[{index}]", "must be a user ID (U + 32 hex)")
    validation.check_messages(payload.get("messages"), problems)
    if problems:
        raise LineError.from_problems(problems)
    _check_aggregation_units(platform, payload)
    assert isinstance(to, list)  # checked above
    recipients = list(dict.fromkeys(to))  # LINE sends once per distinct user
    _record_delivery(platform, "multicast", recipients, payload, request_id, call.retry_key)
    return ApiResponse(200, {})


def api_narrowcast(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    """Audiences and demographic filters mean nothing here: every follower is targeted, up to limit.max."""
    payload = call.json_object()
    _check_messages(platform, payload)
    recipients = _followers(platform)
    limit = payload.get("limit")
    if isinstance(limit, dict) and isinstance(limit.get("max"), int):
        recipients = recipients[: limit["max"]]
    delivery, _ = _record_delivery(platform, "narrowcast", recipients, payload, request_id, call.retry_key)
    platform._narrowcasts[request_id] = {
        "phase": "succeeded",
        "successCount": len(recipients),
        "failureCount": 0,
        "targetCount": len(recipients),
        "acceptedTime": iso_utc(delivery.at),
        "completedTime": iso_utc(delivery.at),
    }
    return ApiResponse(202, {})


def api_broadcast(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    payload = call.json_object()
    _check_messages(platform, payload)
    _record_delivery(platform, "broadcast", _followers(platform), payload, request_id, call.retry_key)
    return ApiResponse(200, {})


def api_validate(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    _check_messages(platform, call.json_object())
    return ApiResponse(200, {})


def _check_messages(platform: SandboxPlatform, payload: dict[str, Any]) -> None:
    problems = Problems(allow_http_images=platform.allow_http_images)
    validation.check_messages(payload.get("messages"), problems)
    disabled = payload.get("notificationDisabled")
    if disabled is not None and not isinstance(disabled, bool):
        problems.add("notificationDisabled", "must be a boolean")
    if problems:
        raise LineError.from_problems(problems)


def _check_aggregation_units(platform: SandboxPlatform, payload: dict[str, Any]) -> None:
    """customAggregationUnits (push, multicast): at most one name of 1..30 of [a-zA-Z0-9_]."""
    units = payload.get("customAggregationUnits")
    if units is None:
        return
    problems = Problems()
    if not isinstance(units, list) or len(units) > 1:
        problems.add("customAggregationUnits", "Size must be between 0 and 1")
    else:
        for index, unit in enumerate(units):
            if not isinstance(unit, str) or not AGGREGATION_UNIT.match(unit):
                problems.add(f"customAggregationUnits[{index}]", "must match ^[a-zA-Z0-9_]{1,30}$")
    if problems:
        raise LineError.from_problems(problems)


def _record_delivery(
    platform: SandboxPlatform,
    endpoint: str,
    to: list[str],
    payload: dict[str, Any],
    request_id: str,
    retry_key: str | None,
) -> tuple[Delivery, list[dict[str, Any]]]:
    blocked = [r for r in to if (u := platform._users.get(r)) is not None and not u.followed]
    limit = platform._quota_limit
    if endpoint != "reply" and limit is not None and platform._total_usage + len(to) - len(blocked) > limit:
        raise LineError(429, "You have reached your monthly limit.")
    messages = copy.deepcopy(payload["messages"])
    sent = [_sent_message(platform, m) for m in messages]
    units = payload.get("customAggregationUnits")
    delivery = Delivery(
        seq=platform._next_seq(),
        endpoint=endpoint,
        to=list(to),
        messages=messages,
        request_id=request_id,
        retry_key=retry_key,
        at=epoch_seconds(),
        blocked=blocked,
        notification_disabled=bool(payload.get("notificationDisabled", False)),
        sent_message_ids=[s["id"] for s in sent],
        aggregation_units=list(units) if isinstance(units, list) else [],
    )
    platform._deliveries.append(delivery)
    for recipient in to:
        platform._loading_until.pop(recipient, None)
    if endpoint != "reply":
        # LINE counts one message per reached recipient per request, whatever the number of bubbles.
        platform._total_usage += len(to) - len(blocked)
    return delivery, sent


def _sent_message(platform: SandboxPlatform, message: dict[str, Any]) -> dict[str, Any]:
    sent: dict[str, Any] = {"id": platform._next_message_id()}
    if message.get("type") in QUOTABLE_MESSAGE_TYPES:
        sent["quoteToken"] = secrets.token_urlsafe(48)
    return sent


# --- the rest of the channel --------------------------------------------------------------------------
def api_narrowcast_progress(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    progress = platform._narrowcasts.get(call.query.get("requestId", ""))
    if progress is None:
        raise not_found()
    return ApiResponse(200, dict(progress))


def api_quota(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    if platform._quota_limit is None:
        return ApiResponse(200, {"type": "none"})
    return ApiResponse(200, {"type": "limited", "value": platform._quota_limit})


def api_quota_consumption(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    return ApiResponse(200, {"totalUsage": platform._total_usage})


def api_profile(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    user = platform._users.get(call.path["userId"])
    if user is None:
        raise not_found()
    return ApiResponse(200, user.profile())


def api_bot_info(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    return ApiResponse(
        200,
        {
            "userId": platform.destination,
            "basicId": "@000sandbox",
            "displayName": "LINE サンドボックス",
            "chatMode": "bot",
            "markAsReadMode": "auto",
        },
    )


def api_followers(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    limit = int(call.query.get("limit") or 300)
    start = int(call.query.get("start") or 0)
    followers = _followers(platform)
    body: dict[str, Any] = {"userIds": followers[start : start + limit]}
    if start + limit < len(followers):
        body["next"] = str(start + limit)
    return ApiResponse(200, body)


def api_loading(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    payload = call.json_object()
    problems = Problems()
    chat_id = payload.get("chatId")
    if not isinstance(chat_id, str) or not USER_ID.match(chat_id):
        problems.add("chatId", "must be a user ID (U + 32 hex)")
    seconds = payload.get("loadingSeconds", 20)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 5 <= seconds <= 60 or seconds % 5:
        problems.add("loadingSeconds", "must be 5, 10, 15, ... or 60")
    if problems:
        raise LineError.from_problems(problems)
    assert isinstance(chat_id, str)  # checked above
    platform._loading_until[chat_id] = platform._clock() + seconds
    return ApiResponse(202, {})


def api_message_content(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    stored = platform._contents.get(call.path["messageId"])
    if stored is None:
        raise not_found()
    data, media_type = stored
    return ApiResponse(200, content=data, media_type=media_type)


def _followers(platform: SandboxPlatform) -> list[str]:
    return [u.user_id for u in platform._users.values() if u.followed]


def api_insight_by_unit(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    """Statistics per aggregation unit, honestly: sent to whom is known; "opened" is what the chat page
    showed (or `open_messages` said); clicks and media plays the sandbox cannot see, so they are null,
    as LINE leaves a figure it does not give."""
    unit = call.query.get("customAggregationUnit", "")
    problems = Problems()
    if not AGGREGATION_UNIT.match(unit):
        problems.add("customAggregationUnit", "must match ^[a-zA-Z0-9_]{1,30}$")
    days = {}
    for name in ("from", "to"):
        try:
            days[name] = datetime.strptime(call.query.get(name, ""), "%Y%m%d").replace(tzinfo=TOKYO).date()
        except ValueError:
            problems.add(name, "must be yyyyMMdd")
    if problems:
        raise LineError.from_problems(problems)
    deliveries = [
        d
        for d in platform._deliveries
        if unit in d.aggregation_units and days["from"] <= datetime.fromtimestamp(d.at, TOKYO).date() <= days["to"]
    ]
    reached = {(d.seq, r) for d in deliveries for r in d.to if r not in d.blocked}
    opened = {user for seq, user in reached if (seq, user) in platform._seen}
    bubbles = max((len(d.messages) for d in deliveries), default=0)
    messages = [
        {
            "seq": index + 1,
            "impression": sum(1 for pair in reached if pair in platform._seen),
            "uniqueImpression": len(opened),
            "mediaPlayed": None,
            "uniqueMediaPlayed": None,
        }
        for index in range(bubbles)
    ]
    overview = {
        "uniqueImpression": len(opened),
        "uniqueClick": None,
        "uniqueMediaPlayed": None,
        "uniqueMediaPlayed100Percent": None,
    }
    return ApiResponse(200, {"overview": overview, "messages": messages, "clicks": []})

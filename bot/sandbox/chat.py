"""The chat page's side: citizens, the events they send from the page, and their timeline.

A citizen's timeline interleaves their own items (kept here, numbered from the platform's delivery
sequence) with the bot's deliveries to them, so the page can poll with `after=<last seq>`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import httpx

from bot.sandbox import validation
from bot.sandbox.ids import epoch_seconds, new_user_id
from bot.sandbox.records import Delivery, SandboxUser

if TYPE_CHECKING:
    from bot.sandbox.platform import SandboxPlatform


def create_citizen(platform: SandboxPlatform, display_name: str) -> SandboxUser:
    name = display_name.strip()
    if not name or len(name) > 20:
        raise ValueError("名前は1〜20文字で入れてください")
    user_id = new_user_id()
    platform.add_user(user_id, name, followed=False)
    return platform._users[user_id]


async def citizen_event(platform: SandboxPlatform, user_id: str, request: dict[str, Any]) -> dict[str, Any]:
    if platform.user(user_id) is None:
        raise KeyError(user_id)
    kind, fields, shown = citizen_event_fields(request)
    event = platform.make_event(kind, user_id, **fields)
    with platform._lock:
        item = {
            "seq": platform._next_seq(),
            "at": epoch_seconds(),
            "from": "citizen",
            "kind": kind,
            **shown,
            "webhookEventId": event["webhookEventId"],
            "status": None,
        }
        platform._citizen_items.append((user_id, item))
    try:
        status = await platform.send_events([event])
    except httpx.HTTPError as exc:
        with platform._lock:
            item["status"], item["error"] = 0, f"{type(exc).__name__}: {exc}"
        return {"status": 0, "webhookEventId": event["webhookEventId"], "error": item["error"]}
    with platform._lock:
        item["status"] = status
    return {"status": status, "webhookEventId": event["webhookEventId"]}


def timeline(platform: SandboxPlatform, user_id: str, after: int) -> dict[str, Any]:
    with platform._lock:
        user = platform._users.get(user_id)
        if user is None:
            raise KeyError(user_id)
        items = [dict(i) for u, i in platform._citizen_items if u == user_id and i["seq"] > after]
        items += [
            _bot_item(d) for d in platform._deliveries if d.seq > after and user_id in d.to and user_id not in d.blocked
        ]
        items.sort(key=lambda i: i["seq"])
        # What the page shows is what the citizen saw: the insight endpoint counts it as opened.
        platform._seen.update((i["seq"], user_id) for i in items if i["from"] == "bot")
        menu = platform.rich_menu_for(user_id)
        return {
            "items": items,
            "lastSeq": platform._seq,
            "user": user.summary(),
            "loading": platform._loading_until.get(user_id, 0) > platform._clock(),
            "richMenuId": menu["richMenuId"] if menu else None,
        }


def citizen_event_fields(request: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Checks a chat-page request; returns (event kind, make_event fields, what the timeline shows)."""
    kind = request.get("kind")
    if kind == "text":
        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("メッセージを入れてください")
        if validation.utf16_length(text) > validation.MAX_TEXT_UTF16:
            raise ValueError("メッセージが長すぎます（LINEの上限は5000文字です）")
        return "text", {"text": text}, {"text": text}
    if kind == "location":
        return _citizen_location(request)
    if kind == "postback":
        return _citizen_postback(request)
    if kind == "sticker":
        fields = {
            "package_id": str(request.get("packageId", "446")),
            "sticker_id": str(request.get("stickerId", "1988")),
        }
        return "sticker", fields, {"packageId": fields["package_id"], "stickerId": fields["sticker_id"]}
    if kind in ("follow", "unfollow", "image"):
        return kind, {}, {}
    raise ValueError("送れない種類のイベントです")


def _citizen_location(request: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    try:
        latitude, longitude = float(request["latitude"]), float(request["longitude"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("緯度・経度は数字で入れてください") from exc
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("緯度は -90〜90、経度は -180〜180 の数字で入れてください")
    fields: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for key in ("title", "address"):
        if request.get(key):
            fields[key] = str(request[key])[:100]
    return "location", fields, dict(fields)


def _citizen_postback(request: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    data = request.get("data")
    if not isinstance(data, str) or not 1 <= len(data) <= validation.MAX_POSTBACK_DATA:
        raise ValueError("ボタンのデータが正しくありません（1〜300文字）")
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("ボタンのデータが正しくありません")
    display_text = request.get("displayText")
    shown: dict[str, Any] = {"data": data, "params": params}
    if isinstance(display_text, str) and display_text:
        shown["displayText"] = display_text
    return "postback", {"data": data, "params": params}, shown


def _bot_item(delivery: Delivery) -> dict[str, Any]:
    return {
        "seq": delivery.seq,
        "at": delivery.at,
        "from": "bot",
        "endpoint": delivery.endpoint,
        "messages": copy.deepcopy(delivery.messages),
    }

"""Webhook events as LINE makes them, with every field LINE's OpenAPI marks required.

`build_event` does `SandboxPlatform.make_event`'s work; `_EVENT_BUILDERS` lists the kinds it knows.
Building an event may change the platform: it issues reply tokens, stores a sent image's content and
follows or blocks the user.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.sandbox.ids import epoch_ms, new_ulid
from bot.sandbox.images import tiny_png
from bot.sandbox.records import ReplyToken, SandboxUser

if TYPE_CHECKING:
    from bot.sandbox.platform import SandboxPlatform


def build_event(platform: SandboxPlatform, kind: str, user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A complete webhook event; `fields` are `SandboxPlatform.make_event`'s options (consumed here)."""
    builder = _EVENT_BUILDERS.get(kind)
    if builder is None:
        raise ValueError(f"unknown event kind {kind!r}; one of {sorted(_EVENT_BUILDERS)}")
    mode = fields.pop("mode", "active")
    if mode not in ("active", "standby"):
        raise ValueError("mode must be 'active' or 'standby'")
    with platform._lock:
        user = platform._ensure_user(user_id)
        source = _event_source(platform, user_id, fields)
        event: dict[str, Any] = {
            "type": builder.event_type,
            "timestamp": int(fields.pop("timestamp", epoch_ms())),
            "mode": mode,
            "webhookEventId": new_ulid(),
            "deliveryContext": {"isRedelivery": bool(fields.pop("redelivery", False))},
            "source": source,
        }
        try:
            event.update(builder.build(platform, user, fields))
        except KeyError as missing:
            raise TypeError(f"a {kind!r} event needs {missing.args[0]}=") from None
        if fields:
            raise TypeError(f"unexpected field(s) for a {kind!r} event: {sorted(fields)}")
        if builder.has_reply_token and mode == "active":
            chat_id = source.get("groupId") or source.get("roomId") or user_id
            event["replyToken"] = _issue_reply_token(platform, chat_id, user_id)
        builder.apply(user)
        return event


def _event_source(platform: SandboxPlatform, user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    source_type = fields.pop("source_type", "user")
    group_id = fields.pop("group_id", platform.default_group_id)
    room_id = fields.pop("room_id", "R" + platform.default_group_id[1:])
    if source_type == "user":
        return {"type": "user", "userId": user_id}
    if source_type == "group":
        return {"type": "group", "groupId": group_id, "userId": user_id}
    if source_type == "room":
        return {"type": "room", "roomId": room_id, "userId": user_id}
    raise ValueError("source_type must be 'user', 'group' or 'room'")


def _issue_reply_token(platform: SandboxPlatform, chat_id: str, user_id: str) -> str:
    now = platform._clock()
    if len(platform._reply_tokens) > 10_000:  # long demo sessions: forget tokens that can no longer work
        platform._reply_tokens = {
            t: r
            for t, r in platform._reply_tokens.items()
            if not r.used and now - r.issued_at <= platform.reply_token_ttl_seconds
        }
    token = secrets.token_hex(16)
    platform._reply_tokens[token] = ReplyToken(chat_id, user_id, now)
    return token


def _message_content(
    platform: SandboxPlatform, kind: str, extra: dict[str, Any], *, quotable: bool = True
) -> dict[str, Any]:
    message: dict[str, Any] = {"id": platform._next_message_id(), "type": kind}
    if quotable:
        message["quoteToken"] = secrets.token_urlsafe(48)
    message.update(extra)
    return message


# --- event kinds ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _EventBuilder:
    event_type: str
    has_reply_token: bool
    build: Callable[[SandboxPlatform, SandboxUser, dict[str, Any]], dict[str, Any]]
    apply: Callable[[SandboxUser], None] = lambda user: None


def _text_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    return {"message": _message_content(platform, "text", {"text": str(fields.pop("text"))})}


def _location_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for key in ("title", "address"):
        value = fields.pop(key, None)
        if value:
            extra[key] = str(value)
    extra["latitude"] = float(fields.pop("latitude"))
    extra["longitude"] = float(fields.pop("longitude"))
    return {"message": _message_content(platform, "location", extra, quotable=False)}


def _sticker_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    extra = {
        "packageId": str(fields.pop("package_id", "446")),
        "stickerId": str(fields.pop("sticker_id", "1988")),
        "stickerResourceType": "STATIC",
        "keywords": list(fields.pop("keywords", ["OK", "Good"])),
    }
    return {"message": _message_content(platform, "sticker", extra)}


def _image_event(platform: SandboxPlatform, user: SandboxUser, fields: dict[str, Any]) -> dict[str, Any]:
    message = _message_content(platform, "image", {"contentProvider": {"type": "line"}})
    # What GET .../content answers: a tiny PNG, or the (bytes, media type) given as `content`.
    content = fields.pop("content", None) or (tiny_png(), "image/png")
    platform._contents[message["id"]] = (bytes(content[0]), str(content[1]))
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

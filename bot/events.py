"""A tolerant, typed view of one LINE webhook event (a plain dict from the request body).

We do not use the SDK's parser for incoming events: it turns valid-but-unexpected shapes into
`UnknownEvent` silently and raises on missing envelope fields. Here nothing raises: every
accessor answers None when a field is absent or of the wrong type.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from bot import clock

# Message kinds we recognise; anything else is treated as "other".
MESSAGE_KINDS = {"text", "image", "video", "audio", "file", "location", "sticker"}


def event_key(raw: dict[str, Any]) -> str:
    """The deduplication key: LINE's webhookEventId, or a content hash when it is missing."""
    event_id = raw.get("webhookEventId")
    if isinstance(event_id, str) and 0 < len(event_id) <= 64:
        return event_id
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return "sha256:" + digest[:56]


# LINE's ids are 33 characters (U/C/R + 32 hex); the inbox keeps up to 64.
MAX_ID_LENGTH = 64


def clean_json(value: Any) -> Any:
    """What both databases can store, with nothing of meaning lost: NUL characters removed, lone
    surrogates replaced by U+FFFD, NaN and infinities (which JSON does not have) as null."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    title: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Postback:
    data: str
    params: dict[str, str]

    @property
    def fields(self) -> dict[str, str]:
        """`action=verb&k=v` parsed; untrusted input: callers validate every value. Data with more
        than 20 fields is none of our buttons': it has no fields (and so no action)."""
        try:
            return dict(parse_qsl(self.data, keep_blank_values=True, max_num_fields=20))
        except ValueError:
            return {}

    @property
    def action(self) -> str | None:
        return self.fields.get("action")


@dataclass(frozen=True)
class Event:
    raw: dict[str, Any]

    @property
    def type(self) -> str:
        return _str(self.raw.get("type")) or "unknown"

    @property
    def mode(self) -> str:
        return _str(self.raw.get("mode")) or "active"

    @property
    def is_standby(self) -> bool:
        return self.mode == "standby"

    @property
    def is_redelivery(self) -> bool:
        return bool(_dict(self.raw.get("deliveryContext")).get("isRedelivery"))

    @property
    def timestamp(self) -> datetime:
        ts = self.raw.get("timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool) and 0 < ts < 10**14:
            return clock.from_millis(ts)
        return clock.now()

    @property
    def source(self) -> dict[str, Any]:
        return _dict(self.raw.get("source"))

    @property
    def source_type(self) -> str | None:
        return _str(self.source.get("type"))

    @property
    def user_id(self) -> str | None:
        return _str(self.source.get("userId"))

    @property
    def chat_id(self) -> str | None:
        """Where a push answer goes: the group or room for those sources, else the user."""
        kind = self.source_type
        if kind == "group":
            return _str(self.source.get("groupId"))
        if kind == "room":
            return _str(self.source.get("roomId"))
        return self.user_id

    def refusal(self, *, oldest: datetime | None = None) -> str | None:
        """Why this event cannot be taken as it is (None: it can). Ids longer than any of LINE's
        cannot be stored or answered; an event older than `oldest` is a replay of one whose
        record the retention purge has removed, and is not answered again."""
        for name, value in (("userId", self.user_id), ("chat id", self.chat_id)):
            if value is not None and len(value) > MAX_ID_LENGTH:
                return f"{name} longer than {MAX_ID_LENGTH} characters"
        if oldest is not None and self.timestamp < oldest:
            return "older than the message-log retention (a replay)"
        return None

    @property
    def is_one_to_one(self) -> bool:
        return self.source_type == "user" and self.user_id is not None

    @property
    def reply_token(self) -> str | None:
        return _str(self.raw.get("replyToken"))

    @property
    def message(self) -> dict[str, Any]:
        return _dict(self.raw.get("message"))

    @property
    def message_id(self) -> str | None:
        """The message's id on LINE (what its content, e.g. an image, is fetched by)."""
        return _str(self.message.get("id"))

    @property
    def message_kind(self) -> str | None:
        if self.type != "message":
            return None
        kind = _str(self.message.get("type"))
        return kind if kind in MESSAGE_KINDS else "other"

    @property
    def text(self) -> str | None:
        return _str(self.message.get("text")) if self.message_kind == "text" else None

    @property
    def location(self) -> Location | None:
        if self.message_kind != "location":
            return None
        lat, lon = self.message.get("latitude"), self.message.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        return Location(float(lat), float(lon), _str(self.message.get("title")), _str(self.message.get("address")))

    @property
    def postback(self) -> Postback | None:
        if self.type != "postback":
            return None
        body = _dict(self.raw.get("postback"))
        data = _str(body.get("data"))
        if data is None:
            return None
        params = {k: v for k, v in _dict(body.get("params")).items() if isinstance(v, str)}
        return Postback(data=data[:1000], params=params)

    @property
    def is_unblock(self) -> bool:
        """A follow event from a citizen who had blocked the account and now unblocked it."""
        return self.type == "follow" and bool(_dict(self.raw.get("follow")).get("isUnblocked"))

    @property
    def kind(self) -> str:
        """Routing key: `message.text`, `message.location`, `postback`, `follow`, ..."""
        if self.type == "message":
            return f"message.{self.message_kind}"
        return self.type

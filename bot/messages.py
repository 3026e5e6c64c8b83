"""Message builders: the one place LINE messages are made, with the SDK's models.

Flows call these and never build raw dicts. Builders keep LINE's limits (text length,
13 quick replies, 20-character labels, 300-character postback data) so nothing a flow
writes can be refused by LINE for its shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from linebot.v3.messaging import (
    DatetimePickerAction,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexCarousel,
    FlexComponent,
    FlexContainer,
    FlexMessage,
    FlexSeparator,
    FlexText,
    ImageMessage,
    LocationAction,
    LocationMessage,
    Message,
    MessageAction,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    TextMessage,
    URIAction,
)

from bot.catalog import t

MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_DATA = 300
MAX_ALT_TEXT = 400
MAX_CAROUSEL = 12
MAX_TITLE = 100


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Shortens to `limit` UTF-16 code units (LINE's measure), marking the cut with …."""
    if _utf16_len(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        size = _utf16_len(ch)
        if used + size > limit - 1:
            break
        out.append(ch)
        used += size
    return "".join(out) + "…"


# A Japanese phone number as written in our sentences and data: 0869-22-1111, 090-1234-5678,
# 0120-123-456, also with 全角 digits or hyphens, or 「ー」 typed for a hyphen.
_DIGIT = "[0-9０-９]"
_DASH = "[-‐‑‒–—―−ー－ｰ]"
_PHONE = re.compile(
    rf"(?<![0-9０-９])(?<!{_DIGIT}{_DASH})[0０]{_DIGIT}{{1,4}}{_DASH}{_DIGIT}{{1,4}}{_DASH}{_DIGIT}{{3,4}}(?!{_DIGIT}|{_DASH}{_DIGIT})"
)
WORD_JOINER = "\u2060"


def _joined(match: re.Match[str]) -> str:
    number = match.group()
    if not 10 <= sum(ch.isdigit() for ch in number) <= 11:
        return number
    out = [number[0]]
    for before, ch in pairwise(number):
        # Two ASCII digits never part (UAX #14 NU × NU); everything else here may, so WJ binds it.
        if not (before in "0123456789" and ch in "0123456789"):
            out.append(WORD_JOINER)
        out.append(ch)
    return "".join(out)


def keep_phone_numbers_together(text: str) -> str:
    """The text with U+2060 WORD JOINER around the hyphens of each phone number (and between 全角
    digits), so a chat bubble never breaks 「0869-22-」 from 「1111」: WJ forbids a line break on
    either side (UAX #14) and is invisible. Copying the number keeps the joiners, harmlessly."""
    if "0" not in text and "０" not in text:
        return text
    return _PHONE.sub(_joined, text)


def postback_data(action: str, **fields: Any) -> str:
    """`action=<verb>&k=v`; raises if LINE would refuse it (over 300 characters)."""
    data = urlencode({"action": action, **{k: str(v) for k, v in fields.items() if v is not None}})
    if len(data) > MAX_DATA:
        raise ValueError(f"postback data over {MAX_DATA} characters: {data[:60]}…")
    return data


# Quick-reply items ---------------------------------------------------------------------------


def postback_item(label: str, action: str, *, display: str | None = None, **fields: Any) -> QuickReplyItem:
    return QuickReplyItem(action=postback_action(label, action, display=display, **fields))


# Moving house, by direction (nlu.moving): the catalog's moving.* labels.
MOVING_WAYS = ("into", "out", "within")


def moving_items(ids: Mapping[str, str | None], action: str) -> list[QuickReplyItem] | None:
    """「来月引っ越す」 asked about: one button per direction, each posting `action` with its id
    (`ids`: direction -> the id of what answers it); None unless every direction has one."""
    found = [(way, ids.get(way)) for way in MOVING_WAYS]
    if any(i is None for _, i in found):
        return None
    return [postback_item(t(f"moving.{way}"), action, display=t(f"moving.{way}"), id=i) for way, i in found]


def message_item(label: str, text: str | None = None) -> QuickReplyItem:
    return QuickReplyItem(action=MessageAction(label=clip(label, MAX_LABEL), text=text or label))


def location_item(label: str = "位置情報を送る") -> QuickReplyItem:
    return QuickReplyItem(action=LocationAction(label=clip(label, MAX_LABEL)))


def date_picker_item(
    label: str,
    action: str,
    *,
    mode: str = "date",
    initial: date | datetime | str | None = None,
    min_value: date | datetime | str | None = None,
    max_value: date | datetime | str | None = None,
    **fields: Any,
) -> QuickReplyItem:
    return QuickReplyItem(
        action=date_picker_action(
            label, action, mode=mode, initial=initial, min_value=min_value, max_value=max_value, **fields
        )
    )


def intent_item(intent: str, label: str | None = None) -> QuickReplyItem:
    """A button that behaves exactly as if the citizen had asked for `intent` in words."""
    label = label or t(f"menu.{intent}")
    return postback_item(label, "intent", display=label, name=intent)


def postback_action(label: str, action: str, *, display: str | None = None, **fields: Any) -> PostbackAction:
    return PostbackAction(
        label=clip(label, MAX_LABEL),
        data=postback_data(action, **fields),
        displayText=clip(display, MAX_DATA) if display else None,
    )


def _picker_value(value: date | datetime | str | None, mode: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if mode == "date":
        return value.strftime("%Y-%m-%d")
    if mode == "time":
        return value.strftime("%H:%M")
    return value.strftime("%Y-%m-%dT%H:%M")


def date_picker_action(
    label: str,
    action: str,
    *,
    mode: str = "date",
    initial: Any = None,
    min_value: Any = None,
    max_value: Any = None,
    **fields: Any,
) -> DatetimePickerAction:
    return DatetimePickerAction(
        label=clip(label, MAX_LABEL),
        data=postback_data(action, **fields),
        mode=mode,
        initial=_picker_value(initial, mode),
        min=_picker_value(min_value, mode),
        max=_picker_value(max_value, mode),
    )


def quick_reply(items: Iterable[QuickReplyItem]) -> QuickReply | None:
    chosen = list(items)[:MAX_QUICK_REPLIES]
    return QuickReply(items=chosen) if chosen else None


MAIN_MENU = (
    "reservation_make",
    "reservation_check",
    "faq",
    "shelter_search",
    "class_info",
    "form_list",
    "subscribe",
    "handoff",
)


def main_menu_items() -> list[QuickReplyItem]:
    return [intent_item(intent) for intent in MAIN_MENU]


@cache
def _main_menu() -> tuple[QuickReply, dict[str, Any]]:
    """The main menu, built and serialised once: it rides under most answers, and the SDK's
    pydantic serialisation of seven buttons costs more than everything else in a simple answer."""
    menu = QuickReply(items=main_menu_items())
    return menu, menu.to_dict()


# Messages ------------------------------------------------------------------------------------


def text(body: str, quick_replies: Sequence[QuickReplyItem] | None = None) -> TextMessage:
    return TextMessage(text=clip(body.strip() or "…", MAX_TEXT), quickReply=quick_reply(quick_replies or []))


def menu_text(body: str) -> TextMessage:
    """Text with the main menu as quick replies: how every dead end ends."""
    return TextMessage(text=clip(body.strip() or "…", MAX_TEXT), quickReply=_main_menu()[0])


def image(original_url: str, preview_url: str | None = None) -> ImageMessage:
    return ImageMessage(original_content_url=original_url, preview_image_url=preview_url or original_url)


def location(title: str, address: str, latitude: float, longitude: float) -> LocationMessage:
    return LocationMessage(
        title=clip(title, MAX_TITLE), address=clip(address or title, MAX_TITLE), latitude=latitude, longitude=longitude
    )


def flex(alt_text: str, contents: FlexContainer, quick_replies: Sequence[QuickReplyItem] | None = None) -> FlexMessage:
    return FlexMessage(
        alt_text=clip(alt_text, MAX_ALT_TEXT), contents=contents, quickReply=quick_reply(quick_replies or [])
    )


def carousel(bubbles: Sequence[FlexBubble]) -> FlexCarousel:
    return FlexCarousel(contents=list(bubbles)[:MAX_CAROUSEL])


def card(
    title: str,
    rows: Sequence[tuple[str, str]] = (),
    *,
    note: str | None = None,
    buttons: Sequence[PostbackAction | URIAction | MessageAction | DatetimePickerAction] = (),
    hero: FlexComponent | None = None,
) -> FlexBubble:
    """A plain, large-print bubble: a title, label/value rows, an optional note and buttons."""
    body: list[FlexComponent] = [FlexText(text=title, weight="bold", size="lg", wrap=True)]
    if rows:
        body.append(FlexSeparator(margin="md"))
        for label, value in rows:
            body.append(
                FlexBox(
                    layout="baseline",
                    spacing="sm",
                    margin="md",
                    contents=[
                        FlexText(text=label, size="sm", color="#666666", flex=2, wrap=True),
                        FlexText(text=value or "—", size="md", flex=5, wrap=True),
                    ],
                )
            )
    if note:
        body.append(FlexText(text=note, size="sm", color="#666666", wrap=True, margin="lg"))
    footer = None
    if buttons:
        footer = FlexBox(
            layout="vertical",
            spacing="sm",
            contents=[
                FlexButton(action=b, style="primary" if i == 0 else "secondary", height="sm")
                for i, b in enumerate(buttons)
            ],
        )
    return FlexBubble(hero=hero, body=FlexBox(layout="vertical", contents=body), footer=footer)


def to_json(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The JSON LINE receives (camelCase), as stored in the outbox."""
    return [_message_json(m) for m in messages]


def _message_json(message: Message) -> dict[str, Any]:
    menu, menu_json = _main_menu()
    quick = getattr(message, "quick_reply", None)
    # pydantic copies the QuickReply into each message, but shallowly: the items list is the menu's own.
    if quick is None or quick.items is not menu.items:
        return _phone_numbers_kept_together(message.to_dict())
    message.quick_reply = None
    try:
        body = _phone_numbers_kept_together(message.to_dict())
    finally:
        message.quick_reply = quick
    body["quickReply"] = menu_json
    return body


# What a citizen reads in a bubble, by the type of the object holding it, and LINE's limit on it.
# Only these `text`s: an action's `text` (MessageAction) is what the citizen's tap sends back to us,
# and labels, postback data and URIs must stay exactly as built.
_READ_TEXT_LIMITS = {"text": MAX_TEXT, "textV2": MAX_TEXT, "span": MAX_TEXT, "buttons": 60, "confirm": 240}


def _phone_numbers_kept_together(node: Any) -> Any:
    """Phone numbers kept on one line in every text of a message's JSON (in place).

    Here rather than in `t()`: every message leaves through `to_json`, so this also covers numbers
    that come from data (FAQ answers, facility and office phones, what staff write in a broadcast or
    a reply), not only the catalog's {phone}. A text the joiners would take over LINE's limit is left
    as it was (`buttons` is held to 60, its limit with a title or an image)."""
    if isinstance(node, list):
        for item in node:
            _phone_numbers_kept_together(item)
    elif isinstance(node, dict):
        limit = _READ_TEXT_LIMITS.get(node.get("type", ""))
        text_value = node.get("text")
        if limit is not None and isinstance(text_value, str):
            joined = keep_phone_numbers_together(text_value)
            if _utf16_len(joined) <= limit:
                node["text"] = joined
        for key in ("contents", "header", "hero", "body", "footer", "template"):
            if key in node:
                _phone_numbers_kept_together(node[key])
    return node

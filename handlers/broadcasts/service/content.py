"""What a broadcast sends: its LINE messages, built once from what staff wrote, the same for the
preview, the test send and every recipient.

A plain text, or one of three Flex templates (お知らせ, 緊急, イベント) with the text as the body;
either may carry one image. LINE measures text in UTF-16 code units (an emoji outside the BMP
counts two): the limits here are LINE's, counted the way LINE counts them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from linebot.v3.messaging import FlexBox, FlexBubble, FlexImage, FlexSeparator, FlexText, Message

from bot import messages

MAX_TEXT = messages.MAX_TEXT  # a text message: 5,000 UTF-16 code units
MAX_FLEX_BODY = 2000  # a Flex text component: what stays readable on a phone


class Template(StrEnum):
    TEXT = "text"
    NOTICE = "notice"
    URGENT = "urgent"
    EVENT = "event"

    @property
    def label(self) -> str:
        return TEMPLATE_LABELS[self]


TEMPLATE_LABELS = {
    Template.TEXT: "テキストのみ",
    Template.NOTICE: "お知らせ",
    Template.URGENT: "緊急",
    Template.EVENT: "イベント",
}
# Header word and colour per template: 緊急 stands out in red; the others stay calm.
_HEADERS = {
    Template.NOTICE: ("お知らせ", "#1d5fa8"),
    Template.URGENT: ("【緊急】", "#c8102e"),
    Template.EVENT: ("イベントのご案内", "#2e7d32"),
}


def length(text: str) -> int:
    """The text's length as LINE counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def limit_for(template: Template) -> int:
    return MAX_TEXT if template == Template.TEXT else MAX_FLEX_BODY


def problem(text: str, template: Template) -> str | None:
    """Why LINE would refuse the text (staff's words), or None."""
    if not text.strip():
        return "本文を入力してください"
    limit = limit_for(template)
    if length(text) > limit:
        return f"本文が長すぎます（{length(text):,}文字／上限{limit:,}文字。絵文字は2文字と数えます）"
    return None


def build(
    *, template: Template, title: str, text: str, image_url: str | None = None, preview_url: str | None = None
) -> list[dict[str, Any]]:
    """The messages of one broadcast, as LINE's JSON (at most 2: text or card, and the image for
    plain text)."""
    built: list[Message] = []
    if template == Template.TEXT:
        built.append(messages.text(text))
        if image_url:
            built.append(messages.image(image_url, preview_url or image_url))
    else:
        built.append(messages.flex(_alt_text(template, title, text), _card(template, title, text, preview_url)))
    return messages.to_json(built)


def _alt_text(template: Template, title: str, text: str) -> str:
    header, _ = _HEADERS[template]
    # The notification line on the lock screen: header and title first, then the start of the text.
    return f"{header} {title}：{text}"


def _card(template: Template, title: str, text: str, image_url: str | None) -> FlexBubble:
    header, colour = _HEADERS[template]
    body = [
        FlexText(text=header, weight="bold", size="sm", color=colour),
        FlexText(text=title, weight="bold", size="xl", wrap=True, margin="sm"),
        FlexSeparator(margin="md"),
        FlexText(text=text, size="md", wrap=True, margin="md"),
    ]
    hero = None
    if image_url:
        hero = FlexImage(url=image_url, size="full", aspectRatio="20:13", aspectMode="cover")
    return FlexBubble(hero=hero, body=FlexBox(layout="vertical", contents=body))

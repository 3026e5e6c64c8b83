"""What a citizen sees of 配信設定: one large-print card listing each topic with its state and a button
that switches it, the district with a button to choose it, and 「すべて停止」 (after 友だち追加 also
「あとで」). Every sentence from the catalog (broadcast_settings.*).

A button carries the state it asks for (`on=1` / `on=0`), not "flip": a double tap, or a tap on an
old card, does what its label said.
"""

from __future__ import annotations

from collections.abc import Sequence

from linebot.v3.messaging import (
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexComponent,
    FlexSeparator,
    FlexText,
    Message,
    QuickReplyItem,
)

from bot.catalog import t
from bot.messages import flex, postback_action, postback_item
from bot.messages import text as text_message
from handlers.broadcasts.models import Topic

ON_COLOR = "#1B7F3B"
OFF_COLOR = "#888888"

# The postback actions of 配信設定 (handled in settings_flow.py's one table).
TOPIC = "bc_topic"  # key=<topic key>&on=1|0
ALL_OFF = "bc_all_off"
DISTRICT = "bc_district"  # asks the district
DISTRICT_SET = "bc_district_set"  # district=<name>
LATER = "bc_later"
DONE = "bc_done"
SHOW = "bc_show"


def _topic_row(topic: Topic, on: bool) -> FlexBox:
    state = t("broadcast_settings.state_on") if on else t("broadcast_settings.state_off")
    label = t("broadcast_settings.button_off") if on else t("broadcast_settings.button_on")
    action = postback_action(label, TOPIC, display=f"{topic.name}：{label}", key=topic.key, on=0 if on else 1)
    return FlexBox(
        layout="horizontal",
        spacing="sm",
        margin="md",
        contents=[
            FlexBox(
                layout="vertical",
                flex=5,
                contents=[
                    FlexText(text=topic.name, weight="bold", size="md", wrap=True),
                    FlexText(text=state, size="sm", color=ON_COLOR if on else OFF_COLOR, weight="bold"),
                ],
            ),
            FlexButton(action=action, style="secondary" if on else "primary", height="sm", flex=4, gravity="center"),
        ],
    )


def _district_row(district: str | None) -> FlexBox:
    label = t("broadcast_settings.button_district_change" if district else "broadcast_settings.button_district_pick")
    return FlexBox(
        layout="horizontal",
        spacing="sm",
        margin="lg",
        contents=[
            FlexBox(
                layout="vertical",
                flex=5,
                contents=[
                    FlexText(text=t("broadcast_settings.district_label"), size="sm", color="#666666"),
                    FlexText(text=district or t("broadcast_settings.district_none"), weight="bold", size="md"),
                ],
            ),
            FlexButton(
                action=postback_action(label, DISTRICT, display=t("broadcast_settings.district_label")),
                style="secondary",
                height="sm",
                flex=4,
                gravity="center",
            ),
        ],
    )


def state_summary(topics: Sequence[Topic], chosen: set[str]) -> str:
    """「防災：受け取る、子育て：停止中 …」: the card's state in words (its alt text, for notices)."""
    return "、".join(
        t(
            "broadcast_settings.alt_state",
            topic=topic.name,
            state=t("broadcast_settings.state_on" if topic.key in chosen else "broadcast_settings.state_off"),
        )
        for topic in topics
    )


def settings_card(
    topics: Sequence[Topic],
    chosen: set[str],
    district: str | None,
    *,
    note: str,
    first_time: bool = False,
) -> Message:
    """The toggles. `note` says what just changed (or what to do); `first_time` adds 「あとで」."""
    if not topics:
        return text_message(note + "\n" + t("broadcast_settings.no_topics"))
    body: list[FlexComponent] = [
        FlexText(text=t("broadcast_settings.title"), weight="bold", size="lg", wrap=True),
        FlexText(text=note, size="md", wrap=True, margin="md"),
        FlexSeparator(margin="lg"),
    ]
    body += [_topic_row(topic, topic.key in chosen) for topic in topics]
    body += [FlexSeparator(margin="lg"), _district_row(district)]
    body.append(FlexText(text=t("broadcast_settings.footnote"), size="xs", color="#666666", wrap=True, margin="lg"))
    footer: list[FlexComponent] = []
    if first_time:
        footer.append(
            FlexButton(
                action=postback_action(t("broadcast_settings.button_later"), LATER),
                style="primary",
                height="sm",
            )
        )
    footer.append(
        FlexButton(
            action=postback_action(t("broadcast_settings.button_all_off"), ALL_OFF),
            style="secondary",
            height="sm",
        )
    )
    bubble = FlexBubble(
        size="mega",
        body=FlexBox(layout="vertical", contents=body),
        footer=FlexBox(layout="vertical", spacing="sm", contents=footer),
    )
    where = t("broadcast_settings.alt_state", topic=t("broadcast_settings.district_label"), state=district or "—")
    alt = f"{note}\n{state_summary(topics, chosen)}\n{where}"
    return flex(alt, bubble, _quick(topics, chosen, first_time=first_time))


def _quick(topics: Sequence[Topic], chosen: set[str], *, first_time: bool) -> list[QuickReplyItem]:
    """One tap for what matters most: 「あとで」 and turning off what is on (the default topics)."""
    items: list[QuickReplyItem] = []
    if first_time:
        later = t("broadcast_settings.button_later")
        items.append(postback_item(later, LATER, display=later))
        for topic in topics:
            if topic.key in chosen:
                label = f"{topic.name}を{t('broadcast_settings.button_off')}"
                items.append(postback_item(label, TOPIC, display=label, key=topic.key, on=0))
    else:
        done = t("broadcast_settings.button_done")
        items.append(postback_item(done, DONE, display=done))
    return items


def district_question(districts: Sequence[str]) -> Message:
    items = [postback_item(d, DISTRICT_SET, display=d, district=d) for d in districts]
    return text_message(t("broadcast_settings.ask_district"), items)

"""Phone numbers stay on one line in a chat bubble (issue #17 item 9): word joiners around their
hyphens in every text a citizen reads, put in where messages become LINE's JSON."""

from __future__ import annotations

import pytest

from bot.catalog import t
from bot.messages import (
    MAX_TEXT,
    WORD_JOINER,
    card,
    carousel,
    flex,
    menu_text,
    message_item,
    postback_action,
    text,
    to_json,
)
from bot.messages import keep_phone_numbers_together as together

WJ = WORD_JOINER


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("0869-22-1111", f"0869{WJ}-{WJ}22{WJ}-{WJ}1111"),
        ("携帯 090-1234-5678 まで", f"携帯 090{WJ}-{WJ}1234{WJ}-{WJ}5678 まで"),
        ("（0120-123-456）", f"（0120{WJ}-{WJ}123{WJ}-{WJ}456）"),
        ("0869ー22ー1111", f"0869{WJ}ー{WJ}22{WJ}ー{WJ}1111"),
        ("福祉センター0869-22-1111", f"福祉センター0869{WJ}-{WJ}22{WJ}-{WJ}1111"),
        # 全角 digits may part from each other too (UAX #14 class ID): joined one by one.
        ("０８６９－２２－１１１１", WJ.join("０８６９－２２－１１１１")),
    ],
)
def test_the_hyphens_of_a_phone_number_are_joined(written: str, kept: str) -> None:
    assert together(written) == kept


@pytest.mark.parametrize(
    "other",
    ["瀬戸内市邑久町尾張300-1", "2026-12-09", "12-34-5678", "0869-22-11111", "1-0869-22-1111", "09012345678"],
)
def test_what_is_not_a_phone_number_is_left_alone(other: str) -> None:
    assert together(other) == other


def test_every_text_a_citizen_reads_keeps_the_number_together_and_nothing_else_changes() -> None:
    phone = "0869-22-1111"
    joined = f"0869{WJ}-{WJ}22{WJ}-{WJ}1111"
    bubble = card(
        f"窓口 {phone}",
        [("電話", phone)],
        note=f"お問い合わせ {phone}",
        buttons=[postback_action("電話番号を確認", "office", display=f"電話 {phone}", tel=phone)],
    )
    sent = to_json(
        [
            text(f"代表 {phone}", [message_item("電話番号", f"電話 {phone}")]),
            flex(f"窓口 {phone}", carousel([bubble])),
            menu_text(t("welcome.error")),
        ]
    )
    plain, card_message, with_menu = sent
    assert plain["text"] == f"代表 {joined}"
    # What a tap sends back, alt texts (notifications, not bubbles) and postback data stay as built.
    assert plain["quickReply"]["items"][0]["action"]["text"] == f"電話 {phone}"
    assert card_message["altText"] == f"窓口 {phone}"
    body = card_message["contents"]["contents"][0]["body"]["contents"]
    assert body[0]["text"] == f"窓口 {joined}"
    assert body[2]["contents"][1]["text"] == joined
    assert body[3]["text"] == f"お問い合わせ {joined}"
    action = card_message["contents"]["contents"][0]["footer"]["contents"][0]["action"]
    assert action["displayText"] == f"電話 {phone}"
    assert "tel=0869-22-1111" in action["data"]
    # The catalog's {phone} too, under the shared main menu, which stays untouched.
    assert with_menu["text"] == t("welcome.error").replace(phone, joined)
    assert WJ not in str(to_json([menu_text("メニュー")])[0]["quickReply"])


def test_a_text_the_joiners_would_take_over_lines_limit_is_sent_as_it_was() -> None:
    phone = "090-1234-5678"
    full = "あ" * (MAX_TEXT - len(phone)) + phone
    assert to_json([text(full)])[0]["text"] == full
    room = "あ" * (MAX_TEXT - len(phone) - 4) + phone
    assert to_json([text(room)])[0]["text"] == "あ" * (MAX_TEXT - len(phone) - 4) + f"090{WJ}-{WJ}1234{WJ}-{WJ}5678"

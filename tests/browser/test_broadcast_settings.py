"""配信設定 in a real browser: a new friend on the sandbox chat page gets the greeting and the card
(防災 on, said so), turns 防災 off with one tap on the card and asks for イベント in words; a
broadcaster sees it counted on 配信の分野, adds a topic and retires another, and the citizen's next
card follows (no restart)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot.catalog import t
from handlers.broadcasts.service import topics as topic_service
from tests.support import LiveApp

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


@pytest.fixture
def topics_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        topic_service.seed(db_session=db_session)
        create_user(
            db_session=db_session, name="haishin", role=StaffRole.BROADCASTER, password=PASSWORD, actor=Actor.system()
        )
    yield app


def bot_rows(chat: Any) -> Any:
    return chat.locator(".row-bot")


def wait_for_more(chat: Any, before: int) -> None:
    chat.wait_for_function("n => document.querySelectorAll('.row-bot').length > n", arg=before)


def test_a_citizen_chooses_on_the_card_and_staff_see_and_change_the_topics(page: Any, topics_app: LiveApp) -> None:
    app = topics_app
    chat = page
    chat.goto(f"{app.base_url}/sandbox")
    chat.click("#new-citizen-button")
    chat.fill("#new-citizen-name", "瀬戸内 花子")
    chat.click("#new-citizen-form button[type=submit]")
    notice = t("broadcast_settings.ask_default", topics="防災")
    card = bot_rows(chat).filter(has_text=notice).last
    card.wait_for()
    assert "瀬戸内 花子さん、友だち追加ありがとうございます。" in chat.locator(".row-bot").first.inner_text()
    assert chat.locator(".quick-replies .chip, #quick-replies .chip", has_text="あとで").first.is_visible()

    # One tap on the card's 防災 row: off, and the card again saying so.
    before = bot_rows(chat).count()
    card.locator(".flex-button", has_text=t("broadcast_settings.button_off")).first.click()
    wait_for_more(chat, before)
    bot_rows(chat).filter(has_text=t("broadcast_settings.turned_off", topics="防災")).last.wait_for()

    before = bot_rows(chat).count()
    chat.fill("#text-input", "イベントの案内もほしい")
    chat.press("#text-input", "Enter")
    wait_for_more(chat, before)
    bot_rows(chat).filter(has_text=t("broadcast_settings.turned_on", topics="イベント")).last.wait_for()

    # The broadcaster's page: the citizen counted under イベント, none under 防災.
    admin = chat.context.new_page()
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.goto(f"{app.base_url}/admin/broadcasts/topics")
    admin.get_by_label("ログイン名").fill("haishin")
    admin.get_by_label("パスワード").fill(PASSWORD)
    admin.get_by_role("button", name="ログイン").click()
    admin.wait_for_url(f"{app.base_url}/admin/broadcasts/topics")
    assert admin.locator("#topic-event .topic-count").inner_text() == "1人"
    assert admin.locator("#topic-bousai .topic-count").inner_text() == "0人"

    admin.get_by_role("link", name="分野を追加").click()
    admin.get_by_label("キー").fill("kankou")
    admin.get_by_label("名前").fill("観光")
    admin.get_by_label("言いかえ").fill("かんこう、観光地")
    admin.get_by_role("button", name="追加").click()
    admin.wait_for_url(f"{app.base_url}/admin/broadcasts/topics")
    assert admin.locator("#topic-kankou").is_visible()
    admin.locator("#topic-gomi").get_by_role("button", name="停止").click()
    admin.wait_for_url(f"{app.base_url}/admin/broadcasts/topics")
    assert admin.locator("#topic-gomi").get_by_text("停止中").is_visible()

    # The citizen's next card has 観光 and no ごみ.
    before = bot_rows(chat).count()
    chat.fill("#text-input", "配信設定")
    chat.press("#text-input", "Enter")
    wait_for_more(chat, before)
    latest = bot_rows(chat).filter(has_text=t("broadcast_settings.choose")).last
    latest.wait_for()
    text = latest.inner_text()
    assert "観光" in text and "ごみ" not in text

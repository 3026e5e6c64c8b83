"""申請・通報 on the LINE sandbox chat page in a real headless Chromium: a citizen reports a wild boar
with the camera chip, a place typed as a 大字, and sends the confirmation card (thumbnail drawn)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from handlers.forms import service as forms_service
from handlers.forms.models import Submission
from tests.browser.test_sandbox_chat import new_citizen
from tests.support import LiveApp

pytestmark = pytest.mark.browser


def bot_rows(page: Any) -> int:
    return int(page.locator(".row-bot").count())


def send(page: Any, text: str) -> None:
    before = bot_rows(page)
    page.fill("#text-input", text)
    page.press("#text-input", "Enter")
    page.wait_for_function("n => document.querySelectorAll('.row-bot').length > n", arg=before, timeout=10_000)


def chip(page: Any, label: str) -> None:
    before = bot_rows(page)
    page.locator("#quick-replies .chip", has_text=label).first.click()
    page.wait_for_function("n => document.querySelectorAll('.row-bot').length > n", arg=before, timeout=10_000)


def test_a_wildlife_report_from_the_chat_page_with_the_camera_chip(page: Any, app: LiveApp) -> None:
    with app.db.session() as db_session:
        forms_service.seed(db_session=db_session)
    new_citizen(page, app, "尻海 一郎")
    page.locator(".row-bot .bubble", has_text="友だち追加ありがとうございます").wait_for()
    send(page, "イノシシが畑に出た")
    page.locator(".row-bot .bubble", has_text="写真があれば送ってください").wait_for()
    chip(page, "カメラで撮る")  # the sandbox sends its sample photo
    chip(page, "これで完了")
    send(page, "尻海")
    chip(page, "今日")
    chip(page, "1頭")
    chip(page, "いいえ")
    chip(page, "答えない")
    card = page.locator(".row-bot", has_text="この内容で送信しますか").last
    card.wait_for()
    assert "邑久町尻海" in card.inner_text()
    # The thumbnail is the photo's preview, fetched from LINE by the bot when first loaded.
    thumbnail = card.locator("img").first
    thumbnail.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle(), timeout=10_000
    )
    before = bot_rows(page)
    card.get_by_role("button", name="送信する").click()
    page.wait_for_function("n => document.querySelectorAll('.row-bot').length > n", arg=before, timeout=10_000)
    page.locator(".row-bot .bubble", has_text="受付番号").wait_for()
    with app.db.session() as db_session:
        [case] = db_session.scalars(select(Submission)).all()
    assert case.receipt_no in page.locator(".row-bot .bubble", has_text="受付番号").last.inner_text()

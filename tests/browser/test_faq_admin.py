"""よくある質問 in a real browser: a citizen on the sandbox chat page asks what the FAQ cannot answer,
counter staff find it in 未回答 and turn it into an entry from the prefilled form, and the citizen who
asks again on the chat page gets that answer (no restart)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot.catalog import t
from handlers.faq import service as faq_service
from tests.support import LiveApp

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
QUESTION = "空き家バンクについて教えてください"


@pytest.fixture
def faq_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
        create_user(
            db_session=db_session, name="madoguchi", role=StaffRole.COUNTER, password=PASSWORD, actor=Actor.system()
        )
    yield app


def ask(chat: Any, text: str) -> Any:
    """Sends `text` from the chat page; answers the bot's newest bubble once it has answered."""
    before = chat.locator(".row-bot .bubble").count()
    chat.fill("#text-input", text)
    chat.press("#text-input", "Enter")
    chat.wait_for_function("n => document.querySelectorAll('.row-bot .bubble').length > n", arg=before)
    return chat.locator(".row-bot .bubble").last


def test_staff_turn_an_unanswered_question_into_an_entry_and_the_bot_answers_it(page: Any, faq_app: LiveApp) -> None:
    chat = page
    chat.goto(f"{faq_app.base_url}/sandbox")
    chat.click("#new-citizen-button")
    chat.fill("#new-citizen-name", "瀬戸内 花子")
    chat.click("#new-citizen-form button[type=submit]")
    chat.locator(".row-bot .bubble").first.wait_for()
    unknown = t("faq.unknown").splitlines()[0]
    assert unknown in ask(chat, QUESTION).inner_text()

    admin = chat.context.new_page()
    admin.goto(f"{faq_app.base_url}/admin/faq/unanswered")
    admin.get_by_label("ログイン名").fill("madoguchi")
    admin.get_by_label("パスワード").fill(PASSWORD)
    admin.get_by_role("button", name="ログイン").click()
    admin.wait_for_url(f"{faq_app.base_url}/admin/faq/unanswered")
    row = admin.locator("#unanswered tbody tr", has_text=QUESTION)
    assert row.locator(".question-count").inner_text() == "1回"
    row.get_by_role("link", name="対応する").click()
    admin.wait_for_url("**/admin/faq/unanswered/*")

    form = admin.locator("#new-entry")
    assert form.get_by_label("質問", exact=True).input_value() == QUESTION  # prefilled
    form.get_by_label("分類（例：住民票・戸籍）").fill("住まい")
    form.get_by_label("回答", exact=True).fill(
        "（サンプル）空き家バンクは、企画振興課が受け付けています。登録の申込書は窓口でお渡しします。"
    )
    form.get_by_label("公式ページのアドレス（あれば。回答の最後に表示します）").fill(
        "https://www.city.setouchi.lg.jp/sample/akiya"
    )
    form.get_by_role("button", name="新しい質問として登録").click()
    admin.wait_for_url(f"{faq_app.base_url}/admin/faq/unanswered")
    assert "対応済みにしました" in admin.locator(".flash-notice").inner_text()
    assert admin.locator("#unanswered tbody tr", has_text=QUESTION).count() == 0
    assert admin.locator("#count-open").inner_text().startswith("0")

    # The same question, on the chat page again: answered from the new entry, in short paragraphs.
    chat.bring_to_front()
    answer = ask(chat, QUESTION)
    answer.filter(has_text="企画振興課").wait_for()
    text = answer.inner_text()
    assert f"「{QUESTION}」についてのご案内です。" in text
    assert "https://www.city.setouchi.lg.jp/sample/akiya" in text
    assert text.index("企画振興課") < text.index("登録の申込書") < text.index("https://")
    assert chat.locator("#quick-replies .chip", has_text=t("faq.helpful_button")).count() == 1

"""End to end through the LINE sandbox and the staff pages (SQLite and PostgreSQL): a citizen asks
what the FAQ cannot answer, it appears in 未回答, counter staff turn it into an entry with the form
the page prefilled, and the same question is answered with that entry from the next message on, with
no restart."""

from __future__ import annotations

import html
import re

from admin.models import StaffRole
from bot.catalog import t
from handlers.faq import service as faq_service
from handlers.faq.flow import answer_text
from tests.admin.conftest import add_staff, page_csrf, sign_in
from tests.support import LiveApp, new_citizen, quick_replies, say

QUESTION = "空き家バンクについて教えてください"
ANSWER = "（サンプル）空き家バンクへの登録は、企画振興課で受け付けています。登録の申込書は窓口でお渡しします。"


def test_a_question_nobody_answered_becomes_an_entry_and_is_answered_next_time(faq_app: LiveApp) -> None:
    citizen = new_citizen(faq_app)
    assert say(faq_app, citizen, QUESTION)["text"] == t("faq.unknown")

    faq_app.app.state.admin_config.login_delay_seconds = 0
    add_staff(faq_app, "madoguchi", StaffRole.COUNTER)
    staff = sign_in(faq_app, "madoguchi")
    listing = staff.get("/admin/faq/unanswered").text
    assert html.escape(QUESTION) in listing
    [question_id] = re.findall(r'href="/admin/faq/unanswered/(\d+)"', listing)

    page = staff.get(f"/admin/faq/unanswered/{question_id}").text
    form = page.split('id="new-entry"', 1)[1].split("</form>", 1)[0]
    prefilled = re.search(r'name="question" type="text" value="([^"]*)"', form)
    assert prefilled and html.unescape(prefilled.group(1)) == QUESTION
    made = staff.post(
        f"/admin/faq/unanswered/{question_id}/new-entry",
        data={
            "csrf_token": page_csrf(staff.get("/admin/faq")),
            "entry_id": "akiya_bank",
            "category": "住まい",
            "question": html.unescape(prefilled.group(1)),
            "answer": ANSWER,
            "url": "https://www.city.setouchi.lg.jp/sample/akiya",
        },
    )
    assert made.status_code == 303
    assert "対応済みにしました" in staff.get(made.headers["location"]).text
    assert html.escape(QUESTION) not in staff.get("/admin/faq/unanswered").text

    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="akiya_bank")
        assert entry is not None
        expected = answer_text(entry)
    for who in (citizen, new_citizen(faq_app)):
        answer = say(faq_app, who, QUESTION)
        assert answer["text"] == expected
        assert "企画振興課で受け付けています。\n\n登録の申込書" in answer["text"]
        assert answer["text"].count("https://www.city.setouchi.lg.jp/sample/akiya") == 1
        assert [b["label"] for b in quick_replies(answer)] == [t("faq.helpful_button"), t("faq.not_helpful_button")]
    with faq_app.db.session() as db_session:
        assert faq_service.count_unanswered(db_session=db_session).open == 0
    staff.close()

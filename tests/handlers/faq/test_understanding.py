"""The FAQ side of what citizens met when the NLU misread them, end to end through the sandbox
(SQLite and PostgreSQL): a question about moving that does not say which move is asked about, and
questions about a service are answered instead of starting it."""

from __future__ import annotations

from bot.catalog import t
from tests.support import LiveApp, fields, new_citizen, quick_replies, say


def test_a_moving_question_without_a_direction_is_asked_which_move(faq_app: LiveApp) -> None:
    user = new_citizen(faq_app)
    asked = say(faq_app, user, "引っ越しの手続きってどうしたらいいですか")
    assert asked["text"] == t("faq.which_move")
    buttons = quick_replies(asked)
    assert [b["label"] for b in buttons[:3]] == [t("moving.into"), t("moving.out"), t("moving.within")]
    assert [fields(b).get("id") for b in buttons[:3]] == ["tennyu_todoke", "tenshutsu_todoke", "tenkyo_todoke"]
    # Saying the direction gets the answer at once.
    answer = say(faq_app, new_citizen(faq_app), "市内で引っ越したときの手続きを教えてください")
    assert answer["text"] != t("faq.which_move") and "転居" in answer["text"]


def test_questions_about_a_service_get_the_faq_answer(faq_app: LiveApp) -> None:
    cases = {
        "マイナンバーカードの受け取りに予約はいりますか？": "mynumber_receive",
        "粗大ごみは何曜日？": "sodai_gomi",
        "市役所は何時から開いとるん？": "office_hours",
    }
    for text, faq_id in cases.items():
        answer = say(faq_app, new_citizen(faq_app), text)
        ids = {fields(b).get("id") for b in quick_replies(answer)}
        assert faq_id in ids, (text, answer["text"])

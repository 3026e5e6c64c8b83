"""What citizens met when the NLU misread them, end to end through the sandbox (SQLite and
PostgreSQL): 「来月引っ越す」 is asked which move it is instead of assumed to be a move out, and
「すまほきょうしつ」 typed at the date question is not read as 「きょう」 (today)."""

from __future__ import annotations

from bot.catalog import t
from tests.support import LiveApp, button, message_text, new_citizen, quick_replies, say_all, tap_all


def test_a_move_that_does_not_say_which_is_asked_about(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    asked = say_all(app, user, "来月引っ越すんですけど")[-1]
    assert asked["text"] == t("reservations.ask_move")
    labels = [a["label"] for a in quick_replies(asked)]
    assert labels == [t("moving.into"), t("moving.out"), t("moving.within"), t("reservations.button_quit")]
    answer = tap_all(app, user, button(asked, t("moving.out"))["data"])
    assert "転出届" in message_text(answer[-1]) or "どちらの窓口" in message_text(answer[-1])

    # Saying which move goes straight to that procedure.
    other = new_citizen(app)
    answer = say_all(app, other, "東京から引っ越してきたので転入の予約をしたい")
    assert answer[-1]["text"] != t("reservations.ask_move")
    assert "どちらの窓口" in message_text(answer[-1]) or "転入届" in message_text(answer[-1])


def test_a_word_with_kyou_inside_is_not_today_at_the_date_question(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], "本庁")["data"])
    assert "日" in message_text(answer[-1])  # the date question
    replies = [message_text(m) for m in say_all(app, user, "すまほきょうしつ")]
    assert replies and not any("予約できません" in r or "11月24日" in r for r in replies), replies

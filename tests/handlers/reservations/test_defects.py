"""Defects a new citizen tripped on (issue 17), each pinned by the conversation that showed it
(SQLite and PostgreSQL): a cancelled booking that still looked booked; a form that took anything
as a name and refused with the wrong reason; a move date without a year; a day refused without
its reason; a staff cancellation that always blamed 市役所の都合. (The counter-data import and
the bot with no procedures: test_cli.py.)"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from bot import clock
from bot.catalog import t
from handlers.reservations import flows, forms
from handlers.reservations.models import ClosureCreate, Reservation, ReservationStatus
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from tests.handlers.reservations.test_flow import JUMINHYO_ANSWERS, reservations
from tests.handlers.reservations.test_reminders import book
from tests.support import (
    LiveApp,
    button,
    message_text,
    new_citizen,
    quick_replies,
    say_all,
    tap_all,
    texts,
    wait_until,
)


def confirmation_card(app: LiveApp, user: str, *, office: str = "本庁") -> dict[str, Any]:
    """住民票の写し, the first day and time with room, the form answered: the confirmation card."""
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], office)["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if message_text(answer[-1]).endswith("どちらがよろしいですか？"):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    for typed in [*JUMINHYO_ANSWERS, "1"]:
        answer = say_all(app, user, typed)
    assert message_text(answer[-1]) == t("reservations.confirm_alt")
    return answer[-1]


# 1. A cancelled booking can still look booked ------------------------------------------------


def test_a_cancelled_booking_shows_as_cancelled_and_a_qr_shown_again_is_not_booked_again(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    confirm = button(confirmation_card(app, user), "この内容で予約する")["data"]
    booked = tap_all(app, user, confirm)
    assert message_text(booked[0]).startswith(t("reservations.booked_title"))
    [reservation] = reservations(app)
    # 「QRコードを表示」 on a live booking: its card and QR code, not a second 「ご予約を承りました」.
    shown = tap_all(app, user, f"action=rsv_show&id={reservation.id}")
    assert [m["type"] for m in shown] == ["flex", "image"]
    assert t("reservations.booked_title") not in str(shown)
    assert str(shown[0]["contents"]).count(t("reservations.shown_title")) == 1
    # Cancelled (予約確認 → 取り消す → はい), then the same old card's 「QRコードを表示」.
    answer = tap_all(app, user, f"action=rsv_cancel&id={reservation.id}")
    answer = tap_all(app, user, button(answer[-1], "はい")["data"])
    assert message_text(answer[-1]) == t("reservations.cancelled")
    assert reservations(app)[0].status == ReservationStatus.CANCELLED
    shown = tap_all(app, user, f"action=rsv_show&id={reservation.id}")
    assert [m["type"] for m in shown] == ["text"]
    assert message_text(shown[0]).startswith("この予約は取り消し済みです。")
    assert "承りました" not in str(shown) and "/media/qr/" not in str(shown)
    # The old confirmation card's button finds the booking, cancelled: no card, no QR code.
    again = tap_all(app, user, confirm)
    assert [message_text(m) for m in again] == [message_text(shown[0])]


# 2. The application form accepts anything as a name -----------------------------------------


def to_the_form(app: LiveApp, user: str) -> dict[str, Any]:
    """住民票の写し at 本庁, the first day and time with room: its first question (お名前)."""
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], "本庁")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if message_text(answer[-1]).endswith("どちらがよろしいですか？"):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    assert "（1/6）" in message_text(answer[-1])
    return answer[-1]


def stored_answers(app: LiveApp, user: str) -> dict[str, str]:
    from bot import conversation
    from bot import personal_data as crypto

    with app.db.session() as db_session:
        open_conversation = conversation.get_active(db_session=db_session, chat_id=user)
        assert open_conversation is not None
        return crypto.decrypt_json((open_conversation.data or {}).get("answers"), app.settings)


def test_emoji_and_sentences_are_not_names_and_a_question_is_answered_not_stored(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    to_the_form(app, user)
    # Emoji only: refused as a name, nothing stored.
    answer = say_all(app, user, "😀😀")
    assert message_text(answer[-1]).startswith(t("reservations.fields.name.invalid"))
    assert "（1/6）" in message_text(answer[-1])
    # 持ち物 asked at the name question: answered (the procedure's documents), the question asked again.
    answer = say_all(app, user, "やっぱり予約の前に、持ち物を教えてください")
    lead = t(
        "reservations.form_documents",
        procedure="住民票の写し",
        documents="本人確認書類（運転免許証など）、手数料（1通300円）",
    )
    assert message_text(answer[-1]).startswith(lead) and "（1/6）" in message_text(answer[-1])
    assert stored_answers(app, user) == {}
    # Another question: not stored; continue, or leave the form to ask it.
    question = "駐車場はありますか？"
    answer = say_all(app, user, question)
    assert message_text(answer[-1]) == t("reservations.form_aside", label="お名前")
    leave = button(answer[-1], t("reservations.button_leave_to_ask"))
    assert leave["type"] == "message" and leave["text"] == question
    assert stored_answers(app, user) == {}
    answer = tap_all(app, user, button(answer[-1], t("reservations.button_resume"))["data"])
    assert "（1/6）" in message_text(answer[-1])
    # Asked again, the citizen leaves the form for it: the question goes where questions go.
    answer = say_all(app, user, question)
    assert message_text(answer[-1]) == t("reservations.form_aside", label="お名前")
    answer = say_all(app, user, leave["text"])
    assert "（1/6）" not in str(answer) and t("reservations.form_aside", label="お名前") not in str(answer)
    from bot import conversation

    with app.db.session() as db_session:
        open_conversation = conversation.get_active(db_session=db_session, chat_id=user)
        assert open_conversation is None or open_conversation.flow != "reservations"
    assert reservations(app) == []


def test_what_to_bring_asked_of_a_procedure_with_no_documents_offers_to_leave_the_form(rsv_app: LiveApp) -> None:
    app = rsv_app
    with app.db.session() as db_session:
        procedure = setup_service.get_procedure(db_session=db_session, procedure_id="juminhyo")
        assert procedure is not None
        procedure.documents = []
    user = new_citizen(app)
    to_the_form(app, user)
    answer = say_all(app, user, "持ち物を教えてください")
    assert message_text(answer[-1]) == t("reservations.form_aside", label="お名前")
    assert "—" not in message_text(answer[-1])


def test_a_too_long_answer_and_a_future_birth_date_are_refused_for_what_they_are(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    to_the_form(app, user)
    answer = say_all(app, user, "瀬戸内" * 167)  # 501 characters
    assert message_text(answer[-1]).startswith(t("reservations.answer_too_long", label="お名前", limit=40))
    assert "長すぎます" in message_text(answer[-1]) and "数字や記号" not in message_text(answer[-1])
    say_all(app, user, "瀬戸内 花子")
    answer = say_all(app, user, "せとうち はなこ")
    assert "（3/6）" in message_text(answer[-1])
    next_year = clock.now().astimezone(clock.TOKYO).year + 1
    for typed in (f"{next_year}年4月1日", f"令和{next_year - 2018}年4月1日"):
        answer = say_all(app, user, typed)
        assert message_text(answer[-1]).startswith(t("reservations.answer_future", label="生年月日"))
        assert "未来の日付です" in message_text(answer[-1]) and "わかりませんでした" not in message_text(answer[-1])
    tomorrow = (clock.now().astimezone(clock.TOKYO) + timedelta(days=1)).date().isoformat()
    answer = tap_all(app, user, "action=rsv_answer", params={"date": tomorrow})  # the date picker
    assert message_text(answer[-1]).startswith(t("reservations.answer_future", label="生年月日"))
    assert set(stored_answers(app, user)) == {"name", "furigana"}
    answer = say_all(app, user, "昭和25年4月1日")
    assert "（4/6）" in message_text(answer[-1])


def test_each_refusal_has_its_reason() -> None:
    today = date(2026, 12, 3)
    name, birth, move = forms.FIELDS["name"], forms.FIELDS["birth_date"], forms.FIELDS["move_date"]
    for typed, reason in (
        ("😀😀", forms.DOES_NOT_FIT),
        ("やっぱり予約の前に、持ち物を教えてください", forms.DOES_NOT_FIT),
        ("あ" * 41, forms.TOO_LONG),
        ("12345", forms.DOES_NOT_FIT),
    ):
        with pytest.raises(forms.InvalidAnswer) as refused:
            forms.clean(name, typed, today=today)
        assert refused.value.reason == reason, typed
        assert typed not in str(refused.value)  # the answer itself never rides along
    assert forms.clean(name, "ジョン・スミス", today=today) == "ジョン・スミス"
    assert forms.clean(name, "瀬戸内　花子", today=today) == "瀬戸内 花子"
    with pytest.raises(forms.InvalidAnswer) as refused:
        forms.clean(birth, "2026年12月4日", today=today)
    assert refused.value.reason == forms.FUTURE
    with pytest.raises(forms.InvalidAnswer) as refused:
        forms.clean(birth, "1899年12月31日", today=today)
    assert refused.value.reason == forms.OUT_OF_RANGE
    with pytest.raises(forms.InvalidAnswer) as refused:
        forms.clean(move, "2025年1月5日", today=today)
    assert (refused.value.reason, refused.value.last) == (forms.OUT_OF_RANGE, date(2027, 2, 1))
    with pytest.raises(forms.InvalidAnswer) as refused:
        forms.clean_all(["name", "birth_date"], {"name": "瀬戸内 花子", "birth_date": "2030-01-01"}, today=today)
    assert (refused.value.field, refused.value.reason) == ("birth_date", forms.FUTURE)
    assert forms.asks_something("何を持っていけばいいですか") and forms.asks_something("駐車場は？")
    assert not forms.asks_something("ますかわ はなこ") and not forms.asks_something("瀬戸内市邑久町尾張300-1")


# 3. 転入届's 引っ越しの日 without a year ------------------------------------------------------


def test_a_move_date_without_a_year_is_the_most_recent_one(rsv_app: LiveApp) -> None:
    app = rsv_app
    clock.travel_to(datetime(2026, 12, 3, 10, 0, tzinfo=clock.TOKYO))  # a Thursday: moved in on 11/28
    user = new_citizen(app)
    answer = say_all(app, user, "転入届の予約をしたい")
    answer = tap_all(app, user, button(answer[-1], "本庁")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if message_text(answer[-1]).endswith("どちらがよろしいですか？"):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    for typed in ("瀬戸内 花子", "せとうち はなこ", "昭和25年4月1日", "090-1234-5678"):
        answer = say_all(app, user, typed)
    answer = say_all(app, user, "岡山県岡山市北区大供1-1-1")
    answer = say_all(app, user, "瀬戸内市邑久町尾張300-1")
    assert "（7/7）" in message_text(answer[-1]) and "2026年" not in message_text(answer[-1])
    answer = say_all(app, user, "11月28日")
    assert message_text(answer[-1]) == t("reservations.confirm_alt")
    assert "2026年11月28日（令和8年）" in str(answer[-1]["contents"])
    assert stored_answers(app, user)["move_date"] == "2026-11-28"


@pytest.mark.parametrize(
    ("today", "typed", "stored"),
    [
        (date(2026, 12, 3), "11月28日", "2026-11-28"),
        (date(2026, 12, 3), "１１／２８", "2026-11-28"),
        (date(2026, 12, 3), "十一月二十八日です", "2026-11-28"),
        (date(2026, 12, 3), "28日", "2026-11-28"),
        (date(2026, 12, 3), "昨日", "2026-12-02"),
        (date(2027, 1, 5), "12月28日", "2026-12-28"),  # across the new year: last December
        (date(2026, 12, 3), "12月20日", "2026-12-20"),  # a planned move (転出): the coming one
        (date(2026, 12, 3), "1月10日", "2027-01-10"),
        (date(2026, 12, 3), "2026年11月28日", "2026-11-28"),
    ],
)
def test_move_dates_read_as_past_events(today: date, typed: str, stored: str) -> None:
    assert forms.clean(forms.FIELDS["move_date"], typed, today=today) == stored


def test_a_move_date_out_of_range_says_which_days_are_taken() -> None:
    with pytest.raises(forms.InvalidAnswer) as refused:
        forms.clean(forms.FIELDS["move_date"], "5月1日", today=date(2026, 12, 3))
    assert (refused.value.reason, refused.value.first, refused.value.last) == (
        forms.OUT_OF_RANGE,
        date(2026, 9, 4),
        date(2027, 2, 1),
    )


# 4. Why a day cannot be booked ----------------------------------------------------------------


def unavailable_day(app: LiveApp, user: str, text: str) -> list[dict[str, Any]]:
    """「…印鑑登録…」 at 本庁: the answer once the office is chosen (the day was in the sentence)."""
    answer = say_all(app, user, text)
    return tap_all(app, user, button(answer[-1], "本庁")["data"])


def test_a_day_after_the_cutoff_says_so_and_offers_the_next_day_that_works(rsv_app: LiveApp) -> None:
    app = rsv_app
    clock.travel_to(datetime(2026, 12, 3, 19, 0, tzinfo=clock.TOKYO))  # Thursday evening, after 17:00
    user = new_citizen(app)
    answer = unavailable_day(app, user, "明日の午前中に印鑑登録をしたいです")
    said = message_text(answer[0])
    assert said == (
        t("reservations.day_cutoff", date="12月4日（金）", time="17時")
        + "\n"
        + t("reservations.day_next", date="12月7日（月）")
    )
    assert "お休みの日か" not in said
    assert message_text(answer[-1]) == t("reservations.ask_date")
    first = quick_replies(answer[-1])[0]
    assert first["label"].startswith("12/7(月)")
    answer = tap_all(app, user, first["data"])
    assert "12月7日（月）" in message_text(answer[-1])


def test_closed_full_too_far_past_and_today_each_say_their_reason(rsv_app: LiveApp) -> None:
    app = rsv_app  # Tuesday 24 November 2026, 10:00
    user = new_citizen(app)
    answer = unavailable_day(app, user, "11月28日に印鑑登録の予約をしたい")  # a Saturday
    assert message_text(answer[0]) == (
        t("reservations.day_closed", date="11月28日（土）", office="本庁 市民課")
        + "\n"
        + t("reservations.day_next", date="11月30日（月）")
    )
    # Closed by staff for the office (a closure): お休み too.
    with app.db.session() as db_session:
        setup_service.create_closure(
            db_session=db_session, closure_in=ClosureCreate(office_id="honcho", day=date(2026, 11, 30), reason="研修")
        )
    answer = tap_all(app, user, "action=rsv_date", params={"date": "2026-11-30"})
    assert message_text(answer[0]).startswith(t("reservations.day_closed", date="11月30日（月）", office="本庁 市民課"))
    assert message_text(answer[0]).endswith(t("reservations.day_next", date="12月1日（火）"))
    # Every place of 12/1 taken: 満員, and the next day.
    with app.db.session() as db_session:
        for slot in slot_service.get_slots_for_day(db_session=db_session, office_id="honcho", day=date(2026, 12, 1)):
            slot.booked = slot.capacity
    answer = tap_all(app, user, "action=rsv_date", params={"date": "2026-12-01"})
    assert message_text(answer[0]) == (
        t("reservations.day_full", date="12月1日（火）", office="本庁 市民課")
        + "\n"
        + t("reservations.day_next", date="12月2日（水）")
    )
    # Beyond the window, in the past, and today.
    answer = tap_all(app, user, "action=rsv_date", params={"date": "2027-01-12"})
    assert message_text(answer[0]).startswith(t("reservations.day_too_far", date="1月12日（火）", days=30))
    answer = tap_all(app, user, "action=rsv_date", params={"date": "2026-11-20"})
    assert message_text(answer[0]).startswith(t("reservations.day_past", date="11月20日（金）"))
    answer = tap_all(app, user, "action=rsv_date", params={"date": "2026-11-24"})
    assert message_text(answer[0]).startswith(t("reservations.day_too_soon", date="11月24日（火）"))
    assert message_text(answer[0]).endswith(t("reservations.day_next", date="11月25日（水）"))


def test_the_cutoff_passing_while_the_form_is_answered_is_explained_at_the_confirm(rsv_app: LiveApp) -> None:
    app = rsv_app
    clock.travel_to(datetime(2026, 11, 24, 16, 50, tzinfo=clock.TOKYO))  # Tuesday: Wednesday closes at 17:00
    user = new_citizen(app)
    card = confirmation_card(app, user)
    assert "11月25日（水）" in str(card["contents"])
    clock.travel_to(datetime(2026, 11, 24, 17, 5, tzinfo=clock.TOKYO))
    answer = tap_all(app, user, button(card, "この内容で予約する")["data"])
    assert message_text(answer[0]) == (
        t("reservations.day_cutoff", date="11月25日（水）", time="17時")
        + "\n"
        + t("reservations.day_next", date="11月26日（木）")
    )
    assert message_text(answer[-1]) == t("reservations.ask_date") and reservations(app) == []


# 8. A staff cancellation says the reason staff gave ---------------------------------------------


def test_a_staff_cancellation_tells_the_reason_given_or_says_it_plainly(rsv_app: LiveApp) -> None:
    app = rsv_app
    actor = Actor(id=None, name="窓口 太郎", role=StaffRole.COUNTER, via="cli")
    told: dict[str, str] = {}
    for reason in ("窓口の臨時休止のため\n（機器の点検）", "", "   "):
        user = new_citizen(app)
        reservation_id = book(app, user)
        with app.db.session() as db_session:
            reservation = db_session.get(Reservation, reservation_id)
            assert reservation is not None
            assert flows.cancel_by_staff(db_session=db_session, reservation=reservation, reason=reason, actor=actor)
        notice = wait_until(lambda: app.sandbox.deliveries(to=user), what="the cancellation notice")  # noqa: B023
        told[reason] = texts(notice)[0]
    for said in told.values():
        assert said.startswith("11月25日（水） 10:00の「印鑑登録」のご予約は、取り消しとなりました。")
        assert "都合" not in said
    assert "理由：窓口の臨時休止のため （機器の点検）" in told["窓口の臨時休止のため\n（機器の点検）"]
    plain = t("reservations.cancelled_by_staff_no_reason", date="11月25日（水）", time="10:00", procedure="印鑑登録")
    assert told[""] == told["   "] == plain and "理由" not in plain

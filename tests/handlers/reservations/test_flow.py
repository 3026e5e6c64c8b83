"""Booking on LINE end to end through the sandbox (SQLite and PostgreSQL): 「予約したい」 to the QR code
(fetched from the app over HTTP and decoded), a sentence that already says what and when, invalid
answers, back and quit, someone else's booking id, an expired conversation, a double tap, the
list, change and cancel."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import httpx
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot import clock
from bot.catalog import t
from handlers.reservations.models import CounterSlot, Reservation, ReservationStatus
from handlers.reservations.service import reservations as reservation_service
from tests.support import (
    LiveApp,
    button,
    fields,
    message_text,
    new_citizen,
    quick_replies,
    say_all,
    settled,
    tap_all,
    wait_until,
)

JUMINHYO_ANSWERS = [
    "瀬戸内 花子",
    "せとうち はなこ",
    "昭和25年4月1日",
    "０９０－１２３４－５６７８",
    "瀬戸内市邑久町尾張300-1",
]


def reservations(app: LiveApp) -> list[Reservation]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(Reservation).order_by(Reservation.id)))


def book_juminhyo(app: LiveApp, user: str, *, office: str = "本庁") -> list[dict[str, Any]]:
    """The whole conversation for 住民票の写し; answers the booked messages."""
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], office)["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])  # the first day with room
    if message_text(answer[-1]).endswith("どちらがよろしいですか？"):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])  # the first time with room
    for typed in JUMINHYO_ANSWERS:
        answer = say_all(app, user, typed)
    answer = say_all(app, user, "２通")
    assert answer[-1]["type"] == "flex" and message_text(answer[-1]) == t("reservations.confirm_alt")
    return tap_all(app, user, button(answer[-1], "この内容で予約する")["data"])


def qr_token_from(app: LiveApp, messages: list[dict[str, Any]]) -> str:
    """Fetches the booked QR image from the app over HTTP, as LINE would, and decodes it."""
    image_message = next(m for m in messages if m["type"] == "image")
    original = httpx.get(image_message["originalContentUrl"], timeout=10)
    preview = httpx.get(image_message["previewImageUrl"], timeout=10)
    assert original.status_code == 200 and preview.status_code == 200
    assert original.headers["content-type"] == "image/png"
    assert "max-age" in original.headers["cache-control"] and "private" in original.headers["cache-control"]
    assert original.headers.get("etag")
    assert len(preview.content) < 1_000_000
    big, small = Image.open(io.BytesIO(original.content)), Image.open(io.BytesIO(preview.content))
    assert big.size == (1024, 1024) and small.size == (240, 240)
    decoded = [r.text for r in zxingcpp.read_barcodes(big)]
    assert decoded == [r.text for r in zxingcpp.read_barcodes(small)] and len(decoded) == 1
    # A repeat fetch with the ETag is answered 304 (LINE and phones may revalidate).
    again = httpx.get(image_message["originalContentUrl"], headers={"If-None-Match": original.headers["etag"]})
    assert again.status_code == 304
    return decoded[0]


def test_from_yoyaku_shitai_to_the_qr_code(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    first = say_all(app, user, "予約したい")[-1]
    assert first["text"] == t("reservations.ask_procedure")
    labels = [a["label"] for a in quick_replies(first)]
    assert labels[:3] == ["転入届", "転出届", "転居届"] and labels[-1] == "やめる" and len(labels) <= 13
    booked = book_juminhyo(app, user)
    card = booked[0]
    assert card["type"] == "flex" and card["altText"].startswith("ご予約を承りました。11月25日（水） 9:00 本庁 市民課")
    body = str(card["contents"])
    for shown in ("住民票の写し", "本庁 市民課", "11月25日（水）", "9:00", "本人確認書類", "手数料"):
        assert shown in body
    assert card["contents"]["hero"]["url"].startswith(f"{app.base_url}/media/qr/")
    token = qr_token_from(app, booked)
    [reservation] = reservations(app)
    assert reservation.line_user_id == user and reservation.status == ReservationStatus.BOOKED
    with app.db.session() as db_session:
        found = reservation_service.get_by_token(db_session=db_session, token=token)
        assert found is not None and found.id == reservation.id
        answers = reservation_service.answers_of(found, app.settings)
    assert answers is not None and answers["furigana"] == "セトウチ ハナコ" and answers["phone"] == "09012345678"
    assert answers["copies"] == "2" and answers["birth_date"] == "1950-04-01"
    assert str(reservation.id) not in token  # a token, not an id
    # Unknown or malformed tokens are 404; a size other than original|preview is refused by the
    # route's query validation (422), before the token is looked at.
    assert httpx.get(f"{app.base_url}/media/qr/{'A' * 32}.png").status_code == 404
    assert httpx.get(f"{app.base_url}/media/qr/{token}.png?size=huge").status_code == 422
    assert httpx.get(f"{app.base_url}/media/qr/..%2F..%2Fetc.png").status_code == 404
    with app.db.session() as db_session:
        from bot import conversation

        assert conversation.get_active(db_session=db_session, chat_id=user) is None


def test_a_sentence_that_says_what_and_when_skips_those_steps(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    # Tuesday: 「明日の午前中」 is Wednesday morning; マイナンバーカード is handled at 本庁 only.
    answer = say_all(app, user, "明日の午前中にマイナンバーカードの受け取りの予約をしたい")
    assert message_text(answer[0]) == t(
        "reservations.one_office", procedure="マイナンバーカードの受取", office="本庁 市民課"
    )
    times = [a["label"] for a in quick_replies(answer[-1])]
    assert answer[-1]["text"] == t("reservations.ask_time", date="11月25日（水）")
    assert times[0] == "9:00（残り3）" and "11:30（残り3）" in times and not any(x.startswith("13:") for x in times)
    # A time said in words: 10時半.
    answer = say_all(app, user, "10時半")
    assert "（1/5）" in answer[-1]["text"]
    answer = say_all(app, user, "12月3日の10時に転入届を出したい")  # a new request mid-form starts over
    assert "どちらの窓口" in message_text(answer[-1])
    answer = tap_all(app, user, button(answer[-1], "長船")["data"])
    assert "（1/7）" in answer[-1]["text"]  # date and time were understood: straight to the form


def test_invalid_answers_are_asked_again_kindly_and_back_and_quit_work(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    answer = say_all(app, user, "住民票の予約をお願いします")
    answer = tap_all(app, user, button(answer[-1], "牛窓")["data"])
    # A date in words that the office cannot take (a Saturday), then one it can.
    answer = say_all(app, user, "11月28日")
    assert message_text(answer[0]).startswith(t("reservations.day_closed", date="11月28日（土）", office="牛窓支所"))
    answer = say_all(app, user, "ぴよぴよ")
    assert message_text(answer[0]) == t("reservations.date_not_understood")
    answer = tap_all(app, user, "action=rsv_date", params={"date": "2026-11-26"})  # the date picker
    assert "11月26日（木）" in message_text(answer[-1])
    if "どちらがよろしいですか" in message_text(answer[-1]):
        answer = tap_all(app, user, button(answer[-1], "午後")["data"])
    answer = tap_all(app, user, button(answer[-1], "13:00")["data"])
    assert "（1/6）" in answer[-1]["text"]
    answer = say_all(app, user, "12345")
    assert answer[-1]["text"].startswith(t("reservations.fields.name.invalid"))
    answer = say_all(app, user, "牛窓 太郎")
    answer = say_all(app, user, "Ushimado")
    assert answer[-1]["text"].startswith(t("reservations.fields.furigana.invalid"))
    answer = say_all(app, user, "ウシマド タロウ")
    answer = say_all(app, user, "きのう")
    assert answer[-1]["text"].startswith(t("reservations.fields.birth_date.invalid"))
    assert any(a["type"] == "datetimepicker" for a in quick_replies(answer[-1]))
    answer = tap_all(app, user, "action=rsv_answer", params={"date": "1948-02-03"})
    answer = say_all(app, user, "090-12")
    assert answer[-1]["text"].startswith(t("reservations.fields.phone.invalid"))
    # 戻る goes back one question; やめる ends without booking anything.
    answer = tap_all(app, user, button(answer[-1], "戻る")["data"])
    assert "（3/6）" in answer[-1]["text"]
    answer = say_all(app, user, "やめる")
    assert answer[-1]["text"] == t("common.quit_done")
    assert reservations(app) == []
    with app.db.session() as db_session:
        assert all(s.booked == 0 for s in db_session.scalars(select(CounterSlot)))


def test_a_slot_taken_meanwhile_and_a_double_tap_book_once(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], "牛窓")["data"])  # capacity 1 a slot
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if "どちらがよろしいですか" in message_text(answer[-1]):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    first_time = quick_replies(answer[-1])[0]
    # Someone books that very place by phone before our citizen taps it.
    slot_id = int(fields(first_time)["s"])
    with app.db.session() as db_session:
        from handlers.reservations.models import ReservationChannel, ReservationCreate

        reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id="inkan",
                slot_id=slot_id,
                channel=ReservationChannel.PHONE,
                answers={
                    "name": "電話 一郎",
                    "furigana": "デンワ イチロウ",
                    "birth_date": "1960-01-01",
                    "phone": "0869221111",
                    "address": "瀬戸内市牛窓町牛窓1",
                },
            ),
            settings=app.settings,
        )
    answer = tap_all(app, user, first_time["data"])
    assert message_text(answer[0]) == t("reservations.slot_taken")
    assert str(slot_id) not in [fields(a).get("s") for a in quick_replies(answer[-1])]
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    for typed in [*JUMINHYO_ANSWERS, "1"]:
        answer = say_all(app, user, typed)
    confirm = button(answer[-1], "この内容で予約する")
    # Two taps in one webhook body, and a third later: one booking, the same card each time.
    from tests.support import post_webhook

    events = [app.sandbox.make_event("postback", user, data=confirm["data"]) for _ in range(2)]
    post_webhook(app, events)
    wait_until(lambda: settled(app), what="both taps handled")
    again = tap_all(app, user, confirm["data"])
    assert str(again[0]["contents"]).count(t("reservations.booked_again")) == 1
    mine = [r for r in reservations(app) if r.line_user_id == user]
    assert len(mine) == 1
    with app.db.session() as db_session:
        assert db_session.get(CounterSlot, mine[0].slot_id).booked == 1  # type: ignore[union-attr]


def test_someone_elses_booking_cannot_be_seen_changed_or_cancelled(rsv_app: LiveApp) -> None:
    app = rsv_app
    owner, intruder = new_citizen(app), new_citizen(app, "他人 次郎")
    book_juminhyo(app, owner)
    [reservation] = reservations(app)
    for data in (
        f"action=rsv_show&id={reservation.id}",
        f"action=rsv_change&id={reservation.id}",
        f"action=rsv_cancel&id={reservation.id}",
        f"action=rsv_cancel_ok&id={reservation.id}&answer=yes",
        "action=rsv_cancel_ok&id=99999999999999999999&answer=yes",
        "action=rsv_show&id=abc",
        "action=rsv_show",
    ):
        answer = tap_all(app, intruder, data)
        assert [message_text(m) for m in answer] == [t("reservations.not_found")], data
        assert "QR" not in str(answer) and "/media/qr/" not in str(answer)
    # Someone else's confirm button (its nonce) finds nothing either.
    answer = tap_all(app, intruder, "action=rsv_confirm&k=" + "0" * 32)
    assert message_text(answer[-1]) == t("reservations.expired_confirm")
    [still] = reservations(app)
    assert still.status == ReservationStatus.BOOKED and still.slot_id == reservation.slot_id
    assert app.sandbox.deliveries(to=owner)[-1].endpoint == "reply"  # the owner was not disturbed


def test_an_expired_conversation_says_so_and_books_nothing(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "印鑑登録")["data"])
    answer = tap_all(app, user, button(answer[-1], "本庁")["data"])
    day_button = quick_replies(answer[-1])[0]
    clock.travel_to(clock.now() + timedelta(minutes=31))  # the flow waits 30 minutes
    answer = tap_all(app, user, day_button["data"])
    assert message_text(answer[-1]) == t("welcome.expired")
    answer = tap_all(app, user, "action=rsv_time&s=1")
    assert message_text(answer[-1]) == t("welcome.expired")
    assert reservations(app) == []


def test_the_list_shows_upcoming_bookings_and_the_qr_again_then_change_and_cancel(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    booked = book_juminhyo(app, user)
    token = qr_token_from(app, booked)
    answer = say_all(app, user, "予約確認")
    assert answer[0]["text"] == t("reservations.list_intro", count=1)
    bubbles = answer[-1]["contents"]["contents"]
    assert len(bubbles) == 1 and "住民票の写し" in str(bubbles[0])
    [reservation] = reservations(app)
    show = tap_all(app, user, f"action=rsv_show&id={reservation.id}")
    assert qr_token_from(app, show) == token
    # Change: another day and time, confirmed; the same QR code stays valid.
    answer = tap_all(app, user, f"action=rsv_change&id={reservation.id}")
    assert answer[-1]["text"] == t("reservations.change_ask_date", procedure="住民票の写し")
    answer = tap_all(app, user, quick_replies(answer[-1])[1]["data"])  # the second day offered
    if "どちらがよろしいですか" in message_text(answer[-1]):
        answer = tap_all(app, user, button(answer[-1], "午後")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    assert "この日時に変更しますか？" in answer[-1]["text"]
    answer = tap_all(app, user, button(answer[-1], "はい")["data"])
    assert message_text(answer[0]) == t("reservations.changed")
    [moved] = reservations(app)
    assert moved.slot_id != reservation.slot_id and moved.visit_day == datetime(2026, 11, 26).date()
    assert qr_token_from(app, answer) == token
    with app.db.session() as db_session:
        assert db_session.get(CounterSlot, reservation.slot_id).booked == 0  # type: ignore[union-attr]
        assert db_session.get(CounterSlot, moved.slot_id).booked == 1  # type: ignore[union-attr]
    # Cancel: asked once more; いいえ keeps it, はい cancels and gives the place back.
    answer = tap_all(app, user, f"action=rsv_cancel&id={moved.id}")
    assert "この予約を取り消しますか？" in answer[-1]["text"]
    assert tap_all(app, user, button(answer[-1], "いいえ")["data"])[-1]["text"] == t("reservations.cancel_kept")
    answer = tap_all(app, user, button(answer[-1], "はい")["data"])
    assert answer[-1]["text"] == t("reservations.cancelled")
    [cancelled] = reservations(app)
    assert cancelled.status == ReservationStatus.CANCELLED
    with app.db.session() as db_session:
        assert db_session.get(CounterSlot, moved.slot_id).booked == 0  # type: ignore[union-attr]
    listed = tap_all(app, user, "action=intent&name=reservation_check")
    assert listed[-1]["text"] == t("reservations.none_upcoming")
    # The cancelled booking's QR code is gone; cancelling again is refused politely.
    assert httpx.get(f"{app.base_url}/media/qr/{token}.png").status_code == 404
    answer = tap_all(app, user, f"action=rsv_cancel_ok&id={moved.id}&answer=yes")
    assert answer[-1]["text"] == t("reservations.not_changeable")


def test_the_per_citizen_limit_is_explained(rsv_app: LiveApp) -> None:
    app = rsv_app
    app.settings.reservation_max_active = 1
    user = new_citizen(app)
    book_juminhyo(app, user)
    answer = say_all(app, user, "窓口の予約をしたい")
    assert answer[-1]["text"] == t("reservations.limit_reached", max=1)
    assert [a["label"] for a in quick_replies(answer[-1])] == ["予約確認"]


def test_back_walks_the_steps_in_order_and_a_typed_hai_confirms(rsv_app: LiveApp) -> None:
    app = rsv_app
    user = new_citizen(app)
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    asked_office = message_text(answer[-1])
    answer = tap_all(app, user, button(answer[-1], "牛窓")["data"])  # 住民票: several offices
    asked_date = message_text(answer[-1])
    assert asked_date == t("reservations.ask_date")
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if "どちらがよろしいですか" in message_text(answer[-1]):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    asked_time = message_text(answer[-1])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    assert "（1/6）" in message_text(answer[-1])
    # 戻る, one step at a time: the day's times, the day, the office, the procedure, then it ends.
    answer = tap_all(app, user, button(answer[-1], "戻る")["data"])
    assert message_text(answer[-1]).split("ですね。")[0] == asked_time.split("ですね。")[0]
    answer = say_all(app, user, "戻る")
    assert message_text(answer[-1]) == asked_date
    answer = say_all(app, user, "戻る")
    assert message_text(answer[-1]) == asked_office
    answer = say_all(app, user, "戻る")
    assert message_text(answer[-1]) == t("reservations.ask_procedure")
    answer = say_all(app, user, "戻る")
    assert message_text(answer[-1]) == t("common.quit_done")
    # The whole way again, confirmed by typing 「はい」: booked once, with the card's own key.
    answer = say_all(app, user, "予約したい")
    answer = tap_all(app, user, button(answer[-1], "住民票")["data"])
    answer = tap_all(app, user, button(answer[-1], "本庁")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    if "どちらがよろしいですか" in message_text(answer[-1]):
        answer = tap_all(app, user, button(answer[-1], "午前")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    for typed in [*JUMINHYO_ANSWERS, "1"]:
        answer = say_all(app, user, typed)
    assert message_text(answer[-1]) == t("reservations.confirm_alt")
    confirm = button(answer[-1], "この内容で予約する")
    booked = say_all(app, user, "はい")
    assert booked[0]["type"] == "flex" and booked[0]["altText"].startswith("ご予約を承りました。")
    [reservation] = reservations(app)
    # The card's button, tapped after the typed はい, shows the same booking (booked once).
    again = tap_all(app, user, confirm["data"])
    assert str(again[0]["contents"]).count(t("reservations.booked_again")) == 1
    assert [r.id for r in reservations(app)] == [reservation.id]
    # A change confirmed by typing 「はい」 too.
    answer = tap_all(app, user, f"action=rsv_change&id={reservation.id}")
    answer = tap_all(app, user, quick_replies(answer[-1])[1]["data"])
    if "どちらがよろしいですか" in message_text(answer[-1]):
        answer = tap_all(app, user, button(answer[-1], "午後")["data"])
    answer = tap_all(app, user, quick_replies(answer[-1])[0]["data"])
    assert "この日時に変更しますか？" in message_text(answer[-1])
    answer = say_all(app, user, "はい")
    assert message_text(answer[0]) == t("reservations.changed")
    [moved] = reservations(app)
    assert moved.slot_id != reservation.slot_id and moved.status == ReservationStatus.BOOKED

"""Defects a new citizen tripped on (issue 17), each pinned by the conversation that showed it
(SQLite and PostgreSQL): a cancelled booking that still looked booked, ..."""

from __future__ import annotations

from typing import Any

from bot.catalog import t
from handlers.reservations.models import ReservationStatus
from tests.handlers.reservations.test_flow import JUMINHYO_ANSWERS, reservations
from tests.support import LiveApp, button, message_text, new_citizen, quick_replies, say_all, tap_all


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

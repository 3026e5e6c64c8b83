"""Issue 17's counter-staff defects (SQLite and PostgreSQL): the printable form's 届出日 is the visit
day (item 15), the "not today" warning names both days in Japanese (item 12), the booking's status
comes first and in colour (item 10), and the 予約番号 on the card opens a booking only with a second
detail (item 11)."""

from __future__ import annotations

from tests.handlers.reservations.test_staff import book, people, post  # noqa: F401  (a fixture)
from tests.support import LiveApp


def test_the_printed_form_is_dated_on_the_visit_day(rsv_app: LiveApp, people) -> None:  # noqa: F811
    reservation_id, _ = book(rsv_app)  # printed on Tuesday the 24th for Wednesday the 25th
    printed = people["madoguchi"].get(f"/admin/reservations/{reservation_id}/print")
    assert "届出日　2026年11月25日" in printed.text
    assert "届出日　2026/11/24" not in printed.text


def test_the_not_today_warning_names_both_days_in_japanese(rsv_app: LiveApp, people) -> None:  # noqa: F811
    _, token = book(rsv_app)  # scanned on Tuesday the 24th, booked for Wednesday the 25th
    counter = people["madoguchi"]
    found = post(counter, "/admin/reservations/lookup", {"token": token})
    detail = counter.get(found.headers["location"])
    assert "この予約は2026年11月25日（水）のものです。本日は2026年11月24日（火）です。" in detail.text
    assert "2026-11-25" not in detail.text.split('id="not-today"')[1][:200]

"""Counter check-in in a real browser: staff sign in, a USB keyboard-wedge scanner types the QR token
into the check-in field (and Enter), the pre-filled form opens, staff check the citizen in."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot import clock
from handlers.reservations.models import Reservation, ReservationCreate, ReservationStatus
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import seed as counter_seed
from handlers.reservations.service import slots as slot_service
from tests.support import LiveApp

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
WEDNESDAY_MORNING = datetime(2026, 11, 25, 9, 55, tzinfo=clock.TOKYO)


def _book(app: LiveApp) -> tuple[int, str]:
    with app.db.session() as db_session:
        counter_seed.seed(db_session=db_session)
        slots = slot_service.get_slots_for_day(db_session=db_session, office_id="honcho", day=date(2026, 11, 25))
        booked = reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id="tenkyo",
                slot_id=slots[2].id,  # 10:00
                answers={
                    "name": "瀬戸内 花子",
                    "furigana": "セトウチ ハナコ",
                    "birth_date": "1950-04-01",
                    "phone": "09012345678",
                    "address": "瀬戸内市邑久町尾張300-1",
                    "new_address": "瀬戸内市牛窓町牛窓4911",
                    "move_date": "2026-11-20",
                },
                line_user_id="U" + uuid.uuid4().hex,
            ),
            settings=app.settings,
        )
        assert booked.token
        return booked.reservation.id, booked.token


def test_staff_scan_the_token_see_the_prefilled_form_and_check_in(page: Any, app: LiveApp) -> None:
    app.app.state.admin_config.login_delay_seconds = 0
    clock.travel_to(TUESDAY)
    reservation_id, token = _book(app)
    clock.travel_to(WEDNESDAY_MORNING)  # the day of the visit
    with app.db.session() as db_session:
        create_user(
            db_session=db_session, name="madoguchi", role=StaffRole.COUNTER, password=PASSWORD, actor=Actor.system()
        )

    page.goto(f"{app.base_url}/admin/reservations")
    page.get_by_label("ログイン名").fill("madoguchi")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{app.base_url}/admin/reservations")
    assert page.get_by_role("heading", level=1).inner_text() == "予約・受付"
    assert "瀬戸内 花子" in page.locator("#office-honcho-box").inner_text()
    # The camera scanner is there (jsQR served locally, allowed by the page's CSP).
    assert page.evaluate("typeof window.jsQR") == "function"
    assert page.get_by_role("button", name="カメラで読み取る").is_visible()

    # A keyboard-wedge scanner: the field has focus; it types the token and presses Enter.
    field = page.get_by_label("読み取り機でQRコードを読むか、番号を入力してください")
    assert page.evaluate("document.activeElement.id") == "checkin-token"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{app.base_url}/admin/reservations/{reservation_id}?scanned=1")
    assert field.count() == 1  # the detail page keeps a field ready for the next citizen

    form = page.locator("#prefilled-form").inner_text()
    for shown in (
        "瀬戸内 花子",
        "セトウチ ハナコ",
        "1950年4月1日（昭和25年）",
        "090-1234-5678",
        "瀬戸内市牛窓町牛窓4911",
    ):
        assert shown in form
    assert page.locator("#not-today").count() == 0
    assert page.locator("#reservation-status").inner_text() == "予約中"

    page.get_by_role("button", name="受付する（来庁）").click()
    page.wait_for_url(f"{app.base_url}/admin/reservations/{reservation_id}")
    assert page.locator("#reservation-status").inner_text() == "来庁済み"
    assert "受付しました" in page.locator(".flash").inner_text()
    with app.db.session() as db_session:
        reservation = db_session.get(Reservation, reservation_id)
        assert reservation is not None and reservation.status == ReservationStatus.ARRIVED

    # The printable form opens with the same answers, for the citizen to check and sign.
    page.get_by_role("link", name="申請書を印刷").click()
    page.wait_for_url(f"{app.base_url}/admin/reservations/{reservation_id}/print")
    assert "転居届 申請書" in page.locator("h1").inner_text()
    assert "瀬戸内 花子" in page.locator("#print-answers").inner_text()

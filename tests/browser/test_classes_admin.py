"""スマホ教室 attendance in a real browser: counter staff sign in and open a class's roster; a USB
keyboard-wedge scanner types a participant's QR token into the scanner field (and Enter) and the
roster says who arrived; staff tick another participant by hand; the roster downloads as CSV for
Excel (UTF-8 with a BOM)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot import clock
from handlers.classes.models import Channel, Details, SessionCreate, Signup
from handlers.classes.service import sessions
from handlers.classes.service import signups as signup_service
from tests.support import LiveApp

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
BOOKED_AT = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
STARTS = datetime(2026, 12, 8, 10, 0, tzinfo=clock.TOKYO)


def _class_with_two_participants(app: LiveApp) -> tuple[int, int, str, int]:
    """A session; a citizen signed up on LINE (with a QR token) and one taken by phone."""
    with app.db.session() as db_session:
        session = sessions.create(
            db_session=db_session,
            session_in=SessionCreate(
                title="はじめてのスマホ",
                starts_at=STARTS,
                ends_at=STARTS + timedelta(minutes=90),
                venue="中央公民館",
                capacity=10,
            ),
        )
        on_line = signup_service.create(
            db_session=db_session,
            session_id=session.id,
            details=Details(name="瀬戸内 花子", furigana="セトウチ ハナコ", phone="09012345678", needs=["hearing"]),
            channel=Channel.LINE,
            line_user_id="U" + uuid.uuid4().hex,
            settings=app.settings,
        )
        by_phone = signup_service.create(
            db_session=db_session,
            session_id=session.id,
            details=Details(name="牛窓 太郎", furigana="ウシマド タロウ", phone="0869221111"),
            channel=Channel.PHONE,
            settings=app.settings,
        )
        assert on_line.token
        return session.id, on_line.signup.id, on_line.token, by_phone.signup.id


def test_staff_scan_a_participant_in_tick_another_and_download_the_roster(page: Any, app: LiveApp) -> None:
    app.app.state.admin_config.login_delay_seconds = 0
    clock.travel_to(BOOKED_AT)
    session_id, scanned_id, token, ticked_id = _class_with_two_participants(app)
    clock.travel_to(STARTS - timedelta(minutes=15))  # the class's morning
    with app.db.session() as db_session:
        create_user(
            db_session=db_session, name="madoguchi", role=StaffRole.COUNTER, password=PASSWORD, actor=Actor.system()
        )
    roster = f"{app.base_url}/admin/classes/{session_id}"

    page.goto(roster)
    page.get_by_label("ログイン名").fill("madoguchi")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(roster)
    assert page.get_by_role("heading", level=1).inner_text() == "はじめてのスマホ"
    assert "2026年12月8日（火）10:00〜11:30" in page.locator("#session-when").inner_text()
    assert page.get_by_role("heading", name="QRコードで出席確認").is_visible()
    # The counter's camera scanner, reused (jsQR served locally, allowed by the page's CSP).
    assert page.evaluate("typeof window.jsQR") == "function"
    assert page.get_by_role("button", name="カメラで読み取る").is_visible()
    phone_row = page.locator(f"#signup-{ticked_id}")
    assert "要電話連絡" in phone_row.inner_text() and "牛窓 太郎" in phone_row.inner_text()

    # A keyboard-wedge scanner: the field has focus; it types the token and presses Enter.
    assert page.evaluate("document.activeElement.id") == "checkin-token"
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{roster}?arrived={scanned_id}")
    arrived = page.locator("#arrived").inner_text()
    assert "瀬戸内 花子" in arrived and "耳が遠い" in arrived
    assert "出席を記録しました" in page.locator(".flash").inner_text()
    assert page.locator(f"#signup-{scanned_id} .attended").is_visible()
    assert page.evaluate("document.activeElement.id") == "checkin-token"  # ready for the next one

    # An unknown code is refused in plain words, and changes nothing.
    page.keyboard.type("A" * 32)
    page.keyboard.press("Enter")
    page.wait_for_url(roster)
    assert "そのQRコードの申込は見つかりません" in page.locator(".flash").inner_text()

    # By hand, for the participant who came without their QR code.
    phone_row.get_by_role("button", name="出席にする").click()
    page.wait_for_url(f"{roster}#signup-{ticked_id}")
    assert phone_row.locator(".attended").is_visible()
    assert page.locator("#count-attended").inner_text().startswith("2")
    with app.db.session() as db_session:
        found = db_session.scalars(select(Signup).where(Signup.session_id == session_id))
        attended = {s.id: s.attended_at is not None for s in found}
    assert attended == {scanned_id: True, ticked_id: True}

    # The roster for Excel.
    with page.expect_download() as waiting:
        page.get_by_role("link", name="名簿をCSVでダウンロード").click()
    download = waiting.value
    assert download.suggested_filename == f"class-{session_id}-roster.csv"
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "番号,状態,申込方法,順番,氏名,フリガナ,電話番号,機種,年代,配慮事項,出席,申込日時"
    assert lines[1].startswith(
        f"{scanned_id},参加決定,LINE,,瀬戸内 花子,セトウチ ハナコ,090-1234-5678,,,耳が遠い,出席,"
    )
    assert lines[2].startswith(f"{ticked_id},参加決定,電話,,牛窓 太郎,ウシマド タロウ,0869221111,,,,出席,")
    assert lines[3:] == [""]

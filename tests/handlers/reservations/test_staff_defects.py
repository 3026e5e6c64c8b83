"""Issue 17's counter-staff defects (SQLite and PostgreSQL): the printable form's 届出日 is the visit
day (item 15), the "not today" warning names both days in Japanese (item 12), the booking's status
comes first and in colour (item 10), the 予約番号 on the card opens a booking only with a second
detail (item 11), the audit log reads in Japanese with names, links and failed sign-ins (item 13), a slot
rule outside the office's hours is refused (item 14), and a citizen's page leads to their bookings,
class signups and handoff threads (item 17)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from admin import audit
from bot import citizens as citizen_service
from bot import clock
from handlers.classes.models import Channel
from handlers.handoff.models import HandoffRequest, HandoffSource, HandoffStatus
from handlers.reservations.models import SlotRule
from tests.admin.conftest import login_response, page_csrf, sign_in
from tests.handlers.classes.test_service import new_session, person, sign_up
from tests.handlers.reservations.test_staff import audit_entries, book, people, post  # noqa: F401  (a fixture)
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
    assert "2026-11-25" not in detail.text.split('id="not-today"')[1].split("</p>")[0]


def _first_in_content(html: str) -> str:
    """The page's own content, from its first element (after the nav and any flash message)."""
    main = html.split('<main id="main"', 1)[1]
    return re.sub(r'^.*?<div class="flash[^>]*>.*?</div>', "", main, count=1, flags=re.S)


def test_a_scanned_booking_shows_its_status_first_and_in_colour(rsv_app: LiveApp, people) -> None:  # noqa: F811
    reservation_id, token = book(rsv_app)
    counter = people["madoguchi"]
    post(
        counter,
        f"/admin/reservations/{reservation_id}/cancel",
        {"reason": ""},
        page=f"/admin/reservations/{reservation_id}",
    )
    found = post(counter, "/admin/reservations/lookup", {"token": token})
    assert found.headers["location"] == f"/admin/reservations/{reservation_id}?scanned=1"
    content = _first_in_content(counter.get(found.headers["location"]).text)
    banner = content[: content.index("<h1")]
    assert 'id="booking-state"' in banner and "booking-state-cancelled" in banner
    assert "取り消し" in banner and "別の日" in banner and "2026年11月25日（水）" in banner
    assert content.index('id="booking-state"') < content.index("予約一覧</a>")
    # On the day, checked in: 来庁済み, with no 別の日.
    other_id, _ = book(rsv_app, hhmm="11:00")
    clock.travel_to(datetime(2026, 11, 25, 9, 50, tzinfo=clock.TOKYO))
    counter = sign_in(rsv_app, "madoguchi")
    post(
        counter, f"/admin/reservations/{other_id}/visit", {"action": "check_in"}, page=f"/admin/reservations/{other_id}"
    )
    content = _first_in_content(counter.get(f"/admin/reservations/{other_id}?scanned=1").text)
    banner = content[: content.index("<h1")]
    assert "booking-state-arrived" in banner and "来庁済み" in banner and "別の日" not in banner
    css = counter.get("/admin/static/admin.css").text
    assert ".booking-state-cancelled" in css and ".booking-state-arrived" in css


def test_the_number_on_the_card_opens_the_booking_with_a_name_or_birth_date(rsv_app: LiveApp, people) -> None:  # noqa: F811
    reservation_id, _ = book(rsv_app)
    counter = people["madoguchi"]
    for typed in (
        str(reservation_id),
        f"No.{reservation_id}",
        f"Ｎｏ．{chr(0xFF10 + reservation_id)}",
        f" no {reservation_id} ",
    ):
        asked = post(counter, "/admin/reservations/lookup", {"token": typed})
        # Numbers are guessable: the form is not shown yet, a second detail is asked for.
        assert asked.status_code == 200, typed
        assert "お名前または生年月日" in asked.text and "花子" not in asked.text and "セトウチ" not in asked.text
        assert f'name="number" value="{reservation_id}"' in asked.text
    csrf = page_csrf(counter.get("/admin/reservations"))
    for wrong in ("瀬戸内 太郎", "1950-04-02", ""):
        refused = counter.post(
            "/admin/reservations/lookup/verify",
            data={"csrf_token": csrf, "number": str(reservation_id), "detail": wrong},
        )
        assert (
            refused.status_code == 200 and "一致する予約はありません" in refused.text and "セトウチ" not in refused.text
        )
    for right in ("瀬戸内花子", "せとうち はなこ", "昭和25年4月1日", "1950/4/1"):
        opened = counter.post(
            "/admin/reservations/lookup/verify",
            data={"csrf_token": csrf, "number": str(reservation_id), "detail": right},
        )
        assert opened.status_code == 303, right
        assert opened.headers["location"] == f"/admin/reservations/{reservation_id}?scanned=1"
    # A number with no booking is refused the same way, so it does not tell which numbers exist.
    missing = counter.post(
        "/admin/reservations/lookup/verify", data={"csrf_token": csrf, "number": "999", "detail": "瀬戸内花子"}
    )
    assert missing.status_code == 200 and "一致する予約はありません" in missing.text
    # Viewers cannot look up at all; the field's hint names the card's number.
    assert post(people["etsuran"], "/admin/reservations/lookup", {"token": "1"}).status_code == 403
    assert "予約番号" in counter.get("/admin/reservations").text


def test_a_slot_rule_outside_the_office_hours_is_refused_with_the_reason(rsv_app: LiveApp, people) -> None:  # noqa: F811
    counter = people["madoguchi"]
    setup = "/admin/reservations-setup"
    evening = {"office_id": "ushimado", "weekdays": "1", "start_time": "18:00", "end_time": "20:00", "is_active": "1"}
    refused = post(counter, f"{setup}/rules", evening, setup)
    assert refused.status_code == 303
    page = counter.get(setup).text
    assert "予約枠のルールを保存しました" not in page
    assert "受付時間（08:30〜17:15）" in page and "18:00〜20:00" in page
    assert audit_entries(rsv_app, "reservation.rule") == []
    # An existing rule moved outside the hours is refused too and stays as it was.
    saved = post(counter, f"{setup}/rules", {**evening, "start_time": "09:00", "end_time": "10:00"}, setup)
    assert "予約枠のルールを保存しました" in counter.get(saved.headers["location"]).text
    with rsv_app.db.session() as db_session:
        rule = max(db_session.scalars(select(SlotRule)), key=lambda each: each.id)  # the one just added
        rule_id = rule.id
    moved = post(
        counter,
        f"{setup}/rules",
        {**evening, "rule_id": str(rule_id), "start_time": "16:00", "end_time": "17:30"},
        setup,
    )
    assert "受付時間（08:30〜17:15）" in counter.get(moved.headers["location"]).text
    with rsv_app.db.session() as db_session:
        unchanged = db_session.get(SlotRule, rule_id)
        assert unchanged is not None and unchanged.end_time == "10:00"
    # The table names offices, and the add form's weekdays sit in one row.
    page = counter.get(setup).text
    table = page.split('id="rules"')[1].split('id="add-rule"')[0]
    assert "本庁 市民課" in table and "<td>honcho</td>" not in table and "<td>ushimado</td>" not in table
    assert 'class="field weekday-row"' in page
    assert ".weekday-row" in counter.get("/admin/static/admin.css").text


def test_the_audit_log_reads_in_japanese_with_names_links_and_failed_logins(rsv_app: LiveApp, people) -> None:  # noqa: F811
    reservation_id, _ = book(rsv_app)
    counter, admin = people["madoguchi"], people["kanri"]
    post(counter, f"/admin/reservations/{reservation_id}/cancel", {"reason": "窓口の都合"})
    with rsv_app.db.session() as db_session:
        audit.record(
            db_session=db_session,
            actor=None,
            action="reservation.office",
            target_type="office",
            target_id="honcho",
            before={"opens": "08:30", "updated_at": datetime(2026, 11, 24, 1, 0, tzinfo=UTC)},
            after={"opens": "09:00", "name": "岡山 本庁", "updated_at": datetime(2026, 11, 24, 1, 5, tzinfo=UTC)},
        )
    # Two wrong passwords: failed sign-ins the admin sees.
    stranger = httpx.Client(base_url=rsv_app.base_url)
    for _ in range(2):
        assert login_response(stranger, "madoguchi", "wrong-password-123").status_code == 401
    page = admin.get("/admin/audit").text
    entries = page.split('id="audit-entries"')[1].split("</table>")[0]
    assert "\\u" not in entries and "Z</" not in entries and '"status"' not in entries
    assert f'<a href="/admin/reservations/{reservation_id}">予約 #{reservation_id}</a>' in entries
    assert "<dt>状態</dt><dd>予約中</dd>" in entries and "<dt>状態</dt><dd>取り消し</dd>" in entries
    assert "窓口 本庁 市民課" in entries and "reservation #" not in entries and "office #" not in entries
    assert "<dt>更新</dt><dd>2026/11/24 10:05</dd>" in entries and "岡山 本庁" in entries  # JST, not 01:05Z
    failed = page.split('id="failed-logins"')[1]
    assert failed.count("<td>madoguchi</td>") == 2


def test_a_citizen_has_a_page_with_their_bookings_signups_and_threads(rsv_app: LiveApp, people) -> None:  # noqa: F811
    user = "U" + uuid.uuid4().hex
    reservation_id, _ = book(rsv_app, user=user)
    with rsv_app.db.session() as db_session:
        citizen = citizen_service.get_or_create(db_session=db_session, line_user_id=user)
        citizen.display_name = "せとうち花子"
        citizen_id = citizen.id
        thread = HandoffRequest(
            line_user_id=user,
            source=HandoffSource.TEXT,
            status=HandoffStatus.OPEN,
            office_open=True,
            requested_at=clock.now(),
        )
        db_session.add(thread)
        db_session.flush()
        thread_id = thread.id
    class_id = new_session(rsv_app.db)
    sign_up(rsv_app.db, rsv_app.settings, class_id, person(1), channel=Channel.LINE, user=user)
    counter = people["madoguchi"]
    listed = counter.get("/admin/citizens").text
    assert f'href="/admin/citizens/{citizen_id}"' in listed
    page = counter.get(f"/admin/citizens/{citizen_id}")
    assert page.status_code == 200
    assert "せとうち花子" in page.text and user in page.text
    assert f'<a href="/admin/reservations/{reservation_id}">予約 No.{reservation_id}</a>' in page.text
    assert "住民票" in page.text and "本庁" in page.text and "予約中" in page.text
    assert f'href="/admin/handoff/{thread_id}"' in page.text and "未対応" in page.text
    assert f'<a href="/admin/classes/{class_id}">はじめてのスマホ教室</a>' in page.text and "参加決定" in page.text
    # A viewer reaches the same links, without the name or the full ID.
    seen = people["etsuran"].get(f"/admin/citizens/{citizen_id}")
    assert seen.status_code == 200 and "せとうち花子" not in seen.text and user not in seen.text
    assert f'href="/admin/reservations/{reservation_id}"' in seen.text
    assert counter.get("/admin/citizens/999999").status_code == 404

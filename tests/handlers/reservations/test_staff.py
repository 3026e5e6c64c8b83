"""Staff side (SQLite and PostgreSQL): the day's bookings, check-in by token, the pre-filled and
printable form, roles and personal data, phone bookings on the same capacity, setup edits that are
audited, and the /api/v1 endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import clock
from handlers.reservations.models import (
    Closure,
    Procedure,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationStatus,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import slots as slot_service
from tests.admin.conftest import add_staff, new_token, page_csrf, sign_in
from tests.support import LiveApp, new_citizen, texts, wait_until

WEDNESDAY = date(2026, 11, 25)
ANSWERS = {
    "name": "瀬戸内 花子",
    "furigana": "セトウチ ハナコ",
    "birth_date": "1950-04-01",
    "phone": "09012345678",
    "address": "瀬戸内市邑久町尾張300-1",
    "copies": "2",
}


def book(app: LiveApp, *, user: str | None = None, office: str = "honcho", hhmm: str = "10:00") -> tuple[int, str]:
    with app.db.session() as db_session:
        slots = slot_service.get_slots_for_day(db_session=db_session, office_id=office, day=WEDNESDAY)
        slot = next(s for s in slots if s.starts_at.astimezone(clock.TOKYO).strftime("%H:%M") == hhmm)
        booked = reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id="juminhyo",
                slot_id=slot.id,
                answers=ANSWERS,
                line_user_id=user or "U" + uuid.uuid4().hex,
            ),
            settings=app.settings,
        )
        assert booked.token
        return booked.reservation.id, booked.token


@pytest.fixture
def people(rsv_app: LiveApp) -> dict[str, httpx.Client]:
    rsv_app.app.state.admin_config.login_delay_seconds = 0
    clients = {}
    for name, role in (("madoguchi", StaffRole.COUNTER), ("etsuran", StaffRole.VIEWER), ("kanri", StaffRole.ADMIN)):
        add_staff(rsv_app, name, role)
        clients[name] = sign_in(rsv_app, name)
    return clients


def post(client: httpx.Client, path: str, data: dict[str, str] | None = None, page: str = "/admin/reservations"):
    return client.post(path, data={"csrf_token": page_csrf(client.get(page)), **(data or {})})


def audit_entries(app: LiveApp, action_prefix: str) -> list[AuditEntry]:
    with app.db.session() as db_session:
        return [e for e in db_session.scalars(select(AuditEntry)) if e.action.startswith(action_prefix)]


def test_counter_staff_scan_see_the_prefilled_form_print_it_and_check_in(rsv_app: LiveApp, people) -> None:
    app = rsv_app
    reservation_id, token = book(app)
    counter = people["madoguchi"]
    day = counter.get("/admin/reservations?day=2026-11-25")
    assert day.status_code == 200
    assert "2026年11月25日（水）" in day.text and "瀬戸内 花子" in day.text and "1／3" in day.text
    # The wedge scanner types the token (here in lower case, with a stray newline) and Enter.
    found = post(counter, "/admin/reservations/lookup", {"token": token.lower() + "\n"})
    assert found.status_code == 303 and found.headers["location"] == f"/admin/reservations/{reservation_id}?scanned=1"
    detail = counter.get(found.headers["location"])
    assert "本日は2026年11月24日（火）です" in detail.text  # Tuesday: warned, it is tomorrow's
    for shown in ("瀬戸内 花子", "セトウチ ハナコ", "1950年4月1日（昭和25年）", "090-1234-5678", "2通"):
        assert shown in detail.text
    printed = counter.get(f"/admin/reservations/{reservation_id}/print")
    assert printed.status_code == 200 and "住民票の写し 申請書" in printed.text and "瀬戸内 花子" in printed.text
    assert "script-src 'self'" in printed.headers["content-security-policy"]
    # Not today: refused. On the day: arrived, audited, without the citizen's name in the log.
    refused = post(counter, f"/admin/reservations/{reservation_id}/visit", {"action": "check_in"})
    assert refused.status_code == 303
    clock.travel_to(datetime(2026, 11, 25, 9, 50, tzinfo=clock.TOKYO))
    counter = sign_in(app, "madoguchi")  # a new morning, a new session
    done = post(counter, f"/admin/reservations/{reservation_id}/visit", {"action": "check_in"})
    assert done.status_code == 303
    with app.db.session() as db_session:
        reservation = db_session.get(Reservation, reservation_id)
        assert reservation is not None and reservation.status == ReservationStatus.ARRIVED
        slot_id = reservation.slot_id
    [entry] = audit_entries(app, "reservation.check_in")
    assert entry.staff_name == "madoguchi" and "瀬戸内" not in str(entry.before) + str(entry.after)
    # Done; an action the counter does not have changes (and records) nothing.
    assert post(counter, f"/admin/reservations/{reservation_id}/visit", {"action": "complete"}).status_code == 303
    assert post(counter, f"/admin/reservations/{reservation_id}/visit", {"action": "vanish"}).status_code == 303
    [done_entry] = audit_entries(app, "reservation.complete")
    assert done_entry.before["status"] == "arrived" and done_entry.after["status"] == "done"
    # One slot's capacity, from the day's list: recorded with before and after.
    adjusted = post(counter, f"/admin/reservations/slots/{slot_id}", {"capacity": "5"})
    assert adjusted.status_code == 303 and adjusted.headers["location"] == "/admin/reservations?day=2026-11-25"
    [slot_entry] = audit_entries(app, "reservation.slot")
    assert slot_entry.before == {"capacity": 3, "is_closed": False}
    assert slot_entry.after == {"capacity": 5, "is_closed": False}
    assert sorted(e.action for e in audit_entries(app, "reservation.")) == [
        "reservation.check_in",
        "reservation.complete",
        "reservation.slot",
    ]
    unknown = post(counter, "/admin/reservations/lookup", {"token": "A" * 32})
    assert unknown.status_code == 303 and unknown.headers["location"] == "/admin/reservations"


def test_viewers_see_counts_but_no_personal_data_and_change_nothing(rsv_app: LiveApp, people) -> None:
    app = rsv_app
    reservation_id, token = book(app)
    viewer = people["etsuran"]
    day = viewer.get("/admin/reservations?day=2026-11-25")
    assert day.status_code == 200 and "瀬戸内 花子" not in day.text and "（非表示）" in day.text
    detail = viewer.get(f"/admin/reservations/{reservation_id}")
    assert "花子" not in detail.text and "申請内容（個人情報）は表示されません" in detail.text
    assert viewer.get(f"/admin/reservations/{reservation_id}/print").status_code == 403
    assert post(viewer, "/admin/reservations/lookup", {"token": token}).status_code == 403
    assert post(viewer, f"/admin/reservations/{reservation_id}/cancel").status_code == 403


def test_phone_bookings_share_the_capacity_and_staff_cancel_tells_the_citizen(rsv_app: LiveApp, people) -> None:
    app = rsv_app
    counter = people["madoguchi"]
    form = counter.get("/admin/reservations-new?procedure=inkan&office=osafune&day=2026-11-25")
    assert form.status_code == 200 and "answer_furigana" in form.text
    with app.db.session() as db_session:
        slot = slot_service.get_slots_for_day(db_session=db_session, office_id="osafune", day=WEDNESDAY)[0]
    values = {
        "procedure": "inkan",
        "office": "osafune",
        "day": "2026-11-25",
        "slot": str(slot.id),
        "channel": "phone",
        "answer_name": "電話 一郎",
        "answer_furigana": "でんわ いちろう",
        "answer_birth_date": "昭和35年1月1日",
        "answer_phone": "0869-22-1111",
        "answer_address": "瀬戸内市長船町土師1",
    }
    created = post(counter, "/admin/reservations-new", values)
    assert created.status_code == 303
    with app.db.session() as db_session:
        [phone] = db_session.scalars(select(Reservation).where(Reservation.channel == ReservationChannel.PHONE)).all()
        assert phone.slot_id == slot.id and phone.created_by == "madoguchi"
    # The slot (capacity 1) is full now, for staff as for LINE.
    again = post(counter, "/admin/reservations-new", values)
    assert again.status_code == 400 and "満員" in again.text
    invalid = post(counter, "/admin/reservations-new", {**values, "slot": str(slot.id + 1), "answer_furigana": "電話"})
    assert invalid.status_code == 400 and "フリガナ" in invalid.text
    # Staff cancel a LINE booking: the citizen is told by push.
    user = new_citizen(app)
    reservation_id, _ = book(app, user=user)
    cancelled = post(counter, f"/admin/reservations/{reservation_id}/cancel", {"reason": "窓口の臨時休止"})
    assert cancelled.status_code == 303
    notice = wait_until(lambda: app.sandbox.deliveries(to=user), what="the cancellation push")
    assert "取り消しとなりました" in texts(notice)[0]
    [entry] = audit_entries(app, "reservation.cancel")
    assert entry.summary == "窓口の臨時休止"


def test_setup_edits_are_audited_and_take_effect(rsv_app: LiveApp, people) -> None:
    app = rsv_app
    counter = people["madoguchi"]
    page = counter.get("/admin/reservations-setup")
    assert page.status_code == 200 and "住民票の写し" in page.text and "牛窓支所" in page.text
    setup = "/admin/reservations-setup"
    closed = post(counter, f"{setup}/closures", {"day": "2026-11-26", "office_id": "ushimado", "reason": "研修"}, setup)
    assert closed.status_code == 303
    with app.db.session() as db_session:
        assert [(c.office_id, c.day) for c in db_session.scalars(select(Closure))] == [("ushimado", date(2026, 11, 26))]
        assert (
            slot_service.available_slots(
                db_session=db_session,
                office_id="ushimado",
                day=date(2026, 11, 26),
                now=clock.now(),
                settings=app.settings,
            )
            == []
        )
    renamed = post(
        counter,
        f"{setup}/procedures",
        {
            "id": "juminhyo",
            "name": "住民票の写し（本人・同一世帯）",
            "description": "",
            "duration_minutes": "10",
            "office_ids": "honcho",
            "documents": "本人確認書類\n手数料",
            "fields": "name",
            "keywords": "住民票",
            "is_active": "1",
        },
        setup,
    )
    assert renamed.status_code == 303
    with app.db.session() as db_session:
        procedure = db_session.get(Procedure, "juminhyo")
        assert procedure is not None and procedure.name == "住民票の写し（本人・同一世帯）"
        assert procedure.office_ids == ["honcho"] and procedure.documents == ["本人確認書類", "手数料"]
    rule = post(
        counter,
        f"{setup}/rules",
        {
            "office_id": "ushimado",
            "weekdays": "5",
            "start_time": "09:00",
            "end_time": "10:00",
            "slot_minutes": "30",
            "capacity": "2",
            "is_active": "1",
        },
        setup,
    )
    assert rule.status_code == 303
    bad = post(
        counter,
        f"{setup}/rules",
        {"office_id": "ushimado", "weekdays": "1", "start_time": "12:00", "end_time": "10:00"},
        setup,
    )
    assert bad.status_code == 303 and "error" in bad.headers.get("set-cookie", "")
    actions = sorted(e.action for e in audit_entries(app, "reservation."))
    assert actions == ["reservation.closure", "reservation.procedure", "reservation.rule"]
    assert post(people["etsuran"], f"{setup}/closures", {"day": "2026-11-27"}, setup).status_code == 403


def test_the_staff_api(rsv_app: LiveApp, people) -> None:
    app = rsv_app
    api = httpx.Client(base_url=app.base_url, headers={"Authorization": f"Bearer {new_token(app, 'madoguchi')}"})
    viewer = httpx.Client(base_url=app.base_url, headers={"Authorization": f"Bearer {new_token(app, 'etsuran')}"})
    procedures = api.get("/api/v1/reservations/procedures").json()
    assert [p["id"] for p in procedures][:3] == ["tennyu", "tenshutsu", "tenkyo"]
    slots = api.get("/api/v1/reservations/slots", params={"office_id": "osafune", "day": "2026-11-25"}).json()
    assert len(slots) == 12 and slots[0]["free"] == 1
    assert (
        api.get("/api/v1/reservations/slots", params={"office_id": "nowhere", "day": "2026-11-25"}).status_code == 404
    )
    body = {
        "procedure_id": "inkan",
        "slot_id": slots[0]["id"],
        "answers": {k: v for k, v in ANSWERS.items() if k != "copies"},
    }
    created = api.post("/api/v1/reservations", json=body)
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["channel"] == "phone" and booking["answers"]["name"] == "瀬戸内 花子" and booking["qr_token"]
    full = api.post("/api/v1/reservations", json=body)
    assert full.status_code == 409 and "満員" in full.json()["detail"]
    # Answers missing, on a slot with room: refused for the answers alone (422), and no place taken.
    no_answers = api.post("/api/v1/reservations", json={**body, "slot_id": slots[1]["id"], "answers": {}})
    assert no_answers.status_code == 422 and "入力が正しくありません" in no_answers.json()["detail"]
    still = api.get("/api/v1/reservations/slots", params={"office_id": "osafune", "day": "2026-11-25"}).json()
    assert still[1]["free"] == slots[1]["free"]
    assert viewer.post("/api/v1/reservations", json=body).status_code == 403
    found = api.post("/api/v1/reservations/lookup", json={"token": booking["qr_token"].lower()})
    assert found.status_code == 200 and found.json()["id"] == booking["id"]
    # Viewers change nothing (the token look-up is a POST, refused too) and never see answers.
    assert viewer.post("/api/v1/reservations/lookup", json={"token": booking["qr_token"]}).status_code == 403
    seen_by_viewer = viewer.get(f"/api/v1/reservations/{booking['id']}").json()
    assert seen_by_viewer["answers"] is None and "qr_token" not in seen_by_viewer
    assert api.post("/api/v1/reservations/lookup", json={"token": "nope"}).status_code == 404
    assert api.post(f"/api/v1/reservations/{booking['id']}/check-in").status_code == 409  # not today
    other_id, _ = book(app, hhmm="11:00")
    clock.travel_to(datetime(2026, 11, 25, 8, 45, tzinfo=clock.TOKYO))
    checked = api.post(f"/api/v1/reservations/{booking['id']}/check-in")
    assert checked.status_code == 200 and checked.json()["status"] == "arrived"
    assert api.post(f"/api/v1/reservations/{booking['id']}/cancel", json={"reason": "x"}).status_code == 409
    cancelled = api.post(f"/api/v1/reservations/{other_id}/cancel", json={"reason": "電話で取り消し"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    # The same staff actions as the pages: audited (as the token's staff member), refusals not.
    entries = sorted(audit_entries(app, "reservation."), key=lambda e: e.id)
    recorded = [(e.action, e.via, e.target_id, e.summary) for e in entries]
    assert recorded == [
        ("reservation.create", "api", str(booking["id"]), None),
        ("reservation.check_in", "api", str(booking["id"]), None),
        ("reservation.cancel", "api", str(other_id), "電話で取り消し"),
    ]
    assert api.get("/api/v1/reservations/999999").status_code == 404
    assert httpx.get(f"{app.base_url}/api/v1/reservations/procedures").status_code == 401

"""The staff pages of スマホ教室 through the live app (SQLite and PostgreSQL), signed in as counter,
viewer and admin: sessions created and edited by form (one, or a series at once), phone signups on the
same places and waitlist as LINE, the roster with and without personal data, the CSV for Excel,
notices, attendance by tick and by QR token, the draw by hand, calling a session off; every change
audited, and viewers changing nothing."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import clock
from bot.outbox import OutboxMessage
from handlers.classes.models import Channel, ClassSession, Details, Mode, SessionCreate, Signup, SignupStatus
from handlers.classes.service import sessions
from handlers.classes.service import signups as signup_service
from tests.admin.conftest import add_citizen, add_staff, page_csrf, sign_in
from tests.handlers.classes.conftest import NOW
from tests.support import LiveApp, live_app

STARTS = datetime(2026, 12, 8, 10, 0, tzinfo=clock.TOKYO)  # a Tuesday, two weeks after NOW
HANAKO = {"name": "瀬戸内 花子", "furigana": "せとうち はなこ", "phone": "090-1234-5678"}
TARO = {"name": "牛窓 太郎", "furigana": "ウシマド タロウ", "phone": "0869-22-1111"}


@pytest.fixture
def app(database_url: str) -> Iterator[LiveApp]:
    """The live app without its scheduler: here staff draw the lottery by hand, and no sweep may
    draw it first."""
    with live_app(database_url, scheduler_enabled=False) as running:
        yield running


@pytest.fixture
def people(app: LiveApp) -> dict[str, httpx.Client]:
    """Signed-in browsers: counter (madoguchi), viewer (etsuran), admin (kanri), on NOW's morning."""
    clock.travel_to(NOW)
    app.app.state.admin_config.login_delay_seconds = 0
    clients = {}
    for name, role in (("madoguchi", StaffRole.COUNTER), ("etsuran", StaffRole.VIEWER), ("kanri", StaffRole.ADMIN)):
        add_staff(app, name, role)
        clients[name] = sign_in(app, name)
    return clients


def post(client: httpx.Client, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
    """A form post as the page's own form sends it (with the session's CSRF token)."""
    return client.post(path, data={"csrf_token": page_csrf(client.get("/admin/classes")), **(data or {})})


def follow(client: httpx.Client, response: httpx.Response) -> str:
    """The page a 303 leads to, with its one-time notice."""
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def new_session(app: LiveApp, *, capacity: int = 5, **fields: Any) -> int:
    with app.db.session() as db_session:
        values: dict[str, Any] = {
            "title": "はじめてのスマホ",
            "starts_at": STARTS,
            "ends_at": STARTS + timedelta(minutes=90),
            "venue": "中央公民館",
            "capacity": capacity,
        }
        values.update(fields)
        return sessions.create(db_session=db_session, session_in=SessionCreate(**values)).id


def line_signup(app: LiveApp, session_id: int, name: str = "邑久 次郎") -> tuple[int, str]:
    """A citizen's own signup on LINE (as the conversation makes it), by a friend of the account."""
    line_user_id = add_citizen(app, name)
    with app.db.session() as db_session:
        signed = signup_service.create(
            db_session=db_session,
            session_id=session_id,
            details=Details(name=name, furigana="オク ジロウ", phone=f"080{uuid.uuid4().int % 10**8:08d}"),
            channel=Channel.LINE,
            line_user_id=line_user_id,
            settings=app.settings,
        )
        assert signed.token
        return signed.signup.id, signed.token


def signup_row(app: LiveApp, signup_id: int) -> Signup:
    with app.db.session() as db_session:
        signup = db_session.get(Signup, signup_id)
        assert signup is not None
        db_session.expunge(signup)
        return signup


def session_row(app: LiveApp, session_id: int) -> ClassSession:
    with app.db.session() as db_session:
        session = db_session.get(ClassSession, session_id)
        assert session is not None
        db_session.expunge(session)
        return session


def audit_actions(app: LiveApp) -> list[str]:
    with app.db.session() as db_session:
        return [
            e.action for e in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)) if e.action[:6] == "class."
        ]


def session_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "title": "はじめてのスマホ",
        "level": "first",
        "description": "電源の入れ方から練習します。",
        "day": "2026-12-08",
        "start": "10:00",
        "end": "11:30",
        "venue": "中央公民館",
        "venue_address": "岡山県瀬戸内市邑久町尾張465-1",
        "latitude": "34.663322",
        "longitude": "134.09375",
        "capacity": "12",
        "bring": "お持ちのスマートフォン",
        "phones": ["iphone", "android"],
        "signup_opens_at": "",
        "signup_deadline": "2026-12-01T17:00",
        "mode": "lottery",
        "priority_age": "75",
    }
    form.update(overrides)
    return form


def test_counter_creates_a_session_by_form_and_edits_its_capacity(app: LiveApp, people) -> None:
    counter = people["madoguchi"]
    assert counter.get("/admin/classes/new").status_code == 200
    # Mistakes: told in Japanese, every one, and what was typed stays.
    refused = post(counter, "/admin/classes/new", session_form(end="09:00", capacity="たくさん", title="スマホ入門"))
    assert refused.status_code == 400
    assert "定員は 0〜500 の数字で入力してください。" in refused.text
    refused = post(counter, "/admin/classes/new", session_form(end="09:00", title="スマホ入門"))
    assert refused.status_code == 400 and "終了時刻は開始時刻より後にしてください。" in refused.text
    assert 'value="スマホ入門"' in refused.text and 'value="34.663322"' in refused.text
    assert (
        "申込締切は教室の開始より前にしてください。"
        in post(counter, "/admin/classes/new", session_form(signup_deadline="2026-12-09T10:00")).text
    )
    with app.db.session() as db_session:
        assert db_session.scalars(select(ClassSession)).first() is None

    created = post(counter, "/admin/classes/new", session_form())
    assert created.status_code == 303
    session_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert "スマホ教室を登録しました" in follow(counter, created)
    session = session_row(app, session_id)
    assert session.starts_at == STARTS and session.ends_at == STARTS + timedelta(minutes=90)
    assert session.signup_deadline == datetime(2026, 12, 1, 17, 0, tzinfo=clock.TOKYO)
    assert (session.mode, session.priority_age, session.capacity, session.phones) == (
        "lottery",
        75,
        12,
        ["iphone", "android"],
    )
    assert (session.latitude, session.venue_address) == (34.663322, "岡山県瀬戸内市邑久町尾張465-1")

    listed = counter.get("/admin/classes").text
    assert "2026年12月8日（火）10:00〜11:30" in listed and "はじめてのスマホ" in listed and "抽選" in listed
    assert "12／0／12" in listed

    # The edit form shows what is there; a refused edit keeps nothing, a good one changes the capacity.
    edit = counter.get(f"/admin/classes/{session_id}/edit")
    assert edit.status_code == 200 and 'value="2026-12-01T17:00"' in edit.text and 'value="12"' in edit.text
    bad = post(counter, f"/admin/classes/{session_id}/edit", session_form(capacity="20", end="09:00"))
    assert bad.status_code == 400 and "終了時刻は開始時刻より後にしてください。" in bad.text
    assert session_row(app, session_id).capacity == 12
    saved = post(counter, f"/admin/classes/{session_id}/edit", session_form(capacity="20", mode="first_come"))
    assert "保存しました。" in follow(counter, saved)
    assert session_row(app, session_id).capacity == 20
    assert audit_actions(app) == ["class.session_create", "class.session_update"]


def test_a_series_is_created_at_once(app: LiveApp, people) -> None:
    counter = people["madoguchi"]
    series = {
        **session_form(mode="first_come", priority_age="", signup_deadline=""),
        "weekday": "1",  # Tuesday
        "nth": "2",
        "first_day": "2026-12-01",
        "last_day": "2027-03-31",
        "opens_days_before": "30",
        "deadline_days_before": "2",
    }
    assert counter.get("/admin/classes/new-series").status_code == 200
    refused = post(counter, "/admin/classes/new-series", {**series, "last_day": "2026-11-30"})
    assert refused.status_code == 400 and "期間の最終日は初日より後にしてください。" in refused.text
    none = post(counter, "/admin/classes/new-series", {**series, "last_day": "2026-12-07"})
    assert none.status_code == 400 and "該当する開催日がありません" in none.text

    created = post(counter, "/admin/classes/new-series", series)
    assert "4回分登録しました" in follow(counter, created)
    weekly = post(counter, "/admin/classes/new-series", {**series, "nth": "", "last_day": "2026-12-31"})
    assert "5回分登録しました" in follow(counter, weekly)
    with app.db.session() as db_session:
        found = list(db_session.scalars(select(ClassSession).order_by(ClassSession.starts_at, ClassSession.id)))
        by_series: dict[str | None, list[ClassSession]] = {}
        for each in found:
            by_series.setdefault(each.series_id, []).append(each)
    assert None not in by_series and sorted(len(v) for v in by_series.values()) == [4, 5]
    second_tuesdays = next(v for v in by_series.values() if len(v) == 4)
    days = [s.starts_at.astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M") for s in second_tuesdays]
    assert days == ["2026-12-08 10:00", "2027-01-12 10:00", "2027-02-09 10:00", "2027-03-09 10:00"]
    for each in second_tuesdays:
        assert each.signup_deadline == each.starts_at - timedelta(days=2)
        assert each.signup_opens_at == each.starts_at - timedelta(days=30)
    assert audit_actions(app) == ["class.series_create", "class.series_create"]


def test_phone_signups_take_the_places_then_the_waitlist_and_only_counter_sees_names(app: LiveApp, people) -> None:
    counter, viewer = people["madoguchi"], people["etsuran"]
    session_id = new_session(app, capacity=1)
    roster = f"/admin/classes/{session_id}"

    missing = post(counter, f"{roster}/signups", {"channel": "phone", "name": "瀬戸内 花子", "phone": ""})
    assert missing.status_code == 400 and "電話番号を確認してください" in missing.text
    assert 'value="瀬戸内 花子"' in missing.text

    first = post(
        counter, f"{roster}/signups", {"channel": "phone", "phone_type": "android", "age_group": "75", **HANAKO}
    )
    assert "参加決定です" in follow(counter, first)
    second = post(counter, f"{roster}/signups", {"channel": "counter", "needs": ["hearing", "escort"], **TARO})
    assert "満員のため、キャンセル待ち（1番目）で登録しました" in follow(counter, second)
    again = post(counter, f"{roster}/signups", {"channel": "phone", **HANAKO})
    assert again.status_code == 400 and "すでに申し込まれています" in again.text

    with app.db.session() as db_session:
        found = signup_service.for_session(db_session=db_session, session_id=session_id)
        assert [(s.channel, s.status) for s in found] == [("phone", "confirmed"), ("counter", "waitlisted")]
        details = signup_service.details_of(found[0], app.settings)
        assert details is not None and (details.furigana, details.phone) == ("セトウチ ハナコ", "09012345678")

    page = counter.get(roster).text
    for shown in ("瀬戸内 花子", "セトウチ ハナコ", "090-1234-5678", "Android", "75〜79歳", "牛窓 太郎", "0869221111"):
        assert shown in page
    assert "耳が遠い、付き添いあり" in page and "キャンセル待ち（1番目）" in page and "要電話連絡" in page
    assert 'id="count-to-phone">2' in page

    hidden = viewer.get(roster)
    assert hidden.status_code == 200 and "（非表示）" in hidden.text
    for secret in ("瀬戸内 花子", "セトウチ", "090-1234-5678", "牛窓 太郎", "耳が遠い"):
        assert secret not in hidden.text
    assert "出席にする" not in hidden.text and "申込を登録" not in hidden.text

    # Viewers change nothing, whatever they post.
    signup_id = found[0].id
    for path, data in (
        (f"{roster}/signups", {"channel": "phone", **TARO}),
        (f"{roster}/signups/{signup_id}/attendance", {"attended": "1"}),
        (f"{roster}/signups/{signup_id}/cancel", {}),
        (f"{roster}/notice", {"body": "テスト"}),
        (f"{roster}/cancel", {}),
        (f"{roster}/edit", session_form()),
        ("/admin/classes/new", session_form()),
    ):
        assert post(viewer, path, data).status_code == 403, path
    assert viewer.get("/admin/classes/new").status_code == 403
    assert audit_actions(app) == ["class.signup_create", "class.signup_create"]

    # Cancelling the confirmed place moves the waitlist up, in the same request.
    cancelled = post(counter, f"{roster}/signups/{signup_id}/cancel", {"reason": "体調不良"})
    text = follow(counter, cancelled)
    assert f"No.{signup_id} の申込を取り消しました" in text and f"No.{found[1].id}が参加決定になりました" in text
    assert signup_row(app, found[1].id).status == SignupStatus.CONFIRMED
    assert "すでに取り消されています" in follow(counter, post(counter, f"{roster}/signups/{signup_id}/cancel"))


def test_the_csv_opens_in_excel_and_viewers_get_it_without_personal_columns(app: LiveApp, people) -> None:
    counter, viewer = people["madoguchi"], people["etsuran"]
    session_id = new_session(app, capacity=1)
    post(counter, f"/admin/classes/{session_id}/signups", {"channel": "phone", "phone_type": "iphone", **HANAKO})
    post(counter, f"/admin/classes/{session_id}/signups", {"channel": "counter", **TARO, "note": "=1+1"})

    response = counter.get(f"/admin/classes/{session_id}/roster.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="class-{session_id}-roster.csv"'
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header = "番号,状態,申込方法,順番,氏名,フリガナ,電話番号,機種,年代,配慮事項,出席,申込日時"
    assert raw.decode("utf-8-sig").split("\r\n")[0] == header and len(rows[0]) == 12
    assert rows[1][1:9] == ["参加決定", "電話", "", "瀬戸内 花子", "セトウチ ハナコ", "090-1234-5678", "iPhone", ""]
    assert rows[1][11] == "2026/11/24 10:00"
    assert rows[2][1:5] == ["キャンセル待ち", "窓口", "1", "牛窓 太郎"]
    assert rows[2][9] == "'=1+1"  # what staff typed stays text in Excel, never a formula
    assert len(rows) == 3

    seen = viewer.get(f"/admin/classes/{session_id}/roster.csv")
    assert seen.status_code == 200
    viewer_rows = list(csv.reader(io.StringIO(seen.content.decode("utf-8-sig"), newline="")))
    assert viewer_rows[0] == ["番号", "状態", "申込方法", "順番", "出席", "申込日時"]
    assert len(viewer_rows) == 3 and "花子" not in seen.content.decode("utf-8-sig")
    assert counter.get("/admin/classes/999999/roster.csv").status_code == 404


def test_notices_go_on_line_and_count_who_must_be_phoned(app: LiveApp, people) -> None:
    counter = people["madoguchi"]
    session_id = new_session(app, capacity=1)
    signup_id, _ = line_signup(app, session_id)
    line_user_id = signup_row(app, signup_id).line_user_id
    post(counter, f"/admin/classes/{session_id}/signups", {"channel": "phone", **HANAKO})
    post(counter, f"/admin/classes/{session_id}/signups", {"channel": "counter", **TARO})

    assert "お知らせの本文を入力してください" in follow(counter, post(counter, f"/admin/classes/{session_id}/notice"))
    sent = post(counter, f"/admin/classes/{session_id}/notice", {"body": "会場が2階の会議室に変わりました。"})
    assert "LINEで1人に送りました。電話連絡が必要な方: 2人" in follow(counter, sent)
    with app.db.session() as db_session:
        pushes = [m for m in db_session.scalars(select(OutboxMessage)) if m.purpose.startswith("class_notice:")]
    # One push, to the LINE participant (its body is not kept once delivery is done with it: the audit
    # record below keeps the city's words).
    assert [p.to for p in pushes] == [line_user_id]
    [entry] = [e for e in audit_entries(app) if e.action == "class.notice"]
    assert entry.after == {"body": "会場が2階の会議室に変わりました。", "line_users": 1, "to_phone": 2}


def audit_entries(app: LiveApp) -> list[AuditEntry]:
    with app.db.session() as db_session:
        found = list(db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        for entry in found:
            db_session.expunge(entry)
        return found


def test_attendance_by_tick_and_by_the_qr_code(app: LiveApp, people) -> None:
    counter = people["madoguchi"]
    session_id = new_session(app, capacity=1)
    other_id = new_session(app, title="LINEの使い方")
    roster = f"/admin/classes/{session_id}"
    confirmed_id, token = line_signup(app, session_id)
    waiting_id, waiting_token = line_signup(app, session_id, name="長船 三郎")
    _, other_token = line_signup(app, other_id, name="長船 四郎")
    clock.travel_to(STARTS - timedelta(minutes=10))  # the class's morning
    counter = sign_in(app, "madoguchi")

    page = counter.get(roster).text
    assert "QRコードで出席確認" in page and f'action="{roster}/scan"' in page
    # The scanner types the token (lower case, a trailing newline); the roster says who arrived.
    scanned = post(counter, f"{roster}/scan", {"token": token.lower() + "\n"})
    assert scanned.headers["location"] == f"{roster}?arrived={confirmed_id}"
    arrived = follow(counter, scanned)
    assert "出席を確認しました" in arrived and "邑久 次郎" in arrived and "出席を記録しました" in arrived
    attended_at = signup_row(app, confirmed_id).attended_at
    assert attended_at is not None and timedelta(0) <= clock.now() - attended_at < timedelta(minutes=1)
    assert "すでに出席を記録しています" in follow(counter, post(counter, f"{roster}/scan", {"token": token}))

    refusals = {
        other_token: "別のスマホ教室（2026年12月8日（火）10:00〜11:30「LINEの使い方」）の申込です",
        "A" * 32: "そのQRコードの申込は見つかりません",
        "not a token": "そのQRコードの申込は見つかりません",
        waiting_token: "参加決定の方だけ出席にできます（この申込は「キャンセル待ち」です）",
    }
    for typed, said in refusals.items():
        refused = post(counter, f"{roster}/scan", {"token": typed})
        assert refused.headers["location"] == roster and said in follow(counter, refused)

    # By hand: untick, tick again; a waiting signup cannot attend.
    untick = post(counter, f"{roster}/signups/{confirmed_id}/attendance", {"attended": "0"})
    assert "出席を取り消しました" in follow(counter, untick) and signup_row(app, confirmed_id).attended_at is None
    tick = post(counter, f"{roster}/signups/{confirmed_id}/attendance", {"attended": "1"})
    assert "出席にしました" in follow(counter, tick) and signup_row(app, confirmed_id).attended_at is not None
    waiting = post(counter, f"{roster}/signups/{waiting_id}/attendance", {"attended": "1"})
    assert "参加決定の方だけ出席にできます" in follow(counter, waiting)
    assert signup_row(app, waiting_id).attended_at is None
    # A signup of another session cannot be reached through this one.
    assert post(counter, f"/admin/classes/{other_id}/signups/{confirmed_id}/attendance").status_code == 404
    assert audit_actions(app) == ["class.attendance"] * 3


def test_a_lottery_is_drawn_by_hand_after_its_deadline_and_shows_its_seed(app: LiveApp, people) -> None:
    counter = people["madoguchi"]
    session_id = new_session(
        app, capacity=1, mode=Mode.LOTTERY, signup_deadline=NOW + timedelta(days=2), priority_age=75
    )
    roster = f"/admin/classes/{session_id}"
    first = post(counter, f"{roster}/signups", {"channel": "phone", "age_group": "80", **HANAKO})
    assert "抽選の申込として登録しました" in follow(counter, first)
    post(counter, f"{roster}/signups", {"channel": "phone", **TARO})
    early = post(counter, f"{roster}/draw")
    assert "申込締切の前なので、まだ抽選できません。" in follow(counter, early)

    clock.travel_to(NOW + timedelta(days=3))
    counter = sign_in(app, "madoguchi")
    assert "今すぐ抽選する" in counter.get(roster).text
    drawn = post(counter, f"{roster}/draw")
    text = follow(counter, drawn)
    session = session_row(app, session_id)
    assert session.draw_seed and f"記録したシード: {session.draw_seed}" in text
    assert "参加決定1人、キャンセル待ち1人" in text and 'id="draw-seed"' in text
    with app.db.session() as db_session:
        found = signup_service.for_session(db_session=db_session, session_id=session_id)
        winner = signup_service.details_of(found[0], app.settings)
    assert winner is not None and winner.name == "瀬戸内 花子"  # 80歳 is in the priority group (75歳以上)
    assert "すでに抽選済みです" in follow(counter, post(counter, f"{roster}/draw"))
    first_come = new_session(app)
    assert "抽選はありません" in follow(counter, post(counter, f"/admin/classes/{first_come}/draw"))


def test_calling_a_session_off_tells_line_and_counts_phone_calls(app: LiveApp, people) -> None:
    counter, admin = people["madoguchi"], people["kanri"]
    session_id = new_session(app, is_sample=True)
    line_signup(app, session_id)
    post(counter, f"/admin/classes/{session_id}/signups", {"channel": "phone", **HANAKO})
    assert "サンプル" in counter.get("/admin/classes").text

    called_off = post(admin, f"/admin/classes/{session_id}/cancel", {"reason": "台風のため"})
    text = follow(admin, called_off)
    assert "この教室を中止にしました。LINEで1人にお知らせしました。電話連絡が必要な方: 1人" in text
    assert "この教室は中止になりました。" in text and "申込を登録" not in text
    assert session_row(app, session_id).status == "cancelled"
    assert "中止" in counter.get("/admin/classes").text
    again = post(admin, f"/admin/classes/{session_id}/cancel")
    assert "すでに中止になっています" in follow(admin, again)
    [entry] = [e for e in audit_entries(app) if e.action == "class.session_cancel"]
    assert entry.staff_name == "kanri" and entry.summary == "台風のため"


def test_the_list_past_sessions_and_the_dashboard_panel(app: LiveApp, people) -> None:
    counter, viewer = people["madoguchi"], people["etsuran"]
    upcoming = new_session(app, capacity=2, title="写真の撮り方")
    post(counter, f"/admin/classes/{upcoming}/signups", {"channel": "phone", **HANAKO})
    month_ago = NOW - timedelta(days=30)
    past = new_session(app, title="先月の教室", starts_at=month_ago, ends_at=month_ago + timedelta(hours=1))

    listed = viewer.get("/admin/classes").text
    assert "写真の撮り方" in listed and "2／1／1" in listed and "先月の教室" not in listed
    assert "教室を登録" not in listed  # viewers read only
    older = viewer.get("/admin/classes?past=1").text
    assert "先月の教室" in older and "写真の撮り方" not in older and f"/admin/classes/{past}" in older

    dashboard = viewer.get("/admin/").text
    panel = dashboard.split('id="panel-box-upcoming_classes"', 1)[1].split("</section>", 1)[0]
    assert "12月8日（火）10:00 写真の撮り方" in panel and "残り1／2人・キャンセル待ち0人" in panel
    assert "今後のスマホ教室" in panel and "準備中" not in panel
    assert counter.get("/admin/classes/999999").status_code == 404
    assert people["kanri"].get(f"/admin/classes/{upcoming}").status_code == 200

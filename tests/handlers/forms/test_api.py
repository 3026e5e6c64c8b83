"""/api/v1 for 申請・通報 with staff tokens, on SQLite and PostgreSQL: the forms, a form's cases
(filters, paging, 404), one case (answers, place, photos, trail), and the staff actions: a status
change (422 outside the workflow; the citizen's push reaches the LINE sandbox), a reply (through the
staff inbox's thread; 409 for an anonymous letter), a letter's routing, drafts, answer and approval
(403 for the answer's author), the exports; who sees personal data, and department visibility."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole, StaffUser
from admin.nav import Section, staff_roles
from bot import clock
from bot.capabilities import load
from bot.capability import Capabilities
from handlers.forms import api as forms_api
from handlers.forms import service as forms_service
from handlers.forms.models import Submission
from tests.admin.conftest import add_staff, new_token, sign_in
from tests.support import LiveApp, live_app, new_citizen, wait_until

# Tuesday 1 December 2026, 10:00 in Tokyo.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=clock.TOKYO)
BOAR = {"animal": "イノシシ", "seen_on": "2026-11-30", "group": "群れ", "count": "4", "captured": "いいえ"}


def with_section(section: Section) -> Capabilities:
    """The product's capabilities with the forms' admin section replaced by this one."""
    return Capabilities(tuple(replace(c, admin=lambda: (section,)) if c.name == "forms" else c for c in load()))


# A section that would let every role read cases: what roles without personal data then get.
READERS = Section(
    "forms", "申請・通報", "/forms", staff_roles("counter", "viewer", "broadcaster"), api_router=forms_api.router
)


def start(database_url: str, capabilities: Capabilities | None = None) -> contextlib.AbstractContextManager[LiveApp]:
    clock.travel_to(NOW)
    return live_app(database_url, capabilities=capabilities)


def seeded(running: LiveApp) -> LiveApp:
    running.app.state.scheduler.pause()  # no photo fetch or purge behind the tests' back
    with running.db.session() as db_session:
        forms_service.seed(db_session=db_session)
    return running


@pytest.fixture
def app(database_url: str) -> Iterator[LiveApp]:
    """The whole product, its forms section's API under /api/v1 (handlers/forms/admin: counter and admin)."""
    with start(database_url) as running:
        yield seeded(running)


@pytest.fixture
def api(app: LiveApp) -> Iterator[dict[StaffRole, httpx.Client]]:
    """An API client per role (Bearer token)."""
    clients = {}
    for role in StaffRole:
        clients[role] = client_for(app, f"{role.value}-user", role)
    yield clients
    for client in clients.values():
        client.close()


def client_for(app: LiveApp, name: str, role: StaffRole, departments: tuple[str, ...] = ()) -> httpx.Client:
    add_staff(app, name, role)
    if departments:
        with app.db.session() as db_session:
            user = db_session.scalars(select(StaffUser).where(StaffUser.name == name)).one()
            forms_service.set_departments(db_session=db_session, staff_user_id=user.id, departments=departments)
    return httpx.Client(base_url=app.base_url, headers={"Authorization": f"Bearer {new_token(app, name)}"}, timeout=30)


def submit(
    app: LiveApp,
    key: str,
    answers: dict[str, str],
    *,
    user: str | None = None,
    place: forms_service.Place | None = None,
    anonymous: bool = False,
    photos: int = 0,
) -> Submission:
    """A case as the chat makes it (service.submit), with photos already fetched."""
    user = user or "U" + uuid.uuid4().hex
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key=key)
        assert form is not None
        version = forms_service.current_version(db_session=db_session, form=form)
        assert version is not None
        tokens = []
        for n in range(photos):
            photo = forms_service.add_photo(
                db_session=db_session, line_user_id=user, question="photo", line_message_id=f"m{n}"
            )
            forms_service.store_photo(
                db_session=db_session,
                settings=app.settings,
                photo=photo,
                data=b"\x89PNG" + bytes(n),
                thumbnail=b"\x89PNG",
                media_type="image/png",
            )
            tokens.append(photo.token)
        submission, created = forms_service.submit(
            db_session=db_session,
            settings=app.settings,
            version=version,
            line_user_id=user,
            answers=answers,
            place=place,
            photo_tokens=tokens,
            anonymous=anonymous,
            nonce=uuid.uuid4().hex,
        )
        assert created
        return submission


def letter(app: LiveApp, user: str | None = None, *, anonymous: bool = False) -> Submission:
    answers = {
        "subject": "公園の遊具について",
        "body": "ブランコを直してください。",
        "named": "いいえ" if anonymous else "はい",
    }
    if not anonymous:
        answers["name"] = "瀬戸内 花子"
    return submit(app, "mayor_letter", answers, user=user, anonymous=anonymous)


def pushes_to(app: LiveApp, user: str) -> list[str]:
    return [m.get("text", "") for d in app.sandbox.deliveries(to=user, endpoint="push") for m in d.messages]


def audited(app: LiveApp, action: str) -> list[AuditEntry]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_the_forms_are_listed_with_their_current_questions(api: dict[StaffRole, httpx.Client]) -> None:
    response = api[StaffRole.COUNTER].get("/api/v1/forms")
    assert response.status_code == 200, response.text
    forms = {f["key"]: f for f in response.json()}
    assert set(forms) == {"ninpu_8m", "kaigo_shinsei", "wildlife", "road_hazard", "mayor_letter"}
    wildlife = forms["wildlife"]
    assert (wildlife["title"], wildlife["kind"], wildlife["version"]) == ("有害鳥獣の目撃・捕獲報告", "report", 1)
    assert wildlife["active"] is True and wildlife["sample"] is True
    assert wildlife["workflow"] == ["受付", "確認中", "対応中", "完了"]
    animal = wildlife["questions"][0]
    assert (animal["key"], animal["kind"], animal["label"], animal["required"]) == (
        "animal",
        "single_choice",
        "動物",
        True,
    )
    assert animal["choices"][:2] == ["イノシシ", "シカ"]
    assert [q["key"] for q in wildlife["questions"]][-1] == "damage"


def test_a_forms_cases_are_listed_newest_first_filtered_and_paged(
    app: LiveApp, api: dict[StaffRole, httpx.Client]
) -> None:
    counter = api[StaffRole.COUNTER]
    first = submit(app, "wildlife", BOAR, place=forms_service.Place("邑久町尾張", 34.66, 134.09))
    clock.travel_to(NOW + timedelta(days=2))
    second = submit(app, "wildlife", {**BOAR, "animal": "シカ"})
    clock.travel_to(NOW + timedelta(days=4))  # the first is overdue now (3 days), the second not yet
    third = submit(app, "wildlife", {**BOAR, "animal": "サル"})
    submit(app, "road_hazard", {"what": "側溝のふた", "school_route": "はい", "detail": "ふたが割れています"})
    with app.db.session() as db_session:
        case = forms_service.get_submission(db_session=db_session, submission_id=second.id)
        assert case is not None
        case.status = "対応中"

    listed = counter.get("/api/v1/forms/wildlife/submissions")
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [c["id"] for c in page["items"]] == [third.id, second.id, first.id]
    assert (page["total"], page["limit"], page["offset"]) == (3, 100, 0)
    oldest = page["items"][2]
    assert oldest["receipt_no"] == first.receipt_no and oldest["receipt_no"].startswith("2612-")
    assert (oldest["status"], oldest["department"], oldest["version"], oldest["overdue"]) == (
        "受付",
        "農林水産課",
        1,
        True,
    )
    assert oldest["place"] == {"name": "邑久町尾張", "lat": 34.66, "lng": 134.09}
    assert oldest["answers"]["animal"] == {"label": "動物", "value": "イノシシ", "display": "イノシシ"}
    assert oldest["answers"]["seen_on"]["display"].startswith("2026年11月30日")
    assert page["items"][0]["place"] is None and page["items"][0]["overdue"] is False

    def ids(**params: str | int) -> list[int]:
        response = counter.get("/api/v1/forms/wildlife/submissions", params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert ids(status="対応中") == [second.id]
    assert ids(status="完了") == []
    assert ids(department="農林水産課", limit=2) == [third.id, second.id]
    assert ids(department="建設課") == []
    assert ids(limit=1, offset=1) == [second.id]
    assert ids(since="2026-12-03") == [third.id, second.id]
    assert ids(until="2026-12-02") == [first.id]
    assert ids(since="2026-12-03", until="2026-12-03") == [second.id]
    assert ids(overdue="true") == [first.id]

    assert counter.get("/api/v1/forms/nothing_here/submissions").status_code == 404
    assert counter.get("/api/v1/forms/Bad%20Key/submissions").status_code == 404
    for bad in ({"limit": 501}, {"limit": 0}, {"since": "1900-01-01"}, {"until": "9999-12-31"}, {"status": "a\x00b"}):
        assert counter.get("/api/v1/forms/wildlife/submissions", params=bad).status_code == 422, bad

    # Cases are personal data: the forms section is for counter staff (and admins).
    for role in (StaffRole.VIEWER, StaffRole.BROADCASTER):
        assert api[role].get("/api/v1/forms/wildlife/submissions").status_code == 403
        assert api[role].get("/api/v1/forms").status_code == 403


def test_a_case_reads_with_its_answers_place_photos_and_trail(app: LiveApp, api: dict[StaffRole, httpx.Client]) -> None:
    counter = api[StaffRole.COUNTER]
    case = submit(
        app,
        "wildlife",
        {**BOAR, "damage": "畑の芋を掘られた"},
        place=forms_service.Place("牛窓町牛窓", 34.62, 134.15),
        photos=2,
    )
    response = counter.get(f"/api/v1/submissions/{case.id}")
    assert response.status_code == 200, response.text
    read = response.json()
    assert (read["id"], read["receipt_no"], read["form_key"], read["form_title"], read["version"]) == (
        case.id,
        case.receipt_no,
        "wildlife",
        "有害鳥獣の目撃・捕獲報告",
        1,
    )
    assert (read["status"], read["workflow"], read["department"], read["anonymous"]) == (
        "受付",
        ["受付", "確認中", "対応中", "完了"],
        "農林水産課",
        False,
    )
    due = datetime.fromisoformat(read["due_at"])
    assert timedelta(0) <= due - (NOW + timedelta(days=3)) < timedelta(minutes=1)  # 3 days after it came
    assert read["closed_at"] is None and read["thread_id"] is None and read["routes"] == []
    assert list(read["answers"]) == ["animal", "seen_on", "group", "count", "captured", "damage"]
    assert read["answers"]["count"] == {"label": "群れの数", "value": "4", "display": "4"}
    assert read["place"] == {"name": "牛窓町牛窓", "lat": 34.62, "lng": 134.15}
    assert read["photo_count"] == 2 and len(read["photos"]) == 2
    assert all(p["url"].startswith(f"{app.base_url}/admin/forms/cases/{case.id}/photos/") for p in read["photos"])
    assert [(e["kind"], e["actor"]) for e in read["events"]] == [("submitted", "市民")]
    page = sign_in(app, "counter-user")  # the admin's case page serves the photo at that address
    try:
        photo = page.get(read["photos"][1]["url"].removeprefix(app.base_url))
        assert photo.status_code == 200 and photo.content == b"\x89PNG\x00"
    finally:
        page.close()

    # Ids that do not exist, or cannot: 404 (a word is not an id: 422).
    for missing in (case.id + 1000, 0, -1, 2**31, 2**63):
        assert counter.get(f"/api/v1/submissions/{missing}").status_code == 404, missing
    assert counter.get("/api/v1/submissions/abc").status_code == 422
    assert api[StaffRole.VIEWER].get(f"/api/v1/submissions/{case.id}").status_code == 403


def test_a_status_change_is_pushed_to_the_citizen_and_audited(app: LiveApp, api: dict[StaffRole, httpx.Client]) -> None:
    user = new_citizen(app)
    case = submit(app, "wildlife", BOAR, user=user)
    counter = api[StaffRole.COUNTER]

    changed = counter.post(
        f"/api/v1/submissions/{case.id}/status", json={"status": "確認中", "message": "現地を見に行きます。"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"id": case.id, "status": "確認中", "closed_at": None, "notified": True}
    wait_until(lambda: any(case.receipt_no in text for text in pushes_to(app, user)), what="the status push")
    push = next(text for text in pushes_to(app, user) if case.receipt_no in text)
    assert "確認中" in push and "現地を見に行きます。" in push
    assert [e.target_id for e in audited(app, "forms.status")] == [str(case.id)]

    done = counter.post(f"/api/v1/submissions/{case.id}/status", json={"status": "完了"}).json()
    assert done["status"] == "完了" and done["closed_at"] is not None

    refused = counter.post(f"/api/v1/submissions/{case.id}/status", json={"status": "保留"})
    assert refused.status_code == 422
    assert "「保留」はこの様式の状態にありません" in refused.json()["detail"]
    for body in ({"status": ""}, {"status": "確認中", "message": "x" * 2001}, {"status": "確\x00認"}, {}):
        assert counter.post(f"/api/v1/submissions/{case.id}/status", json=body).status_code == 422, body
    assert counter.post("/api/v1/submissions/99999/status", json={"status": "完了"}).status_code == 404
    # Reading roles may not act.
    assert (
        api[StaffRole.VIEWER].post(f"/api/v1/submissions/{case.id}/status", json={"status": "受付"}).status_code == 403
    )
    read = counter.get(f"/api/v1/submissions/{case.id}").json()
    assert [(e["kind"], e["status"], e["text"]) for e in read["events"]] == [
        ("submitted", None, None),
        ("status", "確認中", "現地を見に行きます。"),
        ("status", "完了", None),
    ]

    # An anonymous letter's writer is never told.
    anonymous = letter(app, anonymous=True)
    quiet = counter.post(f"/api/v1/submissions/{anonymous.id}/status", json={"status": "完了"})
    assert quiet.status_code == 200 and quiet.json()["notified"] is False


def test_a_reply_goes_through_the_staff_inbox_and_never_to_an_anonymous_letter(
    app: LiveApp, api: dict[StaffRole, httpx.Client]
) -> None:
    user = new_citizen(app)
    case = submit(app, "road_hazard", {"what": "街灯", "school_route": "はい", "detail": "夜は真っ暗です"}, user=user)
    counter = api[StaffRole.COUNTER]

    sent = counter.post(
        f"/api/v1/submissions/{case.id}/reply", json={"text": "  写真をもう一枚送っていただけますか？\r\n"}
    )
    assert sent.status_code == 201, sent.text
    thread_id = sent.json()["thread_id"]
    assert sent.json() == {"id": case.id, "thread_id": thread_id}
    wait_until(lambda: any("写真をもう一枚" in text for text in pushes_to(app, user)), what="the reply's push")
    assert any(case.receipt_no in text for text in pushes_to(app, user))
    thread = counter.get(f"/api/v1/inbox/{thread_id}")
    assert thread.status_code == 200 and any("写真をもう一枚" in (m["text"] or "") for m in thread.json()["messages"])
    # A second reply: the same thread.
    again = counter.post(f"/api/v1/submissions/{case.id}/reply", json={"text": "あ" * 2000})  # the longest
    assert again.json()["thread_id"] == thread_id
    read = counter.get(f"/api/v1/submissions/{case.id}").json()
    assert read["thread_id"] == thread_id and [e["kind"] for e in read["events"]] == ["submitted", "reply", "reply"]
    assert len(audited(app, "forms.reply")) == 2
    wait_until(lambda: any("あ" * 2000 in text for text in pushes_to(app, user)), what="the longest reply's push")

    anonymous = letter(app, anonymous=True)
    refused = counter.post(f"/api/v1/submissions/{anonymous.id}/reply", json={"text": "ご意見ありがとうございます。"})
    assert refused.status_code == 409 and refused.json()["detail"] == "匿名の手紙には返信できません。"
    for body in ({"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"text": "a\x00b"}):
        assert counter.post(f"/api/v1/submissions/{case.id}/reply", json=body).status_code == 422, body


def test_a_letter_is_routed_drafted_answered_and_approved_by_a_second_person(
    app: LiveApp, api: dict[StaffRole, httpx.Client]
) -> None:
    user = new_citizen(app)
    case = letter(app, user)
    writer, admin = api[StaffRole.COUNTER], api[StaffRole.ADMIN]

    routed = writer.post(f"/api/v1/submissions/{case.id}/route", json={"departments": ["建設課", "教育総務課"]})
    assert routed.status_code == 200, routed.text
    assert routed.json() == {
        "id": case.id,
        "added": ["建設課", "教育総務課"],
        "department": "秘書広報課",
        "routes": ["建設課", "教育総務課"],
    }
    assert writer.post(f"/api/v1/submissions/{case.id}/route", json={"departments": []}).status_code == 422

    drafted = writer.post(f"/api/v1/submissions/{case.id}/draft", json={"department": "建設課", "text": "修理します。"})
    assert drafted.status_code == 200, drafted.text
    not_routed = writer.post(f"/api/v1/submissions/{case.id}/draft", json={"department": "市民課", "text": "案"})
    assert not_routed.status_code == 409 and "市民課に回付されていません" in not_routed.json()["detail"]

    nothing_yet = admin.post(f"/api/v1/submissions/{case.id}/approve")
    assert nothing_yet.status_code == 409 and nothing_yet.json()["detail"] == "承認する回答がまだありません。"
    answered = writer.post(f"/api/v1/submissions/{case.id}/answer", json={"text": "来月、ブランコを修理します。"})
    assert answered.status_code == 200 and answered.json()["answer_by"] == "counter-user"

    own = writer.post(f"/api/v1/submissions/{case.id}/approve")
    assert own.status_code == 403 and "回答を書いた人は承認できません" in own.json()["detail"]
    approved = admin.post(f"/api/v1/submissions/{case.id}/approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["approved_by"], body["notified"]) == ("完了", "admin-user", True)
    wait_until(lambda: any("来月、ブランコを修理します。" in text for text in pushes_to(app, user)), what="the answer")
    assert admin.post(f"/api/v1/submissions/{case.id}/approve").status_code == 409  # once
    assert writer.post(f"/api/v1/submissions/{case.id}/answer", json={"text": "改め"}).status_code == 409

    read = writer.get(f"/api/v1/submissions/{case.id}").json()
    assert [(r["department"], r["drafted"], r["draft"]) for r in read["routes"]] == [
        ("建設課", True, "修理します。"),
        ("教育総務課", False, None),
    ]
    assert (read["answer"], read["answer_by"], read["approved_by"]) == (
        "来月、ブランコを修理します。",
        "counter-user",
        "admin-user",
    )
    assert read["closed_at"] is not None
    assert [e["kind"] for e in read["events"]] == [
        "submitted",
        "routed",
        "routed",
        "draft",
        "revised",
        "approved",
        "answer_sent",
        "status",
    ]
    for action in ("forms.route", "forms.draft", "forms.answer", "forms.approve"):
        assert len(audited(app, action)) == 1, action

    # Drafts, answers and approvals are a letter's alone.
    report = submit(app, "wildlife", BOAR)
    assert writer.post(f"/api/v1/submissions/{report.id}/answer", json={"text": "回答"}).status_code == 409
    assert admin.post(f"/api/v1/submissions/{report.id}/approve").status_code == 409
    handed = writer.post(f"/api/v1/submissions/{report.id}/route", json={"departments": ["危機管理課", "建設課"]})
    assert handed.json()["department"] == "危機管理課" and handed.json()["routes"] == []


def test_department_members_see_only_their_departments_cases(app: LiveApp, api: dict[StaffRole, httpx.Client]) -> None:
    boar = submit(app, "wildlife", BOAR)
    hazard = submit(app, "road_hazard", {"what": "街灯", "school_route": "いいえ", "detail": "暗い"})
    mail = letter(app)
    road_staff = client_for(app, "road-staff", StaffRole.COUNTER, departments=("建設課",))
    try:
        assert road_staff.get(f"/api/v1/submissions/{hazard.id}").status_code == 200
        for hidden in (boar, mail):
            assert road_staff.get(f"/api/v1/submissions/{hidden.id}").status_code == 404
            assert (
                road_staff.post(f"/api/v1/submissions/{hidden.id}/status", json={"status": "完了"}).status_code == 404
            )
        assert road_staff.get("/api/v1/forms/wildlife/submissions").json()["items"] == []
        assert [c["id"] for c in road_staff.get("/api/v1/forms/road_hazard/submissions").json()["items"]] == [hazard.id]
        # A letter routed to the department becomes theirs to see (and to draft for).
        assert (
            api[StaffRole.ADMIN]
            .post(f"/api/v1/submissions/{mail.id}/route", json={"departments": ["建設課"]})
            .status_code
            == 200
        )
        assert road_staff.get(f"/api/v1/submissions/{mail.id}").status_code == 200
        drafted = road_staff.post(
            f"/api/v1/submissions/{mail.id}/draft", json={"department": "建設課", "text": "案です"}
        )
        assert drafted.status_code == 200
        export = road_staff.get("/api/v1/forms/wildlife/export.csv")
        assert export.status_code == 200 and len(export.content.decode("utf-8-sig").splitlines()) == 1  # the header
    finally:
        road_staff.close()


def test_the_exports_download_with_the_lists_filters(app: LiveApp, api: dict[StaffRole, httpx.Client]) -> None:
    submit(app, "wildlife", {**BOAR, "damage": '=HYPERLINK("http://example.com")'}, photos=1)
    clock.travel_to(NOW + timedelta(days=1))
    submit(app, "wildlife", {**BOAR, "animal": "シカ"})
    counter = api[StaffRole.COUNTER]

    response = counter.get("/api/v1/forms/wildlife/export.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="forms-wildlife-')
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert table[0][:3] == ["受付番号", "様式", "版"] and "被害" in table[0]
    assert [row[table[0].index("動物")] for row in table[1:]] == ["イノシシ", "シカ"]  # oldest first
    assert table[1][table[0].index("被害")] == '\'=HYPERLINK("http://example.com")'
    assert table[1][table[0].index("写真枚数")] == "1"
    one_day = counter.get("/api/v1/forms/wildlife/export.csv", params={"since": "2026-12-02"})
    assert len(one_day.content.decode("utf-8-sig").splitlines()) == 2

    xlsx = counter.get("/api/v1/forms/wildlife/export.xlsx", params={"status": "受付"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert xlsx.headers["content-type"] == forms_api.export.XLSX_MEDIA_TYPE

    assert counter.get("/api/v1/forms/nothing_here/export.csv").status_code == 404
    assert api[StaffRole.VIEWER].get("/api/v1/forms/wildlife/export.csv").status_code == 403
    assert api[StaffRole.VIEWER].get("/api/v1/forms/wildlife/export.xlsx").status_code == 403


def test_roles_without_personal_data_read_cases_without_it(database_url: str) -> None:
    """Were the section to let viewers and broadcasters in, they would read cases without the
    answers, the place's name, the photos or anything written on the case; and still not act."""
    with start(database_url, with_section(READERS)) as running:
        app = seeded(running)
        user = new_citizen(app)
        case = submit(
            app, "wildlife", BOAR, user=user, place=forms_service.Place("邑久町尾張", 34.66, 134.09), photos=1
        )
        counter = client_for(app, "counter-user", StaffRole.COUNTER)
        readers = [client_for(app, f"{role.value}-user", role) for role in (StaffRole.VIEWER, StaffRole.BROADCASTER)]
        try:
            assert counter.post(
                f"/api/v1/submissions/{case.id}/status", json={"status": "確認中", "message": "伺います"}
            ).json()["notified"]
            assert counter.get(f"/api/v1/submissions/{case.id}").json()["answers"]["animal"]["value"] == "イノシシ"
            for reader in readers:
                listed = reader.get("/api/v1/forms/wildlife/submissions")
                assert listed.status_code == 200
                item = listed.json()["items"][0]
                assert item["answers"] is None and item["place"] == {"name": None, "lat": 34.66, "lng": 134.09}
                hidden = reader.get(f"/api/v1/submissions/{case.id}").json()
                assert hidden["answers"] is None and hidden["photos"] == [] and hidden["photo_count"] == 1
                assert hidden["place"]["name"] is None
                assert [(e["kind"], e["text"]) for e in hidden["events"]] == [("submitted", None), ("status", None)]
                assert reader.get("/api/v1/forms").status_code == 200  # the forms themselves are not personal
                assert reader.post(f"/api/v1/submissions/{case.id}/status", json={"status": "完了"}).status_code == 403
                assert reader.get("/api/v1/forms/wildlife/export.csv").status_code == 403
        finally:
            for client in (counter, *readers):
                client.close()

"""申請・通報's staff pages through the live app (SQLite and PostgreSQL): a form built and published
(a new version; a refused one keeps what was typed and publishes nothing), the case list's filters,
department visibility (another department's case is a 404 and not listed), a status change pushed
to the citizen, the 市長への手紙 approved by a second person only, replies refused for anonymous
letters, photos, the map, the CSV export and the dashboard panel."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from admin.models import AuditEntry, StaffRole, StaffUser
from bot import clock
from bot.sandbox.images import tiny_png
from handlers.faq import service as faq_service
from handlers.forms import service as forms_service
from handlers.forms.models import FormVersion, Submission
from tests.admin.conftest import add_staff, page_csrf, sign_in
from tests.support import LiveApp, live_app, new_citizen, wait_until

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=clock.TOKYO)  # a Wednesday morning
USHIMADO = (34.6190, 134.1560)  # 牛窓町, inside the city


@pytest.fixture
def app(database_url: str) -> Iterator[LiveApp]:
    with live_app(database_url) as running:
        running.app.state.admin_config.login_delay_seconds = 0
        running.app.state.scheduler.pause()  # no photo fetching behind the tests' backs
        clock.travel_to(NOW)
        with running.db.session() as db_session:
            forms_service.seed(db_session=db_session)
        yield running


class Staff:
    def __init__(self, app: LiveApp, name: str, role: StaffRole) -> None:
        add_staff(app, name, role)
        self.name = name
        self.client = sign_in(app, name)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params or None)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None) -> httpx.Response:
        """A form post as the page's own form sends it (with the session's CSRF token)."""
        csrf = page_csrf(self.client.get("/admin/"))
        if isinstance(data, list):
            return self.client.post(path, content=_encode([("csrf_token", csrf), *data]), headers=FORM)
        return self.client.post(path, data={"csrf_token": csrf, **(data or {})})

    def follow(self, response: httpx.Response) -> str:
        assert response.status_code == 303, response.text[:2000]
        return self.client.get(response.headers["location"]).text


FORM = {"content-type": "application/x-www-form-urlencoded"}


def _encode(pairs: list[tuple[str, str]]) -> str:
    from urllib.parse import urlencode

    return urlencode(pairs)


@pytest.fixture
def people(app: LiveApp) -> dict[str, Staff]:
    """madoguchi and tanaka (counter), kensetsu (counter, 建設課), kanri (admin), haishin (broadcaster)."""
    people = {
        name: Staff(app, name, role)
        for name, role in (
            ("madoguchi", StaffRole.COUNTER),
            ("tanaka", StaffRole.COUNTER),
            ("kensetsu", StaffRole.COUNTER),
            ("kanri", StaffRole.ADMIN),
            ("haishin", StaffRole.BROADCASTER),
        )
    }
    return people


def submit(
    app: LiveApp,
    key: str,
    answers: dict[str, str],
    *,
    place: tuple[float, float] | None = None,
    user: str | None = None,
) -> tuple[int, str]:
    """A case as the chat makes it when the citizen taps 送信 (service.submit directly)."""
    user = user or new_citizen(app, "瀬戸内 花子")
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key=key)
        assert form is not None
        version = forms_service.current_version(db_session=db_session, form=form)
        assert version is not None
        definition = forms_service.definition_of(version)
        submission, created = forms_service.submit(
            db_session=db_session,
            settings=app.settings,
            version=version,
            line_user_id=user,
            answers=answers,
            place=forms_service.Place(name="牛窓町牛窓", lat=place[0], lng=place[1]) if place else None,
            photo_tokens=[],
            anonymous=definition.is_anonymous(answers),
            nonce=uuid.uuid4().hex,
        )
        assert created
        return submission.id, user


WILDLIFE = {"animal": "イノシシ", "seen_on": "2026-12-01", "group": "1頭", "captured": "いいえ"}
ROAD = {"what": "道路の穴・段差", "school_route": "はい", "detail": "通学路の真ん中に穴があります。"}
LETTER = {"subject": "公園の遊具", "body": "遊具を増やしてください。", "named": "はい", "name": "瀬戸内 花子"}


def case_ids(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr id="case-(\d+)"', html)}


def version_count(app: LiveApp, key: str) -> int:
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key=key)
        if form is None:
            return 0
        return db_session.scalar(select(func.count(FormVersion.id)).where(FormVersion.form_id == form.id)) or 0


def builder_fields(**overrides: Any) -> list[tuple[str, str]]:
    """The builder's post: a survey with two questions (a choice, then one shown only for one answer)."""
    form = {
        "title": "防犯灯の要望",
        "kind": "survey",
        "department": "危機管理課",
        "start_words": "防犯灯\n街灯の要望",
        "workflow": "受付\n対応中\n完了",
        "due_days": "14",
        "intro": "防犯灯の要望をお聞きします。",
        "completion": "ありがとうございました。",
        "anonymous_question": "",
        "op": "save",
    }
    form.update({k: v for k, v in overrides.items() if not k.startswith("q")})
    questions = overrides.get(
        "questions",
        [
            {"key": "where", "kind": "single_choice", "text": "どの地区ですか？", "choices": "邑久\n牛窓\n長船"},
            {
                "key": "why",
                "kind": "long_text",
                "text": "理由を教えてください。",
                "show_if_question": "where",
                "show_if_equals": "牛窓",
            },
        ],
    )
    pairs = list(form.items())
    for q in questions:
        row = {
            "key": "",
            "kind": "short_text",
            "text": "",
            "label": "",
            "help": "",
            "required": "1",
            "choices": "",
            "max_length": "",
            "minimum": "",
            "maximum": "",
            "dates": "any",
            "max_photos": "1",
            "show_if_question": "",
            "show_if_equals": "",
            **q,
        }
        pairs += [(f"q_{name}", value) for name, value in row.items()]
    return pairs


# The builder --------------------------------------------------------------------------------------


def test_a_form_built_in_the_admin_is_published_and_each_save_is_a_new_version(
    app: LiveApp, people: dict[str, Staff]
) -> None:
    clerk = people["madoguchi"]
    page = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields()])
    html = clerk.follow(page)
    assert "「防犯灯の要望」を公開しました（第1版）" in html
    assert version_count(app, "bouhantou") == 1
    with app.db.session() as db_session:
        found = forms_service.form_for_words(db_session=db_session, text="防犯灯をつけてほしい")
        assert found is not None and found.key == "bouhantou"
        assert [q.key for q in found.definition.questions] == ["where", "why"]
        assert found.definition.questions[1].show_if is not None
        assert found.definition.due_days == 14

    # The builder shows what was published; a third question (a number with its range) makes 第2版.
    edit = clerk.get("/admin/forms/edit/bouhantou").text
    assert 'value="どの地区ですか？"' in edit and "第1版" in edit
    questions = [
        {"key": "where", "kind": "single_choice", "text": "どの地区ですか？", "choices": "邑久\n牛窓\n長船"},
        {"key": "count", "kind": "number", "text": "何本ほしいですか？", "minimum": "1", "maximum": "5"},
    ]
    html = clerk.follow(clerk.post("/admin/forms/edit/bouhantou", builder_fields(questions=questions)))
    assert "第2版を公開しました" in html
    assert re.search(r'<tr id="version-2">.*?現在の版.*?madoguchi', html, re.S)
    assert version_count(app, "bouhantou") == 2
    with app.db.session() as db_session:
        found = forms_service.form_for_words(db_session=db_session, text="防犯灯")
        assert found is not None
        count = found.definition.question("count")
        assert count is not None and (count.minimum, count.maximum) == (1, 5)

    # The list shows it (kind, version) beside the demo forms (サンプル), styled by the package's own
    # stylesheet (the admin's CSP refuses inline styles).
    listing = clerk.get("/admin/forms").text
    stylesheet = re.search(r'<link rel="stylesheet" href="(/admin/forms/static/forms\.css\?v=\w+)">', listing)
    assert stylesheet
    css = clerk.get(stylesheet.group(1))
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".forms-overdue" in css.text
    assert re.search(r'<tr id="form-bouhantou">.*?防犯灯の要望.*?第2版.*?受付中', listing, re.S)
    assert re.search(r'<tr id="form-wildlife">.*?サンプル', listing, re.S)
    with app.db.session() as db_session:
        actions = list(db_session.scalars(select(AuditEntry.action).where(AuditEntry.action == "forms.publish")))
    assert len(actions) == 2


def test_a_form_linked_to_faq_entries_in_the_builder(app: LiveApp, people: dict[str, Staff]) -> None:
    """The builder lists the FAQ entries (the NLU's faq/<id>); the chosen ones are published with the
    form, shown chosen again, and an entry that does not exist is refused by name."""
    clerk = people["madoguchi"]
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
    page = clerk.get("/admin/forms/new").text
    assert re.search(r'<option value="library">[^<]*図書館', page)
    posted = [("key", "bouhantou"), *builder_fields(), ("faq_ids", "library"), ("faq_ids", "office_hours")]
    clerk.follow(clerk.post("/admin/forms/new", posted))
    with app.db.session() as db_session:
        assert [f.key for f in forms_service.forms_for_faq(db_session=db_session, faq_id="library")] == ["bouhantou"]
        assert forms_service.forms_for_faq(db_session=db_session, faq_id="parking") == []
    edit = clerk.get("/admin/forms/edit/bouhantou").text
    assert re.search(r'<option value="library" selected>', edit)
    assert re.search(r'<option value="parking">', edit)
    refused = clerk.post("/admin/forms/edit/bouhantou", [*builder_fields(), ("faq_ids", "no_such_entry")])
    assert refused.status_code == 400
    assert "関連するよくある質問「no_such_entry」は見つかりません" in refused.text
    assert version_count(app, "bouhantou") == 1


def test_a_refused_definition_says_why_in_japanese_keeps_what_was_typed_and_publishes_nothing(
    app: LiveApp, people: dict[str, Staff]
) -> None:
    clerk = people["madoguchi"]
    questions = [
        {"key": "where", "kind": "single_choice", "text": "どの地区ですか？", "choices": "邑久"},
        {"key": "why", "kind": "long_text", "text": "", "show_if_question": "nothere", "show_if_equals": "x"},
    ]
    response = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields(questions=questions)])
    assert response.status_code == 400
    assert 'id="form-errors"' in response.text
    assert (
        "選択肢を2つ以上入力してください" in response.text or "質問2（why）の質問文を入力してください" in response.text
    )
    assert 'value="どの地区ですか？"' in response.text and "防犯灯の要望" in response.text  # kept
    assert version_count(app, "bouhantou") == 0

    # One problem at a time: the choices fixed, the missing text is named.
    questions[0]["choices"] = "邑久\n牛窓"
    response = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields(questions=questions)])
    assert response.status_code == 400
    assert "質問2（why）の質問文を入力してください" in response.text
    # The condition names a question that is not before it.
    questions[1]["text"] = "理由は？"
    response = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields(questions=questions)])
    assert response.status_code == 400
    assert "表示条件の質問「nothere」が、この質問より前にありません" in response.text
    # A bad key, and a key already taken.
    response = clerk.post("/admin/forms/new", [("key", "防犯"), *builder_fields()])
    assert response.status_code == 400 and "キーは半角英小文字で始まる" in response.text
    response = clerk.post("/admin/forms/new", [("key", "wildlife"), *builder_fields()])
    assert response.status_code == 400 and "キー「wildlife」の様式はすでにあります" in response.text
    assert version_count(app, "bouhantou") == 0
    assert version_count(app, "wildlife") == 1

    # An edit that is refused leaves the current version as it was.
    bad = builder_fields(workflow="受付\n受付")
    response = clerk.post("/admin/forms/edit/wildlife", bad)
    assert response.status_code == 400 and "状態の流れに同じ状態が2回あります" in response.text
    assert version_count(app, "wildlife") == 1


def test_adding_removing_and_moving_questions_redraws_the_builder_without_publishing(
    app: LiveApp, people: dict[str, Staff]
) -> None:
    clerk = people["madoguchi"]
    added = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields(op="add")])
    assert added.status_code == 200
    assert len(re.findall(r'class="forms-question"', added.text)) == 3
    assert 'value="q3"' in added.text  # the new question's key, free to change
    moved = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields(op="down:0")])
    keys = re.findall(r'name="q_key" type="text" maxlength="40" value="([^"]*)"', moved.text)
    assert keys == ["why", "where"]
    removed = clerk.post("/admin/forms/new", [("key", "bouhantou"), *builder_fields(op="remove:1")])
    keys = re.findall(r'name="q_key" type="text" maxlength="40" value="([^"]*)"', removed.text)
    assert keys == ["where"]
    assert version_count(app, "bouhantou") == 0


def test_a_form_is_stopped_and_resumed(app: LiveApp, people: dict[str, Staff]) -> None:
    clerk = people["madoguchi"]
    html = clerk.follow(clerk.post("/admin/forms/edit/wildlife/active", {"active": ""}))
    assert "受付を停止しました" in html
    with app.db.session() as db_session:
        assert forms_service.form_for_words(db_session=db_session, text="イノシシを見た") is None
    html = clerk.follow(clerk.post("/admin/forms/edit/wildlife/active", {"active": "1"}))
    assert "受付を再開しました" in html
    with app.db.session() as db_session:
        assert forms_service.form_for_words(db_session=db_session, text="イノシシを見た") is not None


# Cases ----------------------------------------------------------------------------------------------


def test_the_case_list_filters_by_form_status_department_dates_and_overdue(
    app: LiveApp, people: dict[str, Staff]
) -> None:
    clock.travel_to(NOW - timedelta(days=5))
    old_boar, _ = submit(app, "wildlife", WILDLIFE, place=USHIMADO)  # due in 3 days: overdue now
    old_road, _ = submit(app, "road_hazard", ROAD, place=USHIMADO)  # due in 7 days: not yet
    clock.travel_to(NOW)
    new_boar, _ = submit(app, "wildlife", WILDLIFE)
    clerk = people["madoguchi"]
    with app.db.session() as db_session:
        submission = db_session.get(Submission, new_boar)
        assert submission is not None
        receipt = submission.receipt_no

    everything = clerk.get("/admin/forms/cases").text
    assert case_ids(everything) == {old_boar, old_road, new_boar}
    assert receipt in everything and "3件" in everything
    # Overdue rows are marked (class and words), only the overdue one.
    assert re.search(rf'<tr id="case-{old_boar}" class="forms-overdue">.*?期限切れ', everything, re.S)
    assert not re.search(rf'<tr id="case-{old_road}" class="forms-overdue">', everything)

    assert case_ids(clerk.get("/admin/forms/cases", form="wildlife").text) == {old_boar, new_boar}
    assert case_ids(clerk.get("/admin/forms/cases", department="建設課").text) == {old_road}
    assert case_ids(clerk.get("/admin/forms/cases", overdue="1").text) == {old_boar}
    today = NOW.date().isoformat()
    assert case_ids(clerk.get("/admin/forms/cases", since=today).text) == {new_boar}
    assert case_ids(clerk.get("/admin/forms/cases", until=(NOW.date() - timedelta(days=1)).isoformat()).text) == {
        old_boar,
        old_road,
    }
    bad = clerk.get("/admin/forms/cases", since="12/1").text
    assert "開始日は 2026-12-01 の形で入力してください" in bad

    # A status the case moved to filters it.
    clerk.post(f"/admin/forms/cases/{old_boar}/status", {"status": "確認中"})
    assert case_ids(clerk.get("/admin/forms/cases", status="確認中").text) == {old_boar}
    assert case_ids(clerk.get("/admin/forms/cases", status="受付").text) == {old_road, new_boar}

    # The dashboard panel counts the open and the overdue ones.
    dashboard = clerk.get("/admin/").text
    assert re.search(r'id="forms-open">3<', dashboard)
    assert re.search(r'id="forms-overdue">1<', dashboard)


def test_the_case_list_is_paged_newest_first_keeping_the_filter(
    app: LiveApp, people: dict[str, Staff], monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.forms.admin import cases as case_pages

    monkeypatch.setattr(case_pages, "PAGE_SIZE", 2)
    made = [submit(app, "wildlife", WILDLIFE)[0] for _ in range(3)]
    submit(app, "road_hazard", ROAD)
    clerk = people["madoguchi"]
    first = clerk.get("/admin/forms/cases", form="wildlife").text
    assert case_ids(first) == set(made[1:]) and "1 / 2ページ" in first
    next_url = re.search(r'<a href="([^"]+)" rel="next"', first)
    assert next_url and "form=wildlife" in next_url.group(1)
    second = clerk.get(next_url.group(1).replace("&amp;", "&")).text
    assert case_ids(second) == {made[0]} and "2 / 2ページ" in second and 'rel="prev"' in second


def test_staff_of_a_department_see_only_its_cases(app: LiveApp, people: dict[str, Staff]) -> None:
    boar, _ = submit(app, "wildlife", WILDLIFE, place=USHIMADO)  # 農林水産課
    road, _ = submit(app, "road_hazard", ROAD, place=USHIMADO)  # 建設課
    admin = people["kanri"]
    with app.db.session() as db_session:
        kensetsu_id = db_session.scalars(select(StaffUser.id).where(StaffUser.name == "kensetsu")).one()
    # The admin sets it on the departments page (a counter may not open that page).
    assert people["madoguchi"].get("/admin/forms/departments").status_code == 403
    html = admin.follow(admin.post(f"/admin/forms/departments/{kensetsu_id}", [("departments", "建設課")]))
    assert "kensetsuの所属課を「建設課」にしました。" in html

    kensetsu = people["kensetsu"]
    listing = kensetsu.get("/admin/forms/cases").text
    assert case_ids(listing) == {road}
    assert kensetsu.get(f"/admin/forms/cases/{road}").status_code == 200
    assert kensetsu.get(f"/admin/forms/cases/{boar}").status_code == 404
    assert kensetsu.post(f"/admin/forms/cases/{boar}/note", {"text": "見ました"}).status_code == 404
    map_html = kensetsu.get("/admin/forms/map").text
    assert f'data-id="{road}"' in map_html and f'data-id="{boar}"' not in map_html
    export = kensetsu.get("/admin/forms/export/csv").text
    assert "道路・通学路の危険箇所" in export and "有害鳥獣" not in export
    # Others (no department) see both.
    assert case_ids(people["madoguchi"].get("/admin/forms/cases").text) == {boar, road}

    # A case routed to 建設課 shows to it too.
    people["madoguchi"].post(f"/admin/forms/cases/{boar}/route", [("departments", "建設課")])
    assert kensetsu.get(f"/admin/forms/cases/{boar}").status_code == 200

    # Back to no department: everything again.
    admin.post(f"/admin/forms/departments/{kensetsu_id}", [])
    assert case_ids(kensetsu.get("/admin/forms/cases").text) == {boar, road}


def test_a_status_change_on_the_page_is_pushed_to_the_citizen(app: LiveApp, people: dict[str, Staff]) -> None:
    case_id, user = submit(app, "wildlife", WILDLIFE, place=USHIMADO)
    clerk = people["madoguchi"]
    page = clerk.get(f"/admin/forms/cases/{case_id}").text
    assert "イノシシ" in page and "2026年12月1日" in page  # answers shown with their labels and display
    assert "34.61900, 134.15600" in page

    response = clerk.post(
        f"/admin/forms/cases/{case_id}/status", {"status": "対応中", "message": "明日、罠を設置します。"}
    )
    html = clerk.follow(response)
    assert "状態を「対応中」にしました。市民にお知らせしました。" in html
    assert re.search(r"状態の変更</strong>「対応中」.*?明日、罠を設置します。", html, re.S)

    def pushed() -> bool:
        texts = [m.get("text", "") for d in app.sandbox.deliveries(to=user, endpoint="push") for m in d.messages]
        return any("対応中" in t and "明日、罠を設置します。" in t for t in texts)

    wait_until(pushed, what="the status push")

    # A status not in the workflow is refused, in words.
    refused = clerk.post(f"/admin/forms/cases/{case_id}/status", {"status": "放置"})
    assert refused.status_code == 400 and "「放置」はこの様式の状態にありません" in refused.text
    # The last status closes the case.
    clerk.post(f"/admin/forms/cases/{case_id}/status", {"status": "完了"})
    with app.db.session() as db_session:
        submission = db_session.get(Submission, case_id)
        assert submission is not None and submission.status == "完了" and submission.closed_at is not None
    # A note stays with staff; a reply goes through the staff inbox's thread.
    html = clerk.follow(clerk.post(f"/admin/forms/cases/{case_id}/note", {"text": "現地確認済み"}))
    assert "現地確認済み" in html
    html = clerk.follow(clerk.post(f"/admin/forms/cases/{case_id}/reply", {"text": "写真をもう一枚ください。"}))
    assert 'id="thread-link"' in html
    thread_url = re.search(r'<a href="(/admin/handoff/\d+)" id="thread-link"', html)
    assert thread_url and "写真をもう一枚ください。" in clerk.get(thread_url.group(1)).text


def test_a_letter_is_approved_by_a_second_person_then_sent_and_closed(app: LiveApp, people: dict[str, Staff]) -> None:
    case_id, user = submit(app, "mayor_letter", LETTER)
    writer, approver = people["madoguchi"], people["tanaka"]
    base = f"/admin/forms/cases/{case_id}"

    html = writer.follow(writer.post(f"{base}/route", [("departments", "建設課"), ("departments", "農林水産課")]))
    assert "建設課・農林水産課へ回付しました" in html
    html = writer.follow(writer.post(f"{base}/draft", {"department": "建設課", "text": "遊具は来年度に更新します。"}))
    assert "遊具は来年度に更新します。" in html
    answer = "お手紙ありがとうございます。遊具は来年度に更新します。"
    writer.follow(writer.post(f"{base}/answer", {"text": answer}))

    refused = writer.post(f"{base}/approve")
    assert refused.status_code == 400
    assert "回答を書いた人は承認できません。別の職員が承認してください。" in refused.text
    with app.db.session() as db_session:
        submission = db_session.get(Submission, case_id)
        assert submission is not None and submission.approved_at is None and submission.closed_at is None

    html = approver.follow(approver.post(f"{base}/approve"))
    assert "回答を承認し、市民に送りました。" in html and "状態は「完了」です" in html
    assert 'id="approved"' in html and "tanaka" in html
    with app.db.session() as db_session:
        submission = db_session.get(Submission, case_id)
        assert submission is not None and submission.approved_by == "tanaka" and submission.closed_at is not None

    def pushed() -> bool:
        texts = [m.get("text", "") for d in app.sandbox.deliveries(to=user, endpoint="push") for m in d.messages]
        return any(answer in t for t in texts)

    wait_until(pushed, what="the answer's push")


def test_an_anonymous_letter_cannot_be_replied_to(app: LiveApp, people: dict[str, Staff]) -> None:
    case_id, _ = submit(app, "mayor_letter", {"subject": "意見", "body": "匿名で送ります。", "named": "いいえ"})
    clerk = people["madoguchi"]
    page = clerk.get(f"/admin/forms/cases/{case_id}").text
    assert 'id="reply-disabled"' in page and "匿名（返信できません）" in page
    refused = clerk.post(f"/admin/forms/cases/{case_id}/reply", {"text": "お返事です"})
    assert refused.status_code == 400 and "匿名の手紙には返信できません。" in refused.text


def test_photos_show_as_thumbnails_pending_and_refused_ones_say_so(app: LiveApp, people: dict[str, Staff]) -> None:
    user = new_citizen(app)
    with app.db.session() as db_session:
        stored = forms_service.add_photo(
            db_session=db_session, line_user_id=user, question="photo", line_message_id="1"
        )
        forms_service.store_photo(
            db_session=db_session,
            settings=app.settings,
            photo=stored,
            data=tiny_png(),
            thumbnail=b"\xff\xd8thumb",
            media_type="image/png",
        )
        pending = forms_service.add_photo(
            db_session=db_session, line_user_id=user, question="photo", line_message_id="2"
        )
        refused = forms_service.add_photo(
            db_session=db_session, line_user_id=user, question="photo", line_message_id="3"
        )
        forms_service.refuse_photo(photo=refused, reason="画像ではありません")
        tokens = [stored.token, pending.token, refused.token]
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key="wildlife")
        assert form is not None
        version = forms_service.current_version(db_session=db_session, form=form)
        assert version is not None
        submission, _ = forms_service.submit(
            db_session=db_session,
            settings=app.settings,
            version=version,
            line_user_id=user,
            answers=WILDLIFE,
            place=None,
            photo_tokens=tokens,
            anonymous=False,
            nonce=uuid.uuid4().hex,
        )
        case_id = submission.id
    other, _ = submit(app, "wildlife", WILDLIFE)
    clerk = people["madoguchi"]
    page = clerk.get(f"/admin/forms/cases/{case_id}").text
    assert f'src="/admin/forms/cases/{case_id}/photos/{tokens[0]}?size=thumb"' in page
    assert "写真2: 取得中" in page
    assert "写真3: 受け取れませんでした（画像ではありません）" in page
    full = clerk.get(f"/admin/forms/cases/{case_id}/photos/{tokens[0]}")
    assert full.status_code == 200 and full.content == tiny_png() and full.headers["content-type"] == "image/png"
    assert "no-store" in full.headers["cache-control"]
    thumb = clerk.get(f"/admin/forms/cases/{case_id}/photos/{tokens[0]}", size="thumb")
    assert thumb.content == b"\xff\xd8thumb" and thumb.headers["content-type"] == "image/jpeg"
    assert clerk.get(f"/admin/forms/cases/{case_id}/photos/{tokens[1]}").status_code == 404  # not fetched yet
    assert clerk.get(f"/admin/forms/cases/{other}/photos/{tokens[0]}").status_code == 404  # another case's


def test_the_map_draws_a_dot_per_placed_case_coloured_by_status(app: LiveApp, people: dict[str, Staff]) -> None:
    first, _ = submit(app, "wildlife", WILDLIFE, place=USHIMADO)
    second, _ = submit(app, "road_hazard", ROAD, place=(34.6633, 134.0937))
    unplaced, _ = submit(app, "ninpu_8m", {"due_date": "2027-01-20", "first_baby": "はい"})
    clerk = people["madoguchi"]
    clerk.post(f"/admin/forms/cases/{second}/status", {"status": "完了"})
    html = clerk.get("/admin/forms/map").text
    dots = re.findall(r'<circle class="forms-dot" data-id="(\d+)" data-stage="(\w+)"', html)
    assert sorted(dots) == sorted([(str(first), "new"), (str(second), "done")])
    assert f'href="/admin/forms/cases/{first}"' in html and f"/admin/forms/cases/{unplaced}" not in html
    assert "受付したまま（1件）" in html and "完了（1件）" in html
    assert re.findall(r'data-id="(\d+)"', clerk.get("/admin/forms/map", form="wildlife").text) == [str(first)]
    assert re.findall(r'class="forms-dot" data-id="(\d+)"', clerk.get("/admin/forms/map", status="完了").text) == [
        str(second)
    ]


def test_the_export_downloads_the_filtered_cases_as_csv_and_xlsx(app: LiveApp, people: dict[str, Staff]) -> None:
    submit(app, "wildlife", WILDLIFE, place=USHIMADO)
    submit(app, "road_hazard", ROAD)
    clerk = people["madoguchi"]
    response = clerk.get("/admin/forms/export/csv", form="wildlife")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    disposition = response.headers["content-disposition"]
    assert 'filename="forms_wildlife_20261202.csv"' in disposition
    assert "filename*=UTF-8''forms_wildlife_20261202.csv" in disposition
    text = response.content.decode("utf-8-sig")
    header = text.splitlines()[0]
    for label in ("動物", "日付", "頭数", "捕獲済み"):
        assert label in header
    assert "イノシシ" in text and "道路の穴" not in text
    xlsx = clerk.get("/admin/forms/export/xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert clerk.get("/admin/forms/export/pdf").status_code == 404


def test_broadcasters_cannot_open_the_section(app: LiveApp, people: dict[str, Staff]) -> None:
    case_id, _ = submit(app, "wildlife", WILDLIFE)
    broadcaster = people["haishin"]
    for path in ("/admin/forms", "/admin/forms/cases", f"/admin/forms/cases/{case_id}", "/admin/forms/map"):
        assert broadcaster.get(path).status_code == 403, path
    assert 'href="/admin/forms"' not in broadcaster.get("/admin/").text
    assert 'href="/admin/forms"' in people["madoguchi"].get("/admin/").text

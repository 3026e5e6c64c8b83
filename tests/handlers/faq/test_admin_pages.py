"""The FAQ's staff pages through the live app (SQLite and PostgreSQL), signed in as counter, viewer,
broadcaster and admin: entries added, edited, stopped and started again (audited, and answered by the
bot at once); search; 未回答 sorted and handled in one step (new entry, another wording, out of
scope); feedback poorest first; the dashboard panel; viewers and broadcasters see counts, never what
citizens typed, and change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import clock
from bot.catalog import t
from handlers.faq import service as faq_service
from handlers.faq.flow import answer_text
from handlers.faq.models import FaqEntryCreate, UnansweredQuestion, UnansweredStatus
from tests.admin.conftest import add_staff, page_csrf, sign_in
from tests.support import LiveApp, new_citizen, say

DRONE = "ドローンを飛ばす許可はどこで取れますか"
# What a citizen may type: a name and a phone number in it.
PERSONAL = "瀬戸内花子です。090-1234-5678。ドローンの許可はどこで取れますか"


@pytest.fixture
def people(faq_app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    """Signed-in browsers: counter (madoguchi), viewer (etsuran), broadcaster (haishin), admin (kanri)."""
    faq_app.app.state.admin_config.login_delay_seconds = 0
    clients = {}
    for name, role in (
        ("madoguchi", StaffRole.COUNTER),
        ("etsuran", StaffRole.VIEWER),
        ("haishin", StaffRole.BROADCASTER),
        ("kanri", StaffRole.ADMIN),
    ):
        add_staff(faq_app, name, role)
        clients[name] = sign_in(faq_app, name)
    yield clients
    for client in clients.values():
        client.close()


def post(client: httpx.Client, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    """A form post as the page's own form sends it (with the session's CSRF token)."""
    return client.post(path, data={"csrf_token": page_csrf(client.get("/admin/faq")), **(data or {})})


def follow(client: httpx.Client, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def audit_actions(app: LiveApp) -> list[AuditEntry]:
    with app.db.session() as db_session:
        entries = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [e for e in entries if e.action.startswith("faq.")]


def record(app: LiveApp, text: str, times: int = 1) -> int:
    with app.db.session() as db_session:
        for _ in range(times):
            faq_service.record_unanswered(db_session=db_session, text=text)
    with app.db.session() as db_session:
        return db_session.scalars(
            select(UnansweredQuestion.id).where(UnansweredQuestion.text_key == faq_service.question_key(text))
        ).one()


def row_ids(html: str, prefix: str) -> list[str]:
    return re.findall(rf'<tr id="{prefix}-([^"]+)"', html)


def test_staff_add_edit_stop_and_restart_an_entry_and_the_bot_follows_at_once(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    counter = people["madoguchi"]
    citizen = new_citizen(faq_app)
    assert say(faq_app, citizen, DRONE)["text"] == t("faq.unknown")

    form = counter.get("/admin/faq/new")
    assert form.status_code == 200 and 'name="answer"' in form.text
    created = post(
        counter,
        "/admin/faq/new",
        {
            "entry_id": "drone",
            "category": "その他",
            "question": "ドローンを飛ばしたいのですが、許可はどこで取れますか？",
            "alt_questions": "公園でドローンを使ってもいいですか？\n\n ドローンの飛行許可 \n",
            "answer": "（サンプル）ドローンの飛行許可は国土交通省に申請します。公園では管理者の許可も必要です。",
            "tags": "ドローン、空撮",
            "url": "https://www.mlit.go.jp/koku/",
        },
    )
    assert created.headers["location"] == "/admin/faq/entries/drone"
    page = follow(counter, created)
    assert "追加しました" in page and "LINEでの表示" in page
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="drone")
        assert entry is not None
        assert entry.alt_questions == ["公園でドローンを使ってもいいですか？", "ドローンの飛行許可"]
        assert (entry.tags, entry.url, entry.is_active) == (["ドローン", "空撮"], "https://www.mlit.go.jp/koku/", True)
        expected = answer_text(entry)
    answer = say(faq_app, citizen, DRONE)["text"]
    assert answer == expected
    assert "国土交通省に申請します。\n\n公園では" in answer and answer.count("https://www.mlit.go.jp/koku/") == 1

    edited = post(
        counter,
        "/admin/faq/entries/drone",
        {
            "category": "その他",
            "question": "ドローンを飛ばしたいのですが、許可はどこで取れますか？",
            "alt_questions": "公園でドローンを使ってもいいですか？",
            "answer": "（サンプル）まず危機管理課にご相談ください。",
            "tags": "ドローン",
            "url": "",
        },
    )
    assert "保存しました" in follow(counter, edited)
    answer = say(faq_app, citizen, DRONE)["text"]
    assert "危機管理課" in answer and "国土交通省" not in answer and "https://" not in answer

    assert "停止しました" in follow(counter, post(counter, "/admin/faq/entries/drone/deactivate"))
    assert say(faq_app, citizen, DRONE)["text"] == t("faq.unknown")
    assert "停止中" in counter.get("/admin/faq?state=inactive").text
    assert "再開しました" in follow(counter, post(counter, "/admin/faq/entries/drone/reactivate"))
    assert "危機管理課" in say(faq_app, citizen, DRONE)["text"]

    actions = audit_actions(faq_app)
    assert [a.action for a in actions] == ["faq.create", "faq.update", "faq.deactivate", "faq.reactivate"]
    assert all(a.staff_name == "madoguchi" and a.target_id == "drone" for a in actions)
    assert actions[0].after is not None and actions[0].after["url"] == "https://www.mlit.go.jp/koku/"
    update = actions[1]
    assert update.before is not None and update.after is not None
    assert (
        "国土交通省" in update.before["answer"]
        and update.after["answer"] == "（サンプル）まず危機管理課にご相談ください。"
    )
    audit_page = people["kanri"].get("/admin/audit").text  # read as staff read it, with a link to the entry
    assert "よくある質問を追加" in audit_page and "よくある質問を停止" in audit_page
    assert '<a href="/admin/faq/entries/drone">よくある質問 「ドローンを飛ばしたいのですが' in audit_page


def test_a_form_with_mistakes_is_shown_again_with_what_to_fix_and_changes_nothing(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    counter = people["madoguchi"]
    bad = post(
        counter,
        "/admin/faq/new",
        {"entry_id": "Bad ID", "question": "   ", "answer": "答え", "url": "javascript:alert(1)"},
    )
    assert bad.status_code == 400
    assert "IDは半角英小文字" in bad.text and "質問を入力してください" in bad.text and "https:// で始まる" in bad.text
    assert 'value="javascript:alert(1)"' in bad.text  # what staff typed is kept for them to fix
    taken = post(counter, "/admin/faq/new", {"entry_id": "sodai_gomi", "question": "別の質問", "answer": "別の答え"})
    assert taken.status_code == 400 and "そのIDの質問はすでにあります" in taken.text
    cleared = post(counter, "/admin/faq/entries/sodai_gomi", {"question": "粗大ごみ", "answer": ""})
    assert cleared.status_code == 400 and "回答を入力してください" in cleared.text
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="sodai_gomi")
        assert entry is not None and entry.answer and entry.question != "粗大ごみ"
        assert faq_service.get(db_session=db_session, faq_id="bad id") is None
    assert audit_actions(faq_app) == []
    assert counter.get("/admin/faq/entries/no_such_entry").status_code == 404


def test_search_looks_in_question_wordings_answer_tags_and_category(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    with faq_app.db.session() as db_session:
        faq_service.create(
            db_session=db_session,
            faq_in=FaqEntryCreate(
                id="search_me",
                category="いぷしろん分類",
                question="あるふぁの質問ですか？",
                alt_questions=["べーたの聞き方"],
                answer="がんまの答えです。",
                tags=["でるた", "QRcode"],
            ),
        )
        other = faq_service.create(
            db_session=db_session,
            faq_in=FaqEntryCreate(id="stopped", question="あるふぁの古い質問", answer="古い答え", is_active=False),
        )
        assert not other.is_active
    viewer = people["etsuran"]
    for query in ("あるふぁ", "べーた", "がんまの答え", "でるた", "いぷしろん", "ｑｒｃｏｄｅ", "あるふぁ　質問"):
        found = row_ids(viewer.get("/admin/faq", params={"q": query}).text, "faq")
        assert "search_me" in found, query
        assert "sodai_gomi" not in found, query
    assert sorted(row_ids(viewer.get("/admin/faq", params={"q": "あるふぁ"}).text, "faq")) == ["search_me", "stopped"]
    assert row_ids(viewer.get("/admin/faq", params={"q": "あるふぁ", "state": "active"}).text, "faq") == ["search_me"]
    nothing = viewer.get("/admin/faq", params={"q": "ぞぞぞ存在しない"}).text
    assert row_ids(nothing, "faq") == [] and "を含む質問はありません" in nothing
    everything = row_ids(viewer.get("/admin/faq").text, "faq")
    assert {"sodai_gomi", "search_me", "stopped"} <= set(everything)


def test_viewers_and_broadcasters_see_counts_but_never_what_citizens_typed_and_change_nothing(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    question_id = record(faq_app, PERSONAL, times=3)
    for name in ("etsuran", "haishin"):
        client = people[name]
        listing = client.get("/admin/faq/unanswered")
        assert listing.status_code == 200
        assert "瀬戸内花子" not in listing.text and "090-1234-5678" not in listing.text
        assert "（非表示）" in listing.text and "3回" in listing.text
        assert re.search(r'id="count-open">1<', listing.text)
        assert client.get(f"/admin/faq/unanswered/{question_id}").status_code == 403
        assert client.get("/admin/faq/new").status_code == 403
        entry_page = client.get("/admin/faq/entries/sodai_gomi")
        assert entry_page.status_code == 200 and '<fieldset class="stack" disabled>' in entry_page.text
        assert ">保存</button>" not in entry_page.text and "停止する" not in entry_page.text
        csrf = page_csrf(client.get("/admin/faq"))
        for path in (
            "/admin/faq/new",
            "/admin/faq/entries/sodai_gomi",
            "/admin/faq/entries/sodai_gomi/deactivate",
            f"/admin/faq/unanswered/{question_id}/new-entry",
            f"/admin/faq/unanswered/{question_id}/alternative",
            f"/admin/faq/unanswered/{question_id}/dismiss",
        ):
            refused = client.post(path, data={"csrf_token": csrf, "question": "q", "answer": "a", "faq_id": "parking"})
            assert refused.status_code == 403, (name, path)
        dashboard = client.get("/admin/").text
        assert re.search(r'id="faq-unanswered-open">1<', dashboard) and "瀬戸内花子" not in dashboard
    counter = people["madoguchi"].get("/admin/faq/unanswered").text
    assert PERSONAL in counter and "（非表示）" not in counter
    with faq_app.db.session() as db_session:
        question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
        assert question is not None and question.status == UnansweredStatus.OPEN
        stored = faq_service.get(db_session=db_session, faq_id="sodai_gomi")
        assert stored is not None and stored.is_active
    assert audit_actions(faq_app) == []


def test_unanswered_questions_sort_by_most_asked_or_newest_with_counts(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    start = clock.now()
    clock.travel_to(start - timedelta(days=2))
    often = record(faq_app, "選挙の投票所はどこですか", times=3)
    clock.travel_to(start - timedelta(days=1))
    recent = record(faq_app, "ふるさと納税の返礼品は何ですか", times=1)
    clock.travel_to(start)
    counter = people["madoguchi"]
    most = counter.get("/admin/faq/unanswered").text
    assert row_ids(most, "question") == [str(often), str(recent)]
    assert re.search(r'id="count-open">2<', most) and re.search(r'id="count-open-asked">4<', most)
    newest = counter.get("/admin/faq/unanswered", params={"sort": "newest"}).text
    assert row_ids(newest, "question") == [str(recent), str(often)]
    # Asked again: first again among the newest.
    record(faq_app, "選挙の投票所はどこですか")
    newest = counter.get("/admin/faq/unanswered", params={"sort": "newest"}).text
    assert row_ids(newest, "question") == [str(often), str(recent)]
    assert "4回" in newest


def test_an_unanswered_question_becomes_a_new_entry_in_one_step_and_is_marked_handled(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    question_id = record(faq_app, DRONE, times=2)
    counter = people["madoguchi"]
    assert f'href="/admin/faq/unanswered/{question_id}"' in counter.get("/admin/faq/unanswered").text
    page = counter.get(f"/admin/faq/unanswered/{question_id}").text
    assert f'name="question" type="text" value="{DRONE}"' in page  # the question is prefilled
    made = post(
        counter,
        f"/admin/faq/unanswered/{question_id}/new-entry",
        {"question": DRONE, "category": "その他", "answer": "（サンプル）国土交通省への申請が必要です。"},
    )
    assert "対応済みにしました" in follow(counter, made)
    with faq_app.db.session() as db_session:
        question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
        assert question is not None and question.status == UnansweredStatus.RESOLVED
        assert question.resolved_at is not None and question.resolved_faq_id is not None
        assert re.fullmatch(r"faq_[0-9a-f]{6}", question.resolved_faq_id)  # named for staff who left the id blank
        entry = faq_service.get(db_session=db_session, faq_id=question.resolved_faq_id)
        assert entry is not None and (entry.question, entry.category) == (DRONE, "その他")
    assert row_ids(counter.get("/admin/faq/unanswered").text, "question") == []
    resolved = counter.get("/admin/faq/unanswered", params={"status": "resolved"}).text
    assert row_ids(resolved, "question") == [str(question_id)] and f"/admin/faq/entries/{entry.id}" in resolved
    [made_entry] = audit_actions(faq_app)
    assert (made_entry.action, made_entry.target_id) == ("faq.unanswered.new_entry", entry.id)
    assert made_entry.summary is not None and f"#{question_id}" in made_entry.summary
    # Handled once only: a second try (another member of staff, a double click) changes nothing.
    with faq_app.db.session() as db_session:
        before = len(faq_service.get_all(db_session=db_session))
    again = post(counter, f"/admin/faq/unanswered/{question_id}/new-entry", {"question": "x", "answer": "y"})
    assert "ほかの職員が先に" in follow(counter, again)
    with faq_app.db.session() as db_session:
        assert len(faq_service.get_all(db_session=db_session)) == before


def test_an_unanswered_question_joins_a_suggested_entry_as_another_wording(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    wording = "粗大ごみって家まで取りに来てもらえるんかな"
    question_id = record(faq_app, f"{wording}　瀬戸内花子")
    counter = people["madoguchi"]
    page = counter.get(f"/admin/faq/unanswered/{question_id}").text
    candidates = page.split('id="candidates"', 1)[1].split("</ul>", 1)[0]
    assert 'value="sodai_gomi"' in candidates  # the FAQ's own best guesses are offered
    added = post(
        counter,
        f"/admin/faq/unanswered/{question_id}/alternative",
        {"faq_id": "sodai_gomi", "text": wording},  # staff took the name out
    )
    assert "言い換えとして追加し" in follow(counter, added)
    with faq_app.db.session() as db_session:
        entry = faq_service.get(db_session=db_session, faq_id="sodai_gomi")
        assert entry is not None and entry.alt_questions[-1] == wording
        question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
        assert question is not None
        assert (question.status, question.resolved_faq_id) == (UnansweredStatus.RESOLVED, "sodai_gomi")
    [audited] = audit_actions(faq_app)
    assert audited.action == "faq.unanswered.alternative" and audited.before and audited.after
    assert audited.after["alt_questions"] == [*audited.before["alt_questions"], wording]
    assert "瀬戸内花子" not in str(audited.after)
    user = new_citizen(faq_app)
    assert say(faq_app, user, wording)["text"] == answer_text(entry)

    # Another entry chosen from the full list wins over the suggestion.
    other_id = record(faq_app, "犬の登録と注射はどこで")
    chosen = post(
        counter,
        f"/admin/faq/unanswered/{other_id}/alternative",
        {"faq_id": "sodai_gomi", "other_faq_id": "dog_registration", "text": ""},
    )
    assert chosen.status_code == 303
    with faq_app.db.session() as db_session:
        dog = faq_service.get(db_session=db_session, faq_id="dog_registration")
        assert dog is not None and dog.alt_questions[-1] == "犬の登録と注射はどこで"  # blank: the citizen's wording


def test_a_dismissed_question_leaves_the_list_and_stays_dismissed_when_asked_again(
    faq_app: LiveApp, people: dict[str, httpx.Client]
) -> None:
    question_id = record(faq_app, PERSONAL)
    counter = people["madoguchi"]
    assert "対象外にしました" in follow(counter, post(counter, f"/admin/faq/unanswered/{question_id}/dismiss"))
    assert row_ids(counter.get("/admin/faq/unanswered").text, "question") == []
    record(faq_app, PERSONAL)
    with faq_app.db.session() as db_session:
        question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
        assert question is not None and (question.status, question.count) == (UnansweredStatus.DISMISSED, 2)
    dismissed = counter.get("/admin/faq/unanswered", params={"status": "dismissed"}).text
    assert row_ids(dismissed, "question") == [str(question_id)]
    [audited] = audit_actions(faq_app)
    assert audited.action == "faq.unanswered.dismiss" and audited.target_id == str(question_id)
    assert "瀬戸内花子" not in (audited.summary or "") and audited.before is None and audited.after is None
    assert "ほかの職員が先に" in follow(counter, post(counter, f"/admin/faq/unanswered/{question_id}/dismiss"))

    assert "未回答に戻しました" in follow(counter, post(counter, f"/admin/faq/unanswered/{question_id}/reopen"))
    assert row_ids(counter.get("/admin/faq/unanswered").text, "question") == [str(question_id)]
    # A question staff resolved that comes back is open again (the entry did not answer it).
    with faq_app.db.session() as db_session:
        question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
        assert question is not None
        faq_service.resolve_unanswered(db_session=db_session, question=question, faq_id="parking")
    record(faq_app, PERSONAL)
    page = counter.get(f"/admin/faq/unanswered/{question_id}").text
    assert "その後も答えられませんでした" in page


def test_feedback_per_entry_recent_and_in_all_poorest_first(faq_app: LiveApp, people: dict[str, httpx.Client]) -> None:
    start = clock.now()

    def vote(faq_id: str, helpful: bool, count: int, tag: str) -> None:
        with faq_app.db.session() as db_session:
            for i in range(count):
                faq_service.record_feedback(
                    db_session=db_session, faq_id=faq_id, line_user_id=f"U{tag}{i}", helpful=helpful
                )

    # Parking disappointed many long ago and pleases now; the library disappoints the few who answer now.
    clock.travel_to(start - timedelta(days=40))
    vote("parking", False, 9, "old-bad")
    vote("parking", True, 1, "old-good")
    clock.travel_to(start)
    vote("parking", True, 3, "new-good")
    vote("library", False, 2, "new-bad")
    vote("sodai_gomi", True, 4, "good")

    viewer = people["etsuran"]
    recent = viewer.get("/admin/faq/feedback").text
    assert row_ids(recent, "feedback") == ["library", "parking", "sodai_gomi"]
    parking = recent.split('id="feedback-parking"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r"<td>(\d+)</td>", parking) == ["3", "0", "4", "9"]
    overall = viewer.get("/admin/faq/feedback", params={"period": "all"}).text
    assert row_ids(overall, "feedback") == ["parking", "library", "sodai_gomi"]
    entry = viewer.get("/admin/faq/entries/parking").text
    table = entry.split('id="faq-entry-feedback"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<td>(\d+)</td>", table) == ["3", "0", "4", "9"]
    assert "役に立った 4／立たなかった 9" in viewer.get("/admin/faq", params={"q": "駐車場"}).text


def test_the_dashboard_panel_counts_the_open_questions(faq_app: LiveApp, people: dict[str, httpx.Client]) -> None:
    admin = people["kanri"]
    panel = admin.get("/admin/").text.split('id="panel-box-unanswered_questions"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'id="faq-unanswered-open">0<', panel) and "準備中" not in panel
    record(faq_app, "選挙の投票所はどこですか", times=2)
    record(faq_app, "ふるさと納税の返礼品は何ですか")
    panel = admin.get("/admin/").text.split('id="panel-box-unanswered_questions"', 1)[1].split("</section>", 1)[0]
    assert re.search(r'id="faq-unanswered-open">2<', panel) and re.search(r'id="faq-unanswered-asked">3<', panel)
    assert 'href="/admin/faq/unanswered"' in panel and "選挙" not in panel

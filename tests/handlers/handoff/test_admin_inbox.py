"""職員対応 from the staff's side, through the live app (SQLite and PostgreSQL): a citizen's 「職員と
話したい」 appears in the inbox page and GET /api/v1/inbox with the conversation before it; staff
reply from the API and from the page and the citizen gets a push; closing the thread tells the
citizen and the bot answers again; images show, decrypted, never cached; 担当 and 定型文; the nav
badge and the dashboard panel count what is open; viewers and broadcasters see none of it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import citizens as citizen_service
from bot import clock
from bot.catalog import t
from bot.line_client import LineClient
from bot.sandbox.images import tiny_png
from handlers.faq import service as faq_service
from handlers.handoff import notify
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffRequest
from tests.admin.conftest import add_staff, new_token, page_csrf, sign_in
from tests.support import LiveApp, new_citizen, post_webhook, say_all, settled, wait_until

TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
CLERK = "madoguchi"


@dataclass
class Staff:
    """A signed-in browser (cookie session) and an API client (Bearer token) of one staff member."""

    name: str
    page: httpx.Client
    api: httpx.Client

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        """A form post as the page's own form sends it (with the session's CSRF token)."""
        return self.page.post(path, data={"csrf_token": page_csrf(self.page.get("/admin/")), **(data or {})})


@pytest.fixture
def inbox_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(TUESDAY_MORNING)
    app.app.state.scheduler.pause()  # the tests fetch images themselves
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
        handoff_service.seed_canned_replies(db_session=db_session)
    yield app


@pytest.fixture
def people(inbox_app: LiveApp) -> Iterator[dict[str, Staff]]:
    """madoguchi and tanaka (counter), kanri (admin), etsuran (viewer), haishin (broadcaster)."""
    people = {}
    for name, role in (
        (CLERK, StaffRole.COUNTER),
        ("tanaka", StaffRole.COUNTER),
        ("kanri", StaffRole.ADMIN),
        ("etsuran", StaffRole.VIEWER),
        ("haishin", StaffRole.BROADCASTER),
    ):
        add_staff(inbox_app, name, role)
        api = httpx.Client(
            base_url=inbox_app.base_url, headers={"Authorization": f"Bearer {new_token(inbox_app, name)}"}, timeout=10
        )
        people[name] = Staff(name, sign_in(inbox_app, name), api)
    yield people
    for person in people.values():
        person.page.close()
        person.api.close()


def befriend(app: LiveApp, name: str) -> str:
    """A citizen who added the account (so we know their LINE name)."""
    user = new_citizen(app, name)
    assert post_webhook(app, [app.sandbox.make_event("follow", user)]).status_code == 200

    def known() -> bool:
        with app.db.session() as db_session:
            citizen = citizen_service.get_by_line_user_id(db_session=db_session, line_user_id=user)
            return citizen is not None and citizen.display_name == name

    wait_until(known, what="the follow processed")
    wait_until(lambda: settled(app), what="the greeting sent")
    return user


def ask_for_staff(app: LiveApp, user: str, words: str = "職員と話したい") -> int:
    say_all(app, user, words)
    with app.db.session() as db_session:
        thread_id = db_session.scalars(
            select(HandoffRequest.id).where(HandoffRequest.line_user_id == user).order_by(HandoffRequest.id.desc())
        ).first()
    assert thread_id is not None
    return thread_id


def pushes_to(app: LiveApp, user: str) -> list[str]:
    return [m.get("text", "") for d in app.sandbox.deliveries(to=user, endpoint="push") for m in d.messages]


def pushed(app: LiveApp, user: str, body: str) -> None:
    wait_until(lambda: t("handoff.staff_reply", body=body) in pushes_to(app, user), what=f"the push of {body!r}")


def follow(client: httpx.Client, response: httpx.Response) -> str:
    """The page a 303 leads to, with its one-time notice."""
    assert response.status_code == 303, response.text
    return client.get(response.headers["location"]).text


def nav_badge(html: str) -> tuple[bool, str]:
    """The 職員対応 badge in the nav: (shown, number)."""
    match = re.search(r'<span class="nav-count" id="nav-count-handoff"([^>]*)>.*?data-badge-count>(\d+)<', html)
    assert match, "no 職員対応 badge in the nav"
    return "hidden" not in match.group(1), match.group(2)


def audit_actions(app: LiveApp) -> list[str]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_request_shows_with_its_context_and_replies_from_the_api_and_the_page_reach_the_citizen(
    inbox_app: LiveApp, people: dict[str, Staff]
) -> None:
    app, clerk = inbox_app, people[CLERK]
    user = befriend(app, "瀬戸内 花子")
    faq_answer = say_all(app, user, "住民票を取るには？")[0]["text"]
    thread_id = ask_for_staff(app, user)

    [item] = clerk.api.get("/api/v1/inbox").json()
    assert item["id"] == thread_id
    assert (item["status"], item["office_open"], item["waiting"], item["citizen_name"]) == (
        "open",
        True,
        True,
        "瀬戸内 花子",
    )
    assert item["assigned_name"] is None and item["last_staff_at"] is None
    assert clerk.api.get("/api/v1/inbox", params={"status": "done"}).json() == []

    thread = clerk.api.get(f"/api/v1/inbox/{thread_id}").json()
    context = [(m["sender"], m["text"]) for m in thread["messages"] if m["is_context"]]
    assert ("citizen", "住民票を取るには？") in context and ("bot", faq_answer[:500]) in context
    assert [(m["sender"], m["text"]) for m in thread["messages"] if not m["is_context"]] == [
        ("citizen", "職員と話したい")
    ]

    inbox_page = clerk.page.get("/admin/handoff").text
    assert f'id="thread-{thread_id}"' in inbox_page and "瀬戸内 花子" in inbox_page
    assert "返信を待っています" in inbox_page
    page = clerk.page.get(f"/admin/handoff/{thread_id}").text
    context_html = page.split('id="thread-context"', 1)[1].split("</section>", 1)[0]
    assert "住民票を取るには？" in context_html and ">市民<" in context_html and ">ボット<" in context_html
    thread_html = page.split('id="thread-messages"', 1)[1].split("</section>", 1)[0]
    assert "職員と話したい" in thread_html and "住民票を取るには？" not in thread_html

    # A reply from the API: 201, kept in the thread, pushed to the citizen; the thread is now the clerk's.
    from_api = "担当の窓口です。ご用件をお聞かせください。"
    response = clerk.api.post(f"/api/v1/inbox/{thread_id}/reply", json={"text": from_api})
    assert response.status_code == 201, response.text
    assert response.json()["id"] > 0 and response.json()["sender"] == "staff"
    pushed(app, user, from_api)
    [item] = clerk.api.get("/api/v1/inbox").json()
    assert (item["status"], item["assigned_name"]) == ("in_progress", CLERK)
    assert item["last_staff_at"] is not None

    # What the citizen writes next goes to the thread, and the bot stays quiet.
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [app.sandbox.make_event("text", user, text="転入の手続きです")]).status_code == 200
    wait_until(lambda: settled(app), what="the message processed")
    assert len(app.sandbox.deliveries(to=user)) == before

    # A reply from the page (a plain form post: what the composer does without JavaScript).
    from_page = "本庁舎1階の市民課へお越しください。\n受付は8時30分からです。"
    html = follow(
        clerk.page, clerk.post(f"/admin/handoff/{thread_id}/reply", {"text": from_page.replace("\n", "\r\n")})
    )
    assert "返信を送りました。" in html
    pushed(app, user, from_page)
    thread_html = html.split('id="thread-messages"', 1)[1].split("</section>", 1)[0]
    assert thread_html.index("転入の手続きです") < thread_html.index("本庁舎1階の市民課へお越しください。")
    assert thread_html.count(f"職員（{CLERK}）") == 2
    texts = [m["text"] for m in clerk.api.get(f"/api/v1/inbox/{thread_id}").json()["messages"]]
    assert texts[-3:] == [from_api, "転入の手続きです", from_page]
    assert audit_actions(app).count("handoff.reply") == 2


def test_closing_the_thread_tells_the_citizen_and_the_bot_answers_again(
    inbox_app: LiveApp, people: dict[str, Staff]
) -> None:
    app, clerk = inbox_app, people[CLERK]
    user = befriend(app, "牛窓 太郎")
    thread_id = ask_for_staff(app, user)

    response = clerk.api.post(f"/api/v1/inbox/{thread_id}/status", json={"status": "in_progress"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["citizen_told"]) == ("in_progress", False)
    assert pushes_to(app, user) == []

    html = follow(clerk.page, clerk.post(f"/admin/handoff/{thread_id}/status", {"status": "done"}))
    assert "「対応済み」にしました。" in html and "お知らせしました" in html
    wait_until(lambda: pushes_to(app, user), what="the closing note")
    assert pushes_to(app, user) == [t("handoff.closed_by_staff")]
    [item] = clerk.api.get("/api/v1/inbox", params={"status": "done"}).json()
    assert (item["id"], item["waiting"]) == (thread_id, False)
    # Back with the bot: the next message is answered by it, and the thread gets nothing.
    assert say_all(app, user, "ごみの日はいつですか")
    messages = clerk.api.get(f"/api/v1/inbox/{thread_id}").json()["messages"]
    assert "ごみの日はいつですか" not in [m["text"] for m in messages]
    # Closing again changes nothing and tells nobody twice.
    again = clerk.api.post(f"/api/v1/inbox/{thread_id}/status", json={"status": "done"})
    assert again.status_code == 200 and again.json()["citizen_told"] is False
    assert audit_actions(app).count("handoff.status") == 2


def test_what_waited_overnight_comes_first_and_tabs_filter_by_status(
    inbox_app: LiveApp, people: dict[str, Staff]
) -> None:
    app, clerk = inbox_app, people[CLERK]
    in_hours = ask_for_staff(app, befriend(app, "昼 一郎"))
    clock.travel_to(TUESDAY_MORNING + timedelta(hours=9))  # 19:00, the office closed
    overnight = ask_for_staff(app, befriend(app, "夜 二郎"))
    clock.travel_to(TUESDAY_MORNING + timedelta(days=1))
    clerk.page = sign_in(app, CLERK)  # the evening's session has ended

    items = clerk.api.get("/api/v1/inbox", params={"status": "open"}).json()
    assert [(i["id"], i["office_open"]) for i in items] == [(overnight, False), (in_hours, True)]
    page = clerk.page.get("/admin/handoff").text
    assert page.index(f'id="thread-{overnight}"') < page.index(f'id="thread-{in_hours}"')
    row = page.split(f'id="thread-{overnight}"', 1)[1].split("</tr>", 1)[0]
    assert "夜間・休日" in row
    assert "夜間・休日" not in page.split(f'id="thread-{in_hours}"', 1)[1].split("</tr>", 1)[0]

    clerk.api.post(f"/api/v1/inbox/{in_hours}/status", json={"status": "done"})
    done_tab = clerk.page.get("/admin/handoff", params={"status": "done"}).text
    assert f'id="thread-{in_hours}"' in done_tab and f'id="thread-{overnight}"' not in done_tab
    assert re.search(r'id="tab-done" aria-current="page">対応済み <span class="tab-count" id="count-done">1<', done_tab)
    assert "「対応中」の依頼はありません。" in clerk.page.get("/admin/handoff?status=in_progress").text
    # The part of the page that polling swaps in: the same list, without the page around it.
    fragment = clerk.page.get("/admin/handoff/live", params={"status": "open"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'id="thread-{overnight}"' in fragment.text and 'data-open-count="1"' in fragment.text


def test_the_badge_and_the_panel_count_open_requests_on_every_page(
    inbox_app: LiveApp, people: dict[str, Staff]
) -> None:
    app, clerk = inbox_app, people[CLERK]
    assert nav_badge(clerk.page.get("/admin/").text) == (False, "0")
    assert clerk.page.get("/admin/handoff/badge").json() == {"count": 0}
    first = ask_for_staff(app, befriend(app, "瀬戸内 花子"))
    ask_for_staff(app, befriend(app, "牛窓 太郎"))

    for path in ("/admin/", "/admin/citizens", "/admin/reservations", f"/admin/handoff/{first}"):
        assert nav_badge(clerk.page.get(path).text) == (True, "2"), path
    assert nav_badge(people["kanri"].page.get("/admin/audit").text) == (True, "2")
    assert clerk.page.get("/admin/handoff/badge").json() == {"count": 2}
    dashboard = clerk.page.get("/admin/").text
    assert re.search(r'id="handoff-open">2<', dashboard) and re.search(r'id="handoff-in-progress">0<', dashboard)

    clerk.api.post(f"/api/v1/inbox/{first}/reply", json={"text": "確認します。"})
    assert clerk.page.get("/admin/handoff/badge").json() == {"count": 1}
    dashboard = clerk.page.get("/admin/").text
    assert nav_badge(dashboard) == (True, "1")
    assert re.search(r'id="handoff-open">1<', dashboard) and re.search(r'id="handoff-in-progress">1<', dashboard)
    # Roles that cannot open the inbox get neither the entry nor its count.
    for name in ("etsuran", "haishin"):
        html = people[name].page.get("/admin/").text
        assert "nav-count-handoff" not in html and "/admin/handoff" not in html and "handoff-open" not in html


def test_viewers_and_broadcasters_cannot_read_threads_or_reply(inbox_app: LiveApp, people: dict[str, Staff]) -> None:
    app = inbox_app
    user = befriend(app, "瀬戸内 花子")
    thread_id = ask_for_staff(app, user)
    for name in ("etsuran", "haishin"):
        person = people[name]
        for path in (
            "/admin/handoff",
            "/admin/handoff/live",
            "/admin/handoff/badge",
            "/admin/handoff/canned",
            f"/admin/handoff/{thread_id}",
            f"/admin/handoff/{thread_id}/messages",
        ):
            page = person.page.get(path)
            assert page.status_code == 403 and "瀬戸内 花子" not in page.text and "職員と話したい" not in page.text
        for path, data in (
            (f"/admin/handoff/{thread_id}/reply", {"text": "こんにちは"}),
            (f"/admin/handoff/{thread_id}/status", {"status": "done"}),
            (f"/admin/handoff/{thread_id}/assign", {"staff_id": ""}),
            ("/admin/handoff/canned", {"title": "x", "body": "y"}),
        ):
            assert person.post(path, data).status_code == 403, (name, path)
        assert person.api.get("/api/v1/inbox").status_code == 403
        assert person.api.get(f"/api/v1/inbox/{thread_id}").status_code == 403
        assert person.api.post(f"/api/v1/inbox/{thread_id}/reply", json={"text": "x"}).status_code == 403
        assert person.api.post(f"/api/v1/inbox/{thread_id}/status", json={"status": "done"}).status_code == 403
    wait_until(lambda: settled(app), what="anything that might have been sent")
    assert pushes_to(app, user) == []
    [item] = people["kanri"].api.get("/api/v1/inbox").json()
    assert (item["status"], item["last_staff_at"]) == ("open", None)


def test_bad_ids_and_bad_replies_are_refused(inbox_app: LiveApp, people: dict[str, Staff]) -> None:
    app, clerk = inbox_app, people[CLERK]
    user = befriend(app, "瀬戸内 花子")
    thread_id = ask_for_staff(app, user)
    for bad in (0, -1, 2**31, 2**63, 99999999999999999999, thread_id + 1):
        assert clerk.api.get(f"/api/v1/inbox/{bad}").status_code == 404, bad
        assert clerk.api.post(f"/api/v1/inbox/{bad}/reply", json={"text": "x"}).status_code == 404, bad
        assert clerk.api.post(f"/api/v1/inbox/{bad}/status", json={"status": "done"}).status_code == 404, bad
        assert clerk.page.get(f"/admin/handoff/{bad}").status_code == 404, bad
        assert clerk.page.get(f"/admin/handoff/{thread_id}/images/{bad}").status_code == 404, bad
    for body in ({"text": ""}, {"text": " \n\u3000"}, {"text": "あ" * 2001}, {}, {"text": None}):
        response = clerk.api.post(f"/api/v1/inbox/{thread_id}/reply", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], list)
    assert clerk.api.post(f"/api/v1/inbox/{thread_id}/status", json={"status": "closed"}).status_code == 422
    assert clerk.api.get("/api/v1/inbox", params={"status": "closed"}).status_code == 422

    # On the page, the problem is said and what was typed comes back; nothing is sent.
    empty = clerk.post(f"/admin/handoff/{thread_id}/reply", {"text": "  \r\n "})
    assert empty.status_code == 400 and "返信の文を入力してください。" in empty.text
    long_text = "あ\r\n" * 700  # 1,400 characters in the box, 2,100 as browsers send them...
    accepted = clerk.post(f"/admin/handoff/{thread_id}/reply", {"text": long_text})
    assert accepted.status_code == 303  # ...and 2,099 once the line ends are the citizen's
    too_long = clerk.post(f"/admin/handoff/{thread_id}/reply", {"text": "い" * 2001})
    assert too_long.status_code == 400 and "2000文字まで" in too_long.text and "い" * 2001 in too_long.text
    wait_until(lambda: settled(app), what="the one reply sent")
    assert len(pushes_to(app, user)) == 1


def test_an_image_shows_decrypted_and_is_never_cached(inbox_app: LiveApp, people: dict[str, Staff]) -> None:
    app, clerk = inbox_app, people[CLERK]
    user = befriend(app, "瀬戸内 花子")
    thread_id = ask_for_staff(app, user)
    other_thread = ask_for_staff(app, befriend(app, "牛窓 太郎"))
    assert post_webhook(app, [app.sandbox.make_event("image", user)]).status_code == 200
    wait_until(lambda: settled(app), what="the image noted")

    [image] = [m for m in clerk.api.get(f"/api/v1/inbox/{thread_id}").json()["messages"] if m["kind"] == "image"]
    assert image["has_image"] is False and image["image_url"] is None
    assert "画像を受け取り中です" in clerk.page.get(f"/admin/handoff/{thread_id}").text

    async def fetch() -> int:
        client = LineClient(app.settings)
        try:
            return await notify.fetch_images_now(db=app.db, settings=app.settings, client=client)
        finally:
            await client.close()

    assert asyncio.run(fetch()) == 1
    [image] = [m for m in clerk.api.get(f"/api/v1/inbox/{thread_id}").json()["messages"] if m["kind"] == "image"]
    url = f"/admin/handoff/{thread_id}/images/{image['id']}"
    assert image["has_image"] is True and image["image_url"] == url
    assert f'<img class="msg-image" src="{url}"' in clerk.page.get(f"/admin/handoff/{thread_id}").text
    served = clerk.page.get(url)
    assert served.status_code == 200 and served.content == tiny_png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "private, no-store"
    # Only through its own thread, and only for the roles that read threads.
    assert clerk.page.get(f"/admin/handoff/{other_thread}/images/{image['id']}").status_code == 404
    assert people["etsuran"].page.get(url).status_code == 403


def test_staff_assign_threads_and_keep_the_canned_replies(inbox_app: LiveApp, people: dict[str, Staff]) -> None:
    app, clerk = inbox_app, people[CLERK]
    thread_id = ask_for_staff(app, befriend(app, "瀬戸内 花子"))
    staff_ids = {name: person.api.get("/api/v1/me").json()["id"] for name, person in people.items()}

    html = follow(clerk.page, clerk.post(f"/admin/handoff/{thread_id}/assign", {"staff_id": str(staff_ids["tanaka"])}))
    assert "担当をtanakaにしました。" in html
    assert clerk.api.get("/api/v1/inbox").json()[0]["assigned_name"] == "tanaka"
    html = follow(clerk.page, clerk.post(f"/admin/handoff/{thread_id}/assign", {"staff_id": str(staff_ids[CLERK])}))
    assert "担当を自分にしました。" in html and 'id="assign-me"' not in html
    for refused in (str(staff_ids["etsuran"]), str(staff_ids["haishin"]), "999999", "99999999999", "abc"):
        html = follow(clerk.page, clerk.post(f"/admin/handoff/{thread_id}/assign", {"staff_id": refused}))
        assert "その職員には割り当てられません。" in html, refused
    assert clerk.api.get("/api/v1/inbox").json()[0]["assigned_name"] == CLERK
    follow(clerk.page, clerk.post(f"/admin/handoff/{thread_id}/assign", {"staff_id": ""}))
    assert clerk.api.get("/api/v1/inbox").json()[0]["assigned_name"] is None
    # The picker offers only the colleagues who may handle threads.
    picker = clerk.page.get(f"/admin/handoff/{thread_id}").text.split('id="assign-staff"', 1)[1].split("</select>")[0]
    assert "tanaka" in picker and "kanri" in picker and "etsuran" not in picker and "haishin" not in picker

    # 定型文: add, edit, stop using; the thread's picker offers the ones in use, and fills the box.
    added = clerk.post("/admin/handoff/canned", {"title": "窓口の場所", "body": "市民課は1階です。", "sort_order": "9"})
    canned_id = int(added.headers["location"].rsplit("#canned-", 1)[1])
    html = follow(clerk.page, added)
    assert "定型文「窓口の場所」を追加しました。" in html and f'id="canned-{canned_id}"' in html
    thread_page = clerk.page.get(f"/admin/handoff/{thread_id}").text
    assert f'<option value="{canned_id}" data-body="市民課は1階です。">窓口の場所</option>' in thread_page
    prefilled = clerk.page.get(f"/admin/handoff/{thread_id}", params={"canned": canned_id}).text
    assert re.search(r'<textarea name="text" id="reply-text"[^>]*>市民課は1階です。</textarea>', prefilled)
    edit = {"title": "窓口の場所", "body": "市民課は本庁舎1階です。", "sort_order": "5", "is_active": "1"}
    assert "を保存しました" in follow(clerk.page, clerk.post(f"/admin/handoff/canned/{canned_id}", edit))
    assert 'data-body="市民課は本庁舎1階です。"' in clerk.page.get(f"/admin/handoff/{thread_id}").text
    html = follow(clerk.page, clerk.post(f"/admin/handoff/canned/{canned_id}", {**edit, "is_active": ""}))
    assert "（使わない設定）" in html and "使っていません" in html
    picker = clerk.page.get(f"/admin/handoff/{thread_id}").text.split('id="canned-select"', 1)[1].split("</select>")[0]
    assert f'<option value="{canned_id}"' not in picker and "確認します" in picker  # the seeded ones stay
    bad = follow(clerk.page, clerk.post(f"/admin/handoff/canned/{canned_id}", {**edit, "title": " "}))
    assert "題名（60文字まで）" in bad
    assert clerk.post("/admin/handoff/canned/999999", edit).status_code == 404
    assert audit_actions(app).count("handoff.assign") == 3 and audit_actions(app).count("handoff.canned") == 3

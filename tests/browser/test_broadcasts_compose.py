"""配信 in a real browser: a broadcaster composes a message to all friends (the counter counts as
LINE does, the preview is the sandbox's own rendering, the reach is shown), it waits for approval and
its author cannot approve it; a second broadcaster approves it and watches the progress reach 配信済み;
the citizens' sandbox chats got it once each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot import citizens as citizen_service
from bot import clock
from tests.support import LiveApp, wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
# A weekday morning: outside quiet hours, so an approved message goes at once.
MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=clock.TOKYO)
TEXT = "年末年始の窓口のご案内です。12月29日から1月3日まではお休みです🎍"


@pytest.fixture
def compose_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    clock.travel_to(MORNING)
    with app.db.session() as db_session:
        for name in ("haishin1", "haishin2"):
            create_user(
                db_session=db_session, name=name, role=StaffRole.BROADCASTER, password=PASSWORD, actor=Actor.system()
            )
    yield app
    clock.travel_to(None)


def friends(app: LiveApp, count: int) -> list[str]:
    users = []
    for n in range(count):
        user_id = "U" + uuid.uuid4().hex
        app.sandbox.add_user(user_id, f"市民{n}")
        with app.db.session() as db_session:
            citizen_service.follow(db_session=db_session, line_user_id=user_id, profile=None)
        users.append(user_id)
    return users


def sign_in(page: Any, app: LiveApp, name: str, path: str) -> None:
    page.goto(f"{app.base_url}{path}")
    page.get_by_label("ログイン名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{app.base_url}{path}")


def test_compose_preview_approval_by_a_second_person_and_progress(page: Any, compose_app: LiveApp) -> None:
    app = compose_app
    users = friends(app, 3)
    author = page
    sign_in(author, app, "haishin1", "/admin/broadcasts/new")

    author.get_by_label("件名（一覧と通知に表示）").fill("年末年始の窓口")
    author.get_by_label("お知らせ", exact=True).check()
    author.get_by_label("本文").fill(TEXT)
    # 🎍 is one character on screen and two in LINE's count (UTF-16).
    author.wait_for_function(
        "n => document.getElementById('text-count').textContent.startsWith(n)", arg=f"{len(TEXT) + 1}／"
    )
    preview = author.locator("#preview .flex-bubble", has_text="お休みです")
    preview.wait_for()
    assert "年末年始の窓口" in preview.inner_text()

    author.get_by_label("すべての友だち（承認が必要です）").check()
    author.wait_for_function("() => document.getElementById('reach').textContent.includes('3人')")
    author.get_by_role("button", name="作成する").click()
    author.wait_for_url(f"{app.base_url}/admin/broadcasts/*")
    assert author.locator("#status-badge").inner_text() == "承認待ち"
    assert author.locator("#own-broadcast").is_visible()
    assert author.locator("#approve-button").count() == 0
    detail_url = author.url
    assert "年末年始の窓口" in author.locator("#preview .flex-bubble").inner_text()

    approver = page.context.browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo").new_page()
    sign_in(approver, app, "haishin2", detail_url.removeprefix(app.base_url))
    approver.locator("#approve-button").click()
    approver.wait_for_function("() => document.getElementById('status-badge').textContent === '配信済み'")
    assert approver.locator("[data-figure=sent]").inner_text() == "3"
    assert approver.locator("#progress-bar").get_attribute("value") == "100"

    wait_until(
        lambda: all(
            sum(1 for d in app.sandbox.deliveries(to=u) if "年末年始の窓口" in str(d.messages)) == 1 for u in users
        ),
        what="every friend got it once",
    )
    author.goto(f"{app.base_url}/admin/broadcasts")
    row = author.locator("#broadcast-list tbody tr").first
    assert "配信済み" in row.inner_text() and "3／3人" in row.inner_text()

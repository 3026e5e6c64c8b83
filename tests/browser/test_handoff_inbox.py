"""職員対応 in a real browser: counter staff open a citizen's thread and reply with Enter, while the
Enter that confirms a Japanese IME conversion sends nothing (Chrome's isComposing, Safari's keyCode
229 after compositionend, and an Enter right after a composition ends); Shift+Enter is a new line;
the reply arrives on LINE as a push; closing the thread tells the citizen. And the 未対応 badge and
the inbox list update by polling when a new request arrives, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot import clock
from bot.catalog import t
from handlers.handoff.models import HandoffRequest
from tests.support import LiveApp, new_citizen, post_webhook, say_all, settled, wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)

# Key events as an IME sends them around a conversion (untrusted events never type anything).
COMPOSE = """([steps]) => {
  const box = document.getElementById("reply-text");
  box.focus();
  for (const [type, init] of steps) {
    const event = type.startsWith("composition")
      ? new CompositionEvent(type, {bubbles: true, data: "確認"})
      : new KeyboardEvent(type, {bubbles: true, cancelable: true, key: "Enter", code: "Enter", ...init});
    if (init && init.keyCode !== undefined) {
      Object.defineProperty(event, "keyCode", {get: () => init.keyCode});
    }
    box.dispatchEvent(event);
  }
}"""


@pytest.fixture
def inbox_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(TUESDAY_MORNING)
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        create_user(
            db_session=db_session, name="madoguchi", role=StaffRole.COUNTER, password=PASSWORD, actor=Actor.system()
        )
    yield app


def sign_in(page: Any, app: LiveApp, then: str) -> None:
    page.goto(f"{app.base_url}{then}")
    page.get_by_label("ログイン名").fill("madoguchi")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{app.base_url}{then}")


def ask_for_staff(app: LiveApp, name: str) -> tuple[str, int]:
    """A citizen adds the account (so their LINE name is known) and asks for a person."""
    user = new_citizen(app, name)
    assert post_webhook(app, [app.sandbox.make_event("follow", user)]).status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user), what="the greeting")
    wait_until(lambda: settled(app), what="the greeting settled")
    say_all(app, user, "職員と話したい")
    with app.db.session() as db_session:
        thread_id = db_session.scalars(select(HandoffRequest.id).where(HandoffRequest.line_user_id == user)).one()
    return user, thread_id


def pushes_to(app: LiveApp, user: str) -> list[str]:
    return [m.get("text", "") for d in app.sandbox.deliveries(to=user, endpoint="push") for m in d.messages]


def test_enter_sends_but_not_while_composing_and_closing_tells_the_citizen(page: Any, inbox_app: LiveApp) -> None:
    app = inbox_app
    user, thread_id = ask_for_staff(app, "瀬戸内 花子")
    thread_url = f"/admin/handoff/{thread_id}"
    sign_in(page, app, thread_url)
    assert page.locator("#thread-status").inner_text() == "未対応"
    assert page.locator("[data-enter-hint]").is_visible()  # the script is running

    box = page.locator("#reply-text")
    box.click()
    page.keyboard.type("かくにんします")
    for steps in (
        # Chrome and Firefox: the Enter that confirms the conversion comes while composing.
        [["compositionstart", None], ["keydown", {"isComposing": True, "keyCode": 229}], ["compositionend", None]],
        # Safari: the composition ends first, then its Enter comes with keyCode 229.
        [["compositionstart", None], ["compositionend", None], ["keydown", {"keyCode": 229}]],
        # An IME that ends the composition just before a plain Enter.
        [["compositionstart", None], ["compositionend", None], ["keydown", {"keyCode": 13}]],
    ):
        page.evaluate(COMPOSE, [steps])
        page.wait_for_timeout(300)
        assert page.url == f"{app.base_url}{thread_url}", steps
        assert page.locator("#reply-form").get_attribute("data-sending") is None, steps
    wait_until(lambda: settled(app), what="anything that might have been sent")
    assert pushes_to(app, user) == []

    # Shift+Enter is a new line; Enter (a real key, no composition) sends.
    box.press("End")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("少々お待ちください。")
    assert box.input_value() == "かくにんします\n少々お待ちください。"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "返信を送りました。" in page.locator(".flash").inner_text()
    latest = page.locator("#latest")
    assert "職員（madoguchi）" in latest.inner_text()
    assert latest.locator(".msg-text").inner_text() == "かくにんします\n少々お待ちください。"
    assert page.locator("#thread-status").inner_text() == "対応中"
    reply = t("handoff.staff_reply", body="かくにんします\n少々お待ちください。")
    wait_until(lambda: pushes_to(app, user) == [reply], what="the reply pushed")

    # Closing the thread: the citizen is told and goes back to the bot.
    with page.expect_navigation():
        page.get_by_role("button", name="対応済みにする").click()
    assert page.locator("#thread-status").inner_text() == "対応済み"
    assert "市民にボットの案内に戻ることをお知らせしました。" in page.locator(".flash").inner_text()
    wait_until(lambda: pushes_to(app, user) == [reply, t("handoff.closed_by_staff")], what="the closing note")


def test_a_new_request_shows_in_the_list_and_the_badge_without_a_reload(page: Any, inbox_app: LiveApp) -> None:
    app = inbox_app
    page.clock.install()  # the pollers' timers run when the test says so
    sign_in(page, app, "/admin/handoff")
    badge = page.locator("#nav-count-handoff")
    assert badge.is_hidden()
    assert page.locator("#inbox-empty").is_visible()

    _, first = ask_for_staff(app, "瀬戸内 花子")
    page.clock.fast_forward(16_000)
    page.locator(f"#thread-{first}").wait_for()
    assert "瀬戸内 花子" in page.locator(f"#thread-{first}").inner_text()
    expect(badge.locator("[data-badge-count]")).to_have_text("1")
    assert badge.is_visible() and page.locator("#count-open").inner_text() == "1"
    assert "新しい依頼が届きました" in page.locator("#inbox-announce").inner_text()

    # On any other page the nav badge polls by itself.
    page.goto(f"{app.base_url}/admin/citizens")
    assert badge.locator("[data-badge-count]").inner_text() == "1"
    ask_for_staff(app, "牛窓 太郎")
    page.clock.fast_forward(16_000)
    expect(badge.locator("[data-badge-count]")).to_have_text("2")
    assert badge.is_visible()
    assert page.url == f"{app.base_url}/admin/citizens"  # no reload

"""The LINE sandbox chat page in a real headless Chromium, against the whole product."""

from __future__ import annotations

import asyncio
import concurrent.futures
from itertools import pairwise
from typing import Any

import pytest

from bot import richmenu
from bot.catalog import t
from bot.line_client import LineClient
from tests.support import LiveApp

pytestmark = pytest.mark.browser


def deploy_rich_menu(app: LiveApp) -> str:
    async def run() -> str:
        client = LineClient(app.settings)
        try:
            return await richmenu.deploy(api=client.api, blob_api=client.blob_api)
        finally:
            await client.close()

    # Playwright's sync API owns this thread's event loop: deploy from a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=30)


def new_citizen(page: Any, app: LiveApp, name: str) -> None:
    page.goto(f"{app.base_url}/sandbox")
    page.click("#new-citizen-button")
    page.fill("#new-citizen-name", name)
    page.click("#new-citizen-form button[type=submit]")


def bot_bubbles(page: Any) -> Any:
    return page.locator(".row-bot .bubble")


def test_a_citizen_follows_chats_and_taps_quick_replies_and_the_rich_menu(page: Any, app: LiveApp) -> None:
    deploy_rich_menu(app)
    new_citizen(page, app, "瀬戸内 花子")
    # The page adds the bot as a friend; the greeting uses the LINE display name.
    page.locator(".row-bot .bubble", has_text="瀬戸内 花子さん、友だち追加ありがとうございます。").wait_for()

    page.fill("#text-input", "こんにちは")
    page.press("#text-input", "Enter")
    page.locator(".row-own .bubble", has_text="こんにちは").wait_for()
    page.locator(".row-bot .bubble", has_text=t("welcome.greet").splitlines()[0]).nth(0).wait_for()

    # Quick replies from the last answer are chips; "職員と話したい" is one of the main menu's.
    chip = page.locator("#quick-replies .chip", has_text="よくある質問")
    chip.wait_for()
    before = bot_bubbles(page).count()
    chip.click()
    page.wait_for_function("n => document.querySelectorAll('.row-bot .bubble').length > n", arg=before, timeout=10_000)

    # The rich menu the bot deployed is shown under the chat; tapping an area sends its postback.
    if not page.locator("#richmenu-panel").is_visible():  # opens by itself: the menu is "selected"
        page.click("#richmenu-bar")
    area = page.locator(".richmenu-area").nth(4)  # スマホ教室
    assert area.get_attribute("aria-label") == "スマホ教室"
    before = bot_bubbles(page).count()
    area.click()
    page.wait_for_function("n => document.querySelectorAll('.row-bot .bubble').length > n", arg=before, timeout=10_000)
    assert page.locator(".row-own .bubble", has_text="スマホ教室").count() >= 1
    assert len(app.sandbox.deliveries()) >= 4


def test_enter_that_confirms_a_japanese_conversion_does_not_send(page: Any, app: LiveApp) -> None:
    new_citizen(page, app, "牛窓 太郎")
    page.locator(".row-bot .bubble").first.wait_for()
    page.fill("#text-input", "よやく")
    # What an IME sends when Enter confirms a conversion: keydown with isComposing (keyCode 229).
    page.dispatch_event("#text-input", "compositionstart")
    page.evaluate("""() => {
        const box = document.querySelector('#text-input');
        box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', keyCode: 229, isComposing: true,
                                                        bubbles: true, cancelable: true}));
    }""")
    page.wait_for_timeout(300)
    assert page.input_value("#text-input") == "よやく"
    assert page.locator(".row-own .bubble").count() == 0
    page.dispatch_event("#text-input", "compositionend")
    page.press("#text-input", "Enter")
    page.locator(".row-own .bubble", has_text="よやく").wait_for()


# Where a phone number sits in a bot bubble: the client rects of its text (joiners allowed between
# its characters), as [top, bottom] pairs, ignoring the joiners' empty rects.
NUMBER_LINES = """([bubble, digits]) => {
    const pattern = new RegExp(digits.split('').map(c => c.replace('-', '\\\\-')).join('\\u2060?'));
    const walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const found = pattern.exec(node.data);
        if (!found) continue;
        const range = document.createRange();
        range.setStart(node, found.index);
        range.setEnd(node, found.index + found[0].length);
        return [...range.getClientRects()].filter(r => r.width > 0).map(r => [r.top, r.bottom]);
    }
    return null;
}"""


def test_a_phone_number_stays_on_one_line_in_a_narrow_chat(page: Any, app: LiveApp) -> None:
    """Issue #17 item 9: 「0869-22-」 and 「1111」 on two lines of a bubble on a phone-sized screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    new_citizen(page, app, "長船 次郎")
    page.locator(".row-bot .bubble").first.wait_for()
    page.fill("#text-input", "職員と話したい")
    page.press("#text-input", "Enter")
    phone = app.settings.city_phone
    bubble = page.locator(".row-bot .bubble", has_text="職員へのおつなぎのご希望を承りました").first
    bubble.wait_for()
    handle = bubble.element_handle()

    def lines() -> int:
        rects = page.evaluate(NUMBER_LINES, [handle, phone])
        assert rects, f"{phone} not found in {bubble.inner_text()!r}"
        tops = sorted({round(top) for top, _ in rects})
        return sum(1 for a, b in pairwise(tops) if b - a > 4) + 1

    assert lines() == 1, "the number wraps at 390 px"
    # Wherever the line ends on another phone's screen, the number still moves as a whole: narrower
    # bubbles put the end of the line at each of its characters in turn.
    for width in range(160, 330, 3):
        handle.evaluate("(node, width) => { node.style.width = width + 'px'; }", width)
        assert lines() == 1, f"the number wraps in a bubble {width} px wide"

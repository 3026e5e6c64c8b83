"""line-render.js as the admin serves it (for previews): LINE messages drawn like the sandbox chat page,
with nothing happening on a tap when no onAction is given."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import LiveApp

pytestmark = pytest.mark.browser

MESSAGES = [
    {"type": "text", "text": "お知らせです https://example.com/info"},
    {
        "type": "flex",
        "altText": "教室のご案内",
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "スマホ教室"}]},
            "footer": {
                "type": "box",
                "layout": "vertical",
                "contents": [
                    {
                        "type": "button",
                        "style": "primary",
                        "action": {"type": "postback", "label": "申し込む", "data": "x"},
                    }
                ],
            },
        },
    },
    {
        "type": "template",
        "altText": "確認",
        "template": {
            "type": "confirm",
            "text": "参加しますか",
            "actions": [
                {"type": "message", "label": "はい", "text": "はい"},
                {"type": "message", "label": "いいえ", "text": "いいえ"},
            ],
        },
        "quickReply": {
            "items": [{"type": "action", "action": {"type": "message", "label": "メニュー", "text": "メニュー"}}]
        },
    },
]


def test_the_admin_preview_draws_messages_and_chips_and_taps_do_nothing(page: Any, app: LiveApp) -> None:
    page.goto(f"{app.base_url}/admin/login")  # same origin as the scripts
    page.add_style_tag(url="/admin/static/line-render.css")
    page.add_script_tag(url="/admin/static/line-render.js")
    page.evaluate(
        """messages => {
            const box = document.createElement('div');
            box.id = 'preview';
            document.body.append(box);
            LineRender.renderMessages(messages, box);
        }""",
        MESSAGES,
    )
    preview = page.locator("#preview")
    assert preview.locator(".row-bot").count() == 3
    assert preview.locator(".sender-name").count() == 1
    assert preview.locator(".bubble a").get_attribute("href") == "https://example.com/info"
    assert preview.locator(".flex-bubble .flex-text").inner_text() == "スマホ教室"
    button = preview.locator(".flex-button.primary")
    assert button.inner_text() == "申し込む"
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(6, 199, 85)"  # line-render.css
    assert preview.locator(".template-actions.confirm button").count() == 2
    assert preview.locator(".quick-replies .chip").inner_text() == "メニュー"
    url = page.url
    for target in (button, preview.locator(".template-actions button").first, preview.locator(".chip")):
        target.click()
    assert page.url == url
    assert preview.locator(".flex-clickable").count() == 0

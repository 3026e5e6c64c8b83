"""The chat page's JSON API: citizens, real signed webhook events to a dummy bot, the timeline the page
polls, and the rich menu it draws. The dummy bot answers through the fake Messaging API over HTTP."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.models.events import UnknownEvent
from linebot.v3.webhook import WebhookParser
from PIL import Image

from bot.sandbox import SandboxPlatform, create_sandbox_router
from tests.support import free_port
from tests.support import serve_app as serve

SECRET = "chat-test-secret"
TOKEN = "chat-test-token"
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
FAIL_TEXT = "壊れて"


@dataclass
class DummyBot:
    """Records what reached /callback; replies to text and postbacks through the fake API."""

    api_url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for body in self.bodies for event in body["events"]]


@dataclass
class Chat:
    base_url: str
    platform: SandboxPlatform
    bot: DummyBot
    http: httpx.Client

    def get(self, path: str) -> httpx.Response:
        return self.http.get(self.base_url + path)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(self.base_url + path, json=body)

    def line(
        self, path: str, body: bytes | dict[str, Any] = b"", content_type: str = "application/json"
    ) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(
            f"{self.base_url}/sandbox/line{path}",
            content=content,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
        )

    def citizen(self, name: str = "瀬戸内 花子", *, follow: bool = True) -> str:
        user_id = self.post("/sandbox/api/citizens", {"displayName": name}).json()["userId"]
        if follow:
            assert self.event(user_id, {"kind": "follow"}).json()["status"] == 200
        return user_id

    def event(self, user_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.post(f"/sandbox/api/citizens/{user_id}/events", body)

    def timeline(self, user_id: str, after: int = 0) -> dict[str, Any]:
        response = self.get(f"/sandbox/api/citizens/{user_id}/timeline?after={after}")
        assert response.status_code == 200
        return response.json()


def dummy_bot_app(platform: SandboxPlatform, bot: DummyBot) -> FastAPI:
    app = FastAPI()
    http = httpx.AsyncClient(timeout=10)  # used only on the server's loop
    app.include_router(create_sandbox_router(platform))
    parser = WebhookParser(SECRET)

    @app.post("/callback")
    async def callback(request: Request) -> Response:
        body = await request.body()
        try:
            parsed = parser.parse(body.decode(), request.headers.get("x-line-signature", ""))
        except InvalidSignatureError:
            return Response("bad signature", status_code=400)
        assert not any(isinstance(e, UnknownEvent) for e in parsed), "the SDK could not read an event"
        payload = json.loads(body)
        bot.bodies.append(payload)
        for event in payload["events"]:
            reply = _answer(event)
            if reply == FAIL_TEXT:
                return Response("boom", status_code=500)
            if reply is not None and "replyToken" in event:
                answered = await http.post(
                    f"{bot.api_url}/v2/bot/message/reply",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    json={"replyToken": event["replyToken"], "messages": [{"type": "text", "text": reply}]},
                )
                assert answered.status_code == 200, answered.text
        return Response("OK")

    return app


def _answer(event: dict[str, Any]) -> str | None:
    if event["type"] == "message" and event["message"]["type"] == "text":
        text = event["message"]["text"]
        return FAIL_TEXT if text == FAIL_TEXT else f"echo:{text}"
    if event["type"] == "postback":
        return f"postback:{event['postback']['data']}"
    if event["type"] == "follow":
        return "ようこそ"
    return None


@pytest.fixture(scope="module")
def running() -> Iterator[Chat]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    platform = SandboxPlatform(channel_secret=SECRET, access_token=TOKEN, webhook_url=f"{base}/callback")
    bot = DummyBot(api_url=f"{base}/sandbox/line")
    with serve(dummy_bot_app(platform, bot), port), httpx.Client(timeout=10) as http:
        yield Chat(base, platform, bot, http)


@pytest.fixture
def chat(running: Chat) -> Chat:
    running.platform.reset()
    running.bot.bodies.clear()
    return running


def texts(timeline: dict[str, Any]) -> list[str]:
    shown = []
    for item in timeline["items"]:
        if item["from"] == "bot":
            shown += [f"bot:{m['text']}" for m in item["messages"]]
        else:
            shown.append(f"me:{item['kind']}:{item.get('text') or item.get('displayText') or ''}")
    return shown


# --- page and citizens -------------------------------------------------------------------------------
def test_the_chat_page_and_its_assets_are_served(chat: Chat) -> None:
    page = chat.get("/sandbox")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for words in ("メッセージを入力", "送信", "位置情報を送る", "友だち追加", "ブロック"):
        assert words in page.text
    script = chat.get("/sandbox/static/chat.js")
    assert script.status_code == 200 and "isComposing" in script.text and "keyCode === 229" in script.text
    assert chat.get("/sandbox/static/chat.css").status_code == 200
    assert chat.get("/sandbox/static/../platform.py").status_code == 404
    assert chat.get("/sandbox/static/platform.py").status_code == 404


def test_citizens_are_created_listed_and_named(chat: Chat) -> None:
    created = chat.post("/sandbox/api/citizens", {"displayName": "牛窓 次郎"})
    assert created.status_code == 201
    user_id = created.json()["userId"]
    assert re.fullmatch(r"U[0-9a-f]{32}", user_id)
    listed = chat.get("/sandbox/api/citizens").json()["citizens"]
    assert [(c["userId"], c["displayName"], c["followed"]) for c in listed] == [(user_id, "牛窓 次郎", False)]
    assert chat.post("/sandbox/api/citizens", {"displayName": "  "}).status_code == 400
    assert chat.post("/sandbox/api/citizens", {"displayName": "あ" * 21}).status_code == 400
    profile = chat.platform.user(user_id)
    assert profile is not None and profile.profile()["language"] == "ja"


# --- events through the real webhook -----------------------------------------------------------------
def test_follow_then_text_reach_the_bot_signed_and_the_replies_show_in_order(chat: Chat) -> None:
    user = chat.citizen()
    sent = chat.event(user, {"kind": "text", "text": "住民票は\nどこで？"})
    assert sent.status_code == 200
    assert sent.json()["status"] == 200 and ULID.match(sent.json()["webhookEventId"])
    assert [e["type"] for e in chat.bot.events] == ["follow", "message"]
    assert chat.bot.events[1]["message"]["text"] == "住民票は\nどこで？"
    assert chat.bot.events[1]["webhookEventId"] == sent.json()["webhookEventId"]
    assert chat.bot.bodies[0]["destination"] == chat.platform.destination
    timeline = chat.timeline(user)
    asked = "住民票は\nどこで？"
    assert texts(timeline) == ["me:follow:", "bot:ようこそ", f"me:text:{asked}", f"bot:echo:{asked}"]
    seqs = [i["seq"] for i in timeline["items"]]
    assert seqs == sorted(seqs) and timeline["lastSeq"] == seqs[-1]
    assert timeline["user"]["followed"] is True
    assert [i["status"] for i in timeline["items"] if i["from"] == "citizen"] == [200, 200]


def test_timeline_after_returns_only_newer_items_and_only_this_citizens(chat: Chat) -> None:
    hanako, jiro = chat.citizen("花子"), chat.citizen("次郎")
    seen = chat.timeline(hanako)["lastSeq"]
    chat.event(jiro, {"kind": "text", "text": "次郎です"})
    chat.event(hanako, {"kind": "text", "text": "花子です"})
    assert texts(chat.timeline(hanako, after=seen)) == ["me:text:花子です", "bot:echo:花子です"]
    assert "me:text:花子です" not in texts(chat.timeline(jiro))


def test_postback_with_display_text_and_params(chat: Chat) -> None:
    user = chat.citizen()
    chat.event(
        user,
        {
            "kind": "postback",
            "data": "action=reserve&step=date",
            "displayText": "日付を選ぶ",
            "params": {"date": "2025-06-18"},
        },
    )
    event = chat.bot.events[-1]
    assert event["type"] == "postback"
    assert event["postback"] == {"data": "action=reserve&step=date", "params": {"date": "2025-06-18"}}
    assert texts(chat.timeline(user))[-2:] == ["me:postback:日付を選ぶ", "bot:postback:action=reserve&step=date"]
    assert chat.event(user, {"kind": "postback", "data": "x" * 301}).status_code == 400


def test_location_sticker_and_image_events(chat: Chat) -> None:
    user = chat.citizen()
    chat.event(user, {"kind": "location", "title": "牛窓支所", "latitude": 34.6185, "longitude": 134.1579})
    chat.event(user, {"kind": "sticker"})
    chat.event(user, {"kind": "image"})
    location, sticker, image = (e["message"] for e in chat.bot.events[-3:])
    assert (location["type"], location["title"], location["latitude"], location["longitude"]) == (
        "location",
        "牛窓支所",
        34.6185,
        134.1579,
    )
    assert sticker["type"] == "sticker" and sticker["packageId"] and sticker["stickerResourceType"] == "STATIC"
    assert image["contentProvider"] == {"type": "line"}
    content = chat.http.get(
        f"{chat.base_url}/sandbox/line/v2/bot/message/{image['id']}/content",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert content.status_code == 200 and content.content.startswith(b"\x89PNG")
    assert chat.event(user, {"kind": "location", "latitude": 123, "longitude": 0}).status_code == 400


def test_unfollow_blocks_and_pushes_are_accepted_but_not_shown(chat: Chat) -> None:
    user = chat.citizen()
    chat.event(user, {"kind": "unfollow"})
    assert "replyToken" not in chat.bot.events[-1]
    pushed = chat.line("/v2/bot/message/push", {"to": user, "messages": [{"type": "text", "text": "お知らせ"}]})
    multicast = chat.line("/v2/bot/message/multicast", {"to": [user], "messages": [{"type": "text", "text": "全体"}]})
    assert pushed.status_code == 200 and multicast.status_code == 200
    assert [d.blocked for d in chat.platform.deliveries(to=user)][-2:] == [[user], [user]]
    timeline = chat.timeline(user)
    assert timeline["user"]["blocked"] is True and timeline["user"]["followed"] is False
    assert "bot:お知らせ" not in texts(timeline) and "bot:全体" not in texts(timeline)
    chat.event(user, {"kind": "follow"})
    assert chat.bot.events[-1]["follow"] == {"isUnblocked": True}
    assert chat.timeline(user)["user"]["followed"] is True


def test_the_webhook_status_is_reported_when_the_bot_fails(chat: Chat) -> None:
    user = chat.citizen()
    answer = chat.event(user, {"kind": "text", "text": FAIL_TEXT})
    assert answer.status_code == 200 and answer.json()["status"] == 500
    assert chat.timeline(user)["items"][-1]["status"] == 500


def test_an_unreachable_webhook_answers_502(chat: Chat) -> None:
    user = chat.citizen(follow=False)
    real_url = chat.platform.webhook_url
    chat.platform.webhook_url = f"http://127.0.0.1:{free_port()}/callback"
    try:
        answer = chat.event(user, {"kind": "text", "text": "届く？"})
    finally:
        chat.platform.webhook_url = real_url
    assert answer.status_code == 502 and answer.json()["status"] == 0 and "ConnectError" in answer.json()["error"]


def test_bad_requests_are_refused(chat: Chat) -> None:
    user = chat.citizen(follow=False)
    assert chat.event("U" + "0" * 32, {"kind": "text", "text": "x"}).status_code == 404
    assert chat.event(user, {"kind": "dance"}).status_code == 400
    assert chat.event(user, {"kind": "text", "text": ""}).status_code == 400
    assert chat.get(f"/sandbox/api/citizens/{'U' + '0' * 32}/timeline").status_code == 404
    assert chat.bot.events == []


def test_loading_animation_shows_until_the_bot_answers(chat: Chat) -> None:
    user = chat.citizen()
    assert chat.line("/v2/bot/chat/loading/start", {"chatId": user, "loadingSeconds": 20}).status_code == 202
    assert chat.timeline(user)["loading"] is True
    chat.line("/v2/bot/message/push", {"to": user, "messages": [{"type": "text", "text": "お待たせしました"}]})
    assert chat.timeline(user)["loading"] is False


# --- rich menu for the page --------------------------------------------------------------------------
def _menu_image(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 240)).save(buffer, "PNG")
    return buffer.getvalue()


def _create_menu(chat: Chat, name: str, bar: str) -> str:
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": name,
        "chatBarText": bar,
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                "action": {"type": "message", "label": "質問", "text": "よくある質問"},
            }
        ],
    }
    menu_id = chat.line("/v2/bot/richmenu", body).json()["richMenuId"]
    assert chat.line(f"/v2/bot/richmenu/{menu_id}/content", _menu_image(2500, 843), "image/png").status_code == 200
    return menu_id


def test_the_default_rich_menu_and_a_users_own_menu_are_served_to_the_page(chat: Chat) -> None:
    user = chat.citizen()
    assert chat.get("/sandbox/api/richmenu").json() == {"richMenu": None, "imageUrl": None}
    assert chat.get("/sandbox/api/richmenu/image").status_code == 404
    default_id = _create_menu(chat, "default", "メニュー")
    assert chat.line(f"/v2/bot/user/all/richmenu/{default_id}").status_code == 200
    served = chat.get("/sandbox/api/richmenu").json()
    assert served["richMenu"]["richMenuId"] == default_id and served["richMenu"]["chatBarText"] == "メニュー"
    assert served["richMenu"]["areas"][0]["action"]["text"] == "よくある質問"
    image = chat.get(served["imageUrl"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert chat.get("/sandbox/api/richmenu/image").content == image.content
    assert chat.timeline(user)["richMenuId"] == default_id
    own_id = _create_menu(chat, "own", "わたしの")
    assert chat.line(f"/v2/bot/user/{user}/richmenu/{own_id}").status_code == 200
    assert chat.get(f"/sandbox/api/richmenu?userId={user}").json()["richMenu"]["chatBarText"] == "わたしの"
    assert chat.timeline(user)["richMenuId"] == own_id
    chat.http.delete(
        f"{chat.base_url}/sandbox/line/v2/bot/richmenu/{default_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert chat.get("/sandbox/api/richmenu").json()["richMenu"] is None


def test_sandbox_routes_stay_out_of_the_apps_openapi_schema() -> None:
    platform = SandboxPlatform(channel_secret=SECRET, access_token=TOKEN, webhook_url="http://127.0.0.1:9/callback")
    app = FastAPI()
    app.include_router(create_sandbox_router(platform))
    paths = app.openapi()["paths"]
    assert not [p for p in paths if p.startswith("/sandbox")]

"""The fake Messaging API: checked with the real line-bot-sdk client and with raw HTTP for what the SDK
would refuse before sending. The router runs in a real uvicorn server (aiohttp needs a socket)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    BroadcastRequest,
    Configuration,
    MulticastRequest,
    NarrowcastRequest,
    PostbackAction,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    ShowLoadingAnimationRequest,
    TextMessage,
)
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import (
    FollowEvent,
    ImageMessageContent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
)
from PIL import Image

from bot.sandbox import Delivery, SandboxPlatform, create_sandbox_router
from tests.support import free_port
from tests.support import serve_app as serve

SECRET = "sandbox-test-secret"
TOKEN = "sandbox-test-token"
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class FakeClock:
    """The platform's monotonic clock, moved by hand (reply-token expiry, rate limits)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Line:
    base_url: str
    platform: SandboxPlatform
    clock: FakeClock
    http: httpx.Client

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/sandbox/line"

    def post(self, path: str, body: Any, *, token: str | None = TOKEN, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **headers}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.http.post(self.api_url + path, content=content, headers=all_headers)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(self.api_url + path, headers={"Authorization": f"Bearer {TOKEN}"})

    def new_user(self, name: str = "瀬戸内 花子") -> str:
        user_id = "U" + uuid.uuid4().hex
        self.platform.add_user(user_id, name)
        return user_id


@pytest.fixture(scope="module")
def running() -> Iterator[Line]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    platform = SandboxPlatform(channel_secret=SECRET, access_token=TOKEN, webhook_url=f"{base}/callback", clock=clock)
    app = FastAPI()
    app.include_router(create_sandbox_router(platform))
    with serve(app, port), httpx.Client(timeout=10) as http:
        yield Line(base, platform, clock, http)


@pytest.fixture
def line(running: Line) -> Line:
    running.platform.reset()
    running.platform.allow_http_images = True
    return running


@asynccontextmanager
async def sdk(line: Line) -> AsyncIterator[tuple[AsyncMessagingApi, AsyncMessagingApiBlob]]:
    client = AsyncApiClient(Configuration(host=line.api_url, access_token=TOKEN))
    try:
        yield AsyncMessagingApi(client), AsyncMessagingApiBlob(client)
    finally:
        await client.close()


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (6, 199, 85)).save(buffer, "PNG")
    return buffer.getvalue()


def rich_menu_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": {"width": 2500, "height": 843},
        "selected": True,
        "name": "main",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                "action": {"type": "postback", "data": "action=faq", "displayText": "よくある質問"},
            }
        ],
    }
    body.update(overrides)
    return body


def details(response: httpx.Response) -> list[str]:
    return [d["property"] for d in response.json().get("details", [])]


# --- with the real SDK -------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_reply_through_the_sdk_reaches_the_user_of_the_token(line: Line) -> None:
    user = line.new_user()
    event = line.platform.make_event("text", user, text="こんにちは")
    async with sdk(line) as (api, _):
        messages = [TextMessage(text="はい、瀬戸内市です"), TextMessage(text="2通目")]
        answer = await api.reply_message_with_http_info(
            ReplyMessageRequest(replyToken=event["replyToken"], messages=messages)
        )
    assert answer.status_code == 200
    assert len(answer.data.sent_messages) == 2
    assert all(m.id.isdigit() and m.quote_token for m in answer.data.sent_messages)
    [delivery] = line.platform.deliveries(to=user)
    assert delivery.endpoint == "reply" and delivery.to == [user]
    assert [m["text"] for m in delivery.messages] == ["はい、瀬戸内市です", "2通目"]
    assert delivery.request_id == answer.headers["X-Line-Request-Id"]
    assert delivery.sent_message_ids == [m.id for m in answer.data.sent_messages]


@pytest.mark.anyio
async def test_push_with_a_retry_key_is_delivered_once_and_the_retry_gets_409(line: Line) -> None:
    user = line.new_user()
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=user, messages=[TextMessage(text="予約を受け付けました")])
    async with sdk(line) as (api, _):
        first = await api.push_message_with_http_info(request, x_line_retry_key=key)
        with pytest.raises(ApiException) as retried:
            await api.push_message_with_http_info(request, x_line_retry_key=key)
    assert first.status_code == 200 and first.data.sent_messages[0].id
    assert retried.value.status == 409
    assert retried.value.headers["X-Line-Accepted-Request-Id"] == first.headers["X-Line-Request-Id"]
    body = json.loads(retried.value.body)
    assert body["message"] == "The retry key is already accepted"
    assert body["sentMessages"][0]["id"] == first.data.sent_messages[0].id
    [delivery] = line.platform.deliveries(to=user)
    assert delivery.retry_key == key and delivery.endpoint == "push"


@pytest.mark.anyio
async def test_multicast_broadcast_and_narrowcast_through_the_sdk(line: Line) -> None:
    first, second = line.new_user("一郎"), line.new_user("二郎")
    line.platform.add_user("U" + uuid.uuid4().hex, "ブロック済み", followed=False)
    async with sdk(line) as (api, _):
        await api.multicast(MulticastRequest(to=[first, second], messages=[TextMessage(text="お知らせ")]))
        await api.broadcast(BroadcastRequest(messages=[TextMessage(text="全員へ")]))
        narrow = await api.narrowcast_with_http_info(NarrowcastRequest(messages=[TextMessage(text="一部へ")]))
        progress = await api.get_narrowcast_progress(narrow.headers["X-Line-Request-Id"])
        usage = await api.get_message_quota_consumption()
        quota = await api.get_message_quota()
    assert narrow.status_code == 202
    assert progress.phase == "succeeded" and progress.target_count == 2
    assert [d.endpoint for d in line.platform.deliveries(to=first)] == ["multicast", "broadcast", "narrowcast"]
    assert line.platform.deliveries(endpoint="broadcast")[0].to == [first, second]  # followers only
    assert usage.total_usage == 6  # one per reached recipient per request
    assert quota.type == "none"


@pytest.mark.anyio
async def test_profile_loading_and_message_content_through_the_sdk(line: Line) -> None:
    user = line.new_user("瀬戸内 太郎")
    image_event = line.platform.make_event("image", user)
    async with sdk(line) as (api, blob):
        profile = await api.get_profile(user)
        with pytest.raises(ApiException) as unknown:
            await api.get_profile("U" + "0" * 32)
        await api.show_loading_animation(ShowLoadingAnimationRequest(chatId=user, loadingSeconds=10))
        content = await blob.get_message_content(image_event["message"]["id"])
    assert (profile.user_id, profile.display_name, profile.language) == (user, "瀬戸内 太郎", "ja")
    assert unknown.value.status == 404 and json.loads(unknown.value.body) == {"message": "Not found"}
    assert bytes(content).startswith(b"\x89PNG\r\n\x1a\n")
    assert line.platform.timeline(user)["loading"] is True


@pytest.mark.anyio
async def test_rich_menu_is_created_given_an_image_and_made_the_default_through_the_sdk(line: Line) -> None:
    menu = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name="main",
        chatBarText="メニュー",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=0, y=0, width=2500, height=843),
                action=PostbackAction(label="予約", data="action=reserve", displayText="予約"),
            )
        ],
    )
    image = png(2500, 843)
    async with sdk(line) as (api, blob):
        created = await api.create_rich_menu(menu)
        with pytest.raises(ApiException) as too_early:
            await api.set_default_rich_menu(created.rich_menu_id)
        await blob.set_rich_menu_image(created.rich_menu_id, body=image, _headers={"Content-Type": "image/png"})
        await api.set_default_rich_menu(created.rich_menu_id)
        default = await api.get_default_rich_menu_id()
        listed = await api.get_rich_menu_list()
        fetched = await api.get_rich_menu(created.rich_menu_id)
        downloaded = await blob.get_rich_menu_image(created.rich_menu_id)
    assert re.fullmatch(r"richmenu-[0-9a-f]{32}", created.rich_menu_id)
    assert too_early.value.status == 400
    assert default.rich_menu_id == created.rich_menu_id
    assert [m.rich_menu_id for m in listed.richmenus] == [created.rich_menu_id]
    assert fetched.chat_bar_text == "メニュー" and fetched.areas[0].action.data == "action=reserve"
    assert bytes(downloaded) == image


# --- raw HTTP: what LINE refuses ---------------------------------------------------------------------
def test_missing_or_wrong_access_token_gets_401_with_a_request_id(line: Line) -> None:
    user = line.new_user()
    body = json.dumps({"to": user, "messages": [text("x")]}).encode()
    non_ascii = line.http.post(
        line.api_url + "/v2/bot/message/push", content=body, headers={"Authorization": "Bearer ＡＢＣ".encode()}
    )
    for response in [non_ascii] + [line.post("/v2/bot/message/push", body, token=t) for t in (None, "wrong")]:
        assert response.status_code == 401
        assert response.json()["message"].startswith("Authentication failed.")
        assert response.headers["X-Line-Request-Id"]
    assert line.platform.deliveries() == []


def test_reused_retry_key_on_multicast_gets_409_and_nothing_twice(line: Line) -> None:
    user = line.new_user()
    key = str(uuid.uuid4())
    body = {"to": [user], "messages": [text("お知らせ")]}
    first = line.post("/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    second = line.post("/v2/bot/message/multicast", body, **{"X-Line-Retry-Key": key})
    assert first.status_code == 200 and first.json() == {}
    assert second.status_code == 409
    assert second.headers["X-Line-Accepted-Request-Id"] == first.headers["X-Line-Request-Id"]
    assert second.headers["X-Line-Request-Id"] != first.headers["X-Line-Request-Id"]
    assert len(line.platform.deliveries(to=user)) == 1


def test_retry_key_is_refused_on_reply_and_must_be_a_uuid(line: Line) -> None:
    user = line.new_user()
    token = line.platform.make_event("text", user, text="a")["replyToken"]
    on_reply = line.post(
        "/v2/bot/message/reply",
        {"replyToken": token, "messages": [text("x")]},
        **{"X-Line-Retry-Key": str(uuid.uuid4())},
    )
    not_uuid = line.post(
        "/v2/bot/message/push", {"to": user, "messages": [text("x")]}, **{"X-Line-Retry-Key": "retry-1"}
    )
    assert on_reply.status_code == 400 and not_uuid.status_code == 400
    assert line.platform.deliveries() == []


def test_a_refused_or_faulted_request_does_not_accept_its_retry_key(line: Line) -> None:
    user = line.new_user()
    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    refused = line.post("/v2/bot/message/push", {"to": user, "messages": [text("")]}, **key)
    line.platform.inject_fault("push", 500)
    faulted = line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}, **key)
    accepted = line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}, **key)
    assert (refused.status_code, faulted.status_code, accepted.status_code) == (400, 500, 200)
    assert faulted.json() == {"message": "Internal server error"}
    assert len(line.platform.deliveries(to=user)) == 1


def test_injected_429_then_success(line: Line) -> None:
    user = line.new_user()
    line.platform.inject_fault("push", 429, count=2)
    statuses = [line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].json() == {"message": "Too many requests"}
    assert len(line.platform.deliveries(to=user)) == 1


def test_a_fault_for_a_while_answers_every_call_until_it_is_over(line: Line) -> None:
    user = line.new_user()
    line.platform.inject_fault("push", 500, seconds=2)
    during = [line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}).status_code for _ in range(4)]
    line.clock.now += 2.0
    after = line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}).status_code
    assert during == [500] * 4 and after == 200
    assert len(line.platform.deliveries(to=user)) == 1


def test_a_2xx_fault_answers_a_malformed_body(line: Line) -> None:
    user = line.new_user()
    line.platform.inject_fault("profile", 200, body={"unexpected": True})
    malformed = line.get(f"/v2/bot/profile/{user}")
    proper = line.get(f"/v2/bot/profile/{user}")
    assert malformed.status_code == 200 and malformed.json() == {"unexpected": True}
    assert proper.json()["userId"] == user
    with pytest.raises(ValueError, match="2xx with the"):
        line.platform.inject_fault("profile", 200)


def test_a_cut_connection_after_accepting_leaves_the_call_done(line: Line) -> None:
    user = line.new_user()
    token = line.platform.make_event("text", user, text="a")["replyToken"]
    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    line.platform.drop_after_accepting("reply")
    line.platform.drop_after_accepting("push")
    with pytest.raises(httpx.HTTPError):
        line.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("x")]})
    with pytest.raises(httpx.HTTPError):
        line.post("/v2/bot/message/push", {"to": user, "messages": [text("y")]}, **key)
    # Done all the same: the token is spent, and the retry key is accepted.
    again = line.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("x")]})
    retried = line.post("/v2/bot/message/push", {"to": user, "messages": [text("y")]}, **key)
    assert again.status_code == 400 and again.json() == {"message": "Invalid reply token"}
    pushed = line.platform.deliveries(to=user, endpoint="push")
    assert retried.status_code == 409 and retried.headers["X-Line-Accepted-Request-Id"] == pushed[0].request_id
    assert [d.endpoint for d in line.platform.deliveries(to=user)] == ["reply", "push"]


@pytest.mark.anyio
async def test_latency_is_waited_concurrently(line: Line) -> None:
    user = line.new_user()
    line.platform.set_latency(0.4, "push")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"to": user, "messages": [text("x")]}
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as http:
        answers = await asyncio.gather(
            *(http.post(f"{line.api_url}/v2/bot/message/push", json=body, headers=headers) for _ in range(5))
        )
    took = time.monotonic() - started
    line.platform.set_latency(0, "push")
    assert [a.status_code for a in answers] == [200] * 5
    assert 0.4 <= took < 1.6


def test_a_redelivered_event_has_a_fresh_reply_token_unless_it_was_used(line: Line) -> None:
    user = line.new_user()
    unused, used = (line.platform.make_event("text", user, text=w) for w in ("a", "b"))
    reply = {"messages": [text("x")]}
    assert line.post("/v2/bot/message/reply", {**reply, "replyToken": used["replyToken"]}).status_code == 200
    line.clock.now += 61.0
    expired = line.post("/v2/bot/message/reply", {**reply, "replyToken": unused["replyToken"]})
    again = line.platform.redeliver([unused, used])
    assert expired.status_code == 400
    assert [e["deliveryContext"]["isRedelivery"] for e in again] == [True, True]
    assert [e["webhookEventId"] for e in again] == [unused["webhookEventId"], used["webhookEventId"]]
    assert line.post("/v2/bot/message/reply", {**reply, "replyToken": unused["replyToken"]}).status_code == 200
    assert line.post("/v2/bot/message/reply", {**reply, "replyToken": used["replyToken"]}).status_code == 400


def test_rate_limit_refuses_the_excess_until_time_passes(line: Line) -> None:
    user = line.new_user()
    line.platform.set_rate_limit("push", 2)
    burst = [line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}).status_code for _ in range(3)]
    line.clock.now += 1.0
    later = line.post("/v2/bot/message/push", {"to": user, "messages": [text("x")]}).status_code
    assert burst == [200, 200, 429] and later == 200
    assert len(line.platform.deliveries(to=user)) == 3


def test_body_over_2_mb_gets_413_and_bad_json_400(line: Line) -> None:
    user = line.new_user()
    huge = {"to": user, "messages": [text("x")], "padding": "x" * (2 * 1024 * 1024)}
    assert line.post("/v2/bot/message/push", huge).status_code == 413
    assert line.post("/v2/bot/message/push", b"{not json").status_code == 400
    assert line.platform.deliveries() == []


def test_text_is_limited_to_5000_utf16_code_units(line: Line) -> None:
    user = line.new_user()

    def push(value: str) -> httpx.Response:
        return line.post("/v2/bot/message/push", {"to": user, "messages": [text(value)]})

    assert push("あ" * 5000).status_code == 200
    assert push("😀" * 2500).status_code == 200  # 2500 emoji = 5000 UTF-16 units
    refused = push("😀" * 2500 + "a")
    assert refused.status_code == 400 and details(refused) == ["messages[0].text"]
    assert push("").status_code == 400
    assert len(line.platform.deliveries(to=user)) == 2


def test_one_to_five_messages(line: Line) -> None:
    user = line.new_user()
    five = line.post("/v2/bot/message/push", {"to": user, "messages": [text(str(i)) for i in range(5)]})
    six = line.post("/v2/bot/message/push", {"to": user, "messages": [text(str(i)) for i in range(6)]})
    none = line.post("/v2/bot/message/push", {"to": user, "messages": []})
    assert (five.status_code, six.status_code, none.status_code) == (200, 400, 400)
    assert details(six) == ["messages"]


def test_quick_reply_items_and_labels_are_limited(line: Line) -> None:
    user = line.new_user()

    def with_items(count: int, label: str = "はい") -> httpx.Response:
        items = [{"type": "action", "action": {"type": "message", "label": label, "text": "はい"}}] * count
        return line.post(
            "/v2/bot/message/push", {"to": user, "messages": [text("選んでください", quickReply={"items": items})]}
        )

    assert with_items(13).status_code == 200
    assert with_items(14).status_code == 400
    assert details(with_items(1, label="あ" * 21)) == ["messages[0].quickReply.items[0].action.label"]


def test_image_urls_must_be_https_unless_http_is_allowed(line: Line) -> None:
    user = line.new_user()
    http_image = {
        "type": "image",
        "originalContentUrl": "http://127.0.0.1/qr.png",
        "previewImageUrl": "http://127.0.0.1/qr.png",
    }
    assert line.post("/v2/bot/message/push", {"to": user, "messages": [http_image]}).status_code == 200
    line.platform.allow_http_images = False
    refused = line.post("/v2/bot/message/push", {"to": user, "messages": [http_image]})
    assert refused.status_code == 400
    assert details(refused) == ["messages[0].originalContentUrl", "messages[0].previewImageUrl"]
    missing = line.post(
        "/v2/bot/message/push", {"to": user, "messages": [{"type": "image", "originalContentUrl": "https://x/a.png"}]}
    )
    assert details(missing) == ["messages[0].previewImageUrl"]


def test_message_shapes_are_checked(line: Line) -> None:
    user = line.new_user()
    bubble = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "本文"}]},
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "fax"}, "messages[0].type"),
        ({"type": "location", "title": "市役所", "latitude": 34.66, "longitude": 134.09}, "messages[0].address"),
        ({"type": "flex", "altText": "あ" * 401, "contents": bubble}, "messages[0].altText"),
        (
            {"type": "flex", "altText": "一覧", "contents": {"type": "carousel", "contents": [bubble] * 13}},
            "messages[0].contents.contents",
        ),
        ({"type": "flex", "altText": "大", "contents": {**bubble, "pad": "x" * 30_001}}, "messages[0].contents"),
        (
            {"type": "flex", "altText": "箱", "contents": {"type": "bubble", "body": {"type": "box", "contents": []}}},
            "messages[0].contents.body.layout",
        ),
        (
            text(
                "日付",
                quickReply={
                    "items": [
                        {
                            "type": "action",
                            "action": {"type": "datetimepicker", "label": "日付", "data": "d", "mode": "week"},
                        }
                    ]
                },
            ),
            "messages[0].quickReply.items[0].action.mode",
        ),
        (
            text(
                "押して",
                quickReply={
                    "items": [{"type": "action", "action": {"type": "postback", "label": "押す", "data": "x" * 301}}]
                },
            ),
            "messages[0].quickReply.items[0].action.data",
        ),
    ]
    for message, expected in cases:
        response = line.post("/v2/bot/message/push", {"to": user, "messages": [message]})
        assert response.status_code == 400, message
        assert response.json()["message"] == "The request body has 1 error(s)"
        assert details(response) == [expected]
    good = [
        {"type": "flex", "altText": "案内", "contents": bubble},
        {
            "type": "location",
            "title": "瀬戸内市役所",
            "address": "岡山県瀬戸内市邑久町尾張300-1",
            "latitude": 34.6651,
            "longitude": 134.0917,
        },
    ]
    assert line.post("/v2/bot/message/push", {"to": user, "messages": good}).status_code == 200
    assert line.platform.deliveries(to=user)[0].messages == good


def test_reply_token_is_single_use_issued_and_expires(line: Line) -> None:
    user = line.new_user()
    token = line.platform.make_event("text", user, text="a")["replyToken"]
    first = line.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("1")]})
    again = line.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("2")]})
    never = line.post("/v2/bot/message/reply", {"replyToken": "0" * 32, "messages": [text("3")]})
    old = line.platform.make_event("text", user, text="b")["replyToken"]
    line.clock.now += 61
    expired = line.post("/v2/bot/message/reply", {"replyToken": old, "messages": [text("4")]})
    assert first.status_code == 200
    for refused in (again, never, expired):
        assert refused.status_code == 400 and refused.json() == {"message": "Invalid reply token"}
    assert [d.messages[0]["text"] for d in line.platform.deliveries(to=user)] == ["1"]


def test_a_refused_reply_does_not_use_up_the_token(line: Line) -> None:
    user = line.new_user()
    token = line.platform.make_event("text", user, text="a")["replyToken"]
    assert line.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("")]}).status_code == 400
    assert line.post("/v2/bot/message/reply", {"replyToken": token, "messages": [text("ok")]}).status_code == 200


def test_push_to_a_user_who_blocked_us_is_accepted_and_flagged(line: Line) -> None:
    user = line.new_user()
    line.platform.make_event("unfollow", user)
    response = line.post("/v2/bot/message/push", {"to": user, "messages": [text("届かない")]})
    assert response.status_code == 200 and response.json()["sentMessages"][0]["id"]
    [delivery] = line.platform.deliveries(to=user)
    assert delivery.blocked == [user]
    assert line.platform.timeline(user)["items"] == []
    assert line.get("/v2/bot/message/quota/consumption").json() == {"totalUsage": 0}


def test_push_to_a_malformed_id_and_multicast_limits(line: Line) -> None:
    assert line.post("/v2/bot/message/push", {"to": "someone", "messages": [text("x")]}).status_code == 400
    too_many = line.post(
        "/v2/bot/message/multicast", {"to": ["U" + uuid.uuid4().hex for _ in range(501)], "messages": [text("x")]}
    )
    assert too_many.status_code == 400 and details(too_many) == ["to"]


def test_loading_seconds_must_be_a_multiple_of_five(line: Line) -> None:
    user = line.new_user()
    assert line.post("/v2/bot/chat/loading/start", {"chatId": user, "loadingSeconds": 7}).status_code == 400
    ok = line.post("/v2/bot/chat/loading/start", {"chatId": user, "loadingSeconds": 60})
    assert ok.status_code == 202 and ok.json() == {}


def test_rich_menu_object_and_image_are_validated(line: Line) -> None:
    narrow = line.post("/v2/bot/richmenu", rich_menu_body(size={"width": 700, "height": 250}, areas=[]))
    square = line.post("/v2/bot/richmenu", rich_menu_body(size={"width": 1200, "height": 1000}, areas=[]))
    outside = line.post("/v2/bot/richmenu", rich_menu_body(size={"width": 1200, "height": 810}))
    long_bar = line.post("/v2/bot/richmenu", rich_menu_body(chatBarText="あ" * 15))
    many = line.post("/v2/bot/richmenu", rich_menu_body(areas=rich_menu_body()["areas"] * 21))
    assert details(narrow) == ["size.width"] and details(square) == ["size"]
    assert details(long_bar) == ["chatBarText"] and details(many) == ["areas"]
    assert details(outside) == ["areas[0].bounds"]
    created = line.post("/v2/bot/richmenu", rich_menu_body())
    menu_id = created.json()["richMenuId"]
    upload = f"/v2/bot/richmenu/{menu_id}/content"
    assert line.post(upload, png(2500, 843), **{"Content-Type": "text/plain"}).status_code == 415
    assert line.post(upload, png(2500, 1686), **{"Content-Type": "image/png"}).status_code == 400
    assert line.post(upload, png(2500, 843), **{"Content-Type": "image/png"}).status_code == 200
    second = line.post(upload, png(2500, 843), **{"Content-Type": "image/png"})
    assert second.json() == {"message": "An image has already been uploaded to the richmenu"}
    user = line.new_user()
    assert line.post(f"/v2/bot/user/{user}/richmenu/{menu_id}", b"").status_code == 200
    assert line.get(f"/v2/bot/user/{user}/richmenu").json() == {"richMenuId": menu_id}
    assert line.platform.rich_menu_for(user)["chatBarText"] == "メニュー"
    assert line.get("/v2/bot/user/all/richmenu").status_code == 404


def test_unknown_path_answers_like_line(line: Line) -> None:
    response = line.get("/v2/bot/nothing/here")
    assert response.status_code == 404 and response.json() == {"message": "Not found"}
    assert response.headers["X-Line-Request-Id"]


# --- the platform without HTTP -----------------------------------------------------------------------
def test_events_carry_every_required_field_and_parse_with_the_sdk(line: Line) -> None:
    user = line.new_user()
    events = [
        line.platform.make_event("text", user, text="住民票がほしい"),
        line.platform.make_event(
            "location",
            user,
            latitude=34.6651,
            longitude=134.0917,
            title="瀬戸内市役所",
            address="岡山県瀬戸内市邑久町尾張300-1",
        ),
        line.platform.make_event(
            "postback", user, data="action=reserve&date=2025-06-18", params={"date": "2025-06-18"}
        ),
        line.platform.make_event("sticker", user),
        line.platform.make_event("image", user),
        line.platform.make_event("unfollow", user),
        line.platform.make_event("follow", user),
    ]
    body = line.platform.webhook_body(events)
    parsed = WebhookParser(SECRET).parse(body.decode(), line.platform.sign(body))
    kinds = [type(e) for e in parsed]
    assert kinds == [MessageEvent, MessageEvent, PostbackEvent, MessageEvent, MessageEvent, UnfollowEvent, FollowEvent]
    contents = [type(e.message) for e in parsed if isinstance(e, MessageEvent)]
    assert contents == [TextMessageContent, LocationMessageContent, StickerMessageContent, ImageMessageContent]
    assert parsed[2].postback.params == {"date": "2025-06-18"}
    assert parsed[6].follow.is_unblocked is True
    for event in events:
        assert ULID.match(event["webhookEventId"])
        assert event["mode"] == "active" and event["deliveryContext"] == {"isRedelivery": False}
        assert event["source"] == {"type": "user", "userId": user}
        assert abs(event["timestamp"] - time.time() * 1000) < 5000
        assert ("replyToken" in event) == (event["type"] != "unfollow")
    ids = [e["webhookEventId"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # unique and in creation order


def test_standby_and_group_events(line: Line) -> None:
    user = line.new_user()
    standby = line.platform.make_event("text", user, text="a", mode="standby")
    group = line.platform.make_event("text", user, text="b", source_type="group")
    assert "replyToken" not in standby and standby["mode"] == "standby"
    assert group["source"] == {"type": "group", "groupId": line.platform.default_group_id, "userId": user}
    with pytest.raises(TypeError):
        line.platform.make_event("text", user, txt="typo")


def test_signature_matches_the_sdk_test_vector() -> None:
    platform = SandboxPlatform(channel_secret="channel_secret", access_token="t", webhook_url="http://x/callback")
    assert platform.sign(b"bodybodybodybody") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    assert re.fullmatch(r"U[0-9a-f]{32}", platform.destination)


@pytest.mark.anyio
async def test_wait_for_deliveries_times_out_with_what_it_saw(line: Line) -> None:
    user = line.new_user()
    line.post("/v2/bot/message/push", {"to": user, "messages": [text("一通目")]})
    found = await line.platform.wait_for_deliveries(user, count=1, timeout=0.5)
    assert isinstance(found[0], Delivery) and found[0].messages[0]["text"] == "一通目"
    with pytest.raises(TimeoutError, match=r"expected 2 delivery.*got 1.*一通目"):
        await line.platform.wait_for_deliveries(user, count=2, timeout=0.05)
    assert await line.platform.wait_for_deliveries(user, count=1, timeout=0.5, after_seq=0) == found
    with pytest.raises(TimeoutError):
        await line.platform.wait_for_deliveries(user, count=1, timeout=0.05, after_seq=found[0].seq)


def test_fault_and_rate_limit_names_are_checked(line: Line) -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        line.platform.inject_fault("pushh", 500)
    with pytest.raises(ValueError, match="unknown endpoint"):
        line.platform.set_rate_limit("replies", 1)

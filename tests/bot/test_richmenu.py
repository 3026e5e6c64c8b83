"""The rich menu: its picture, its tap areas, the request LINE receives, and deploying it.

deploy() is exercised against a small fake of LINE's rich-menu endpoints defined here (FastAPI on
127.0.0.1, a real port, the real async SDK client), so the test needs no other part of the product.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
)
from PIL import Image

from bot import richmenu
from bot.richmenu import RICH_MENU_AREAS, deploy, image_bytes, rich_menu_request

INTENTS_IN_ORDER = [
    "reservation_make",
    "reservation_check",
    "faq",
    "shelter_search",
    "class_info",
    "subscribe",
]
LABELS_IN_ORDER = ["窓口予約", "予約確認", "よくある質問", "避難所・施設", "スマホ教室", "配信設定"]


# ---------------------------------------------------------------- the picture


def test_image_is_a_large_rich_menu_png_under_one_megabyte() -> None:
    data = image_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) < 1_000_000  # LINE's limit for a rich menu image
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (2500, 1686)


def test_request_size_matches_the_picture() -> None:
    with Image.open(io.BytesIO(image_bytes())) as image:
        size = rich_menu_request().size
        assert (size.width, size.height) == image.size


# ---------------------------------------------------------------- the tap areas


def test_areas_cover_the_six_intents_in_reading_order() -> None:
    assert [area.intent for area in RICH_MENU_AREAS] == INTENTS_IN_ORDER
    assert [area.label for area in RICH_MENU_AREAS] == LABELS_IN_ORDER
    # reading order: top row left to right, then the bottom row
    assert [(a.y, a.x) for a in RICH_MENU_AREAS] == sorted((a.y, a.x) for a in RICH_MENU_AREAS)


def test_every_area_lies_inside_the_image() -> None:
    for area in RICH_MENU_AREAS:
        assert area.x >= 0 and area.y >= 0 and area.width > 0 and area.height > 0
        assert area.x + area.width <= richmenu.WIDTH, area
        assert area.y + area.height <= richmenu.HEIGHT, area


def test_areas_do_not_overlap_and_leave_no_dead_spot() -> None:
    for i, a in enumerate(RICH_MENU_AREAS):
        for b in RICH_MENU_AREAS[i + 1 :]:
            apart = a.x + a.width <= b.x or b.x + b.width <= a.x or a.y + a.height <= b.y or b.y + b.height <= a.y
            assert apart, f"{a.label} overlaps {b.label}"
    # no overlap + total area == image area: every pixel belongs to exactly one button
    assert sum(a.width * a.height for a in RICH_MENU_AREAS) == richmenu.WIDTH * richmenu.HEIGHT


def test_each_area_posts_back_its_intent_and_shows_its_label() -> None:
    request = rich_menu_request()
    assert len(request.areas) == len(RICH_MENU_AREAS) <= 20
    for area, sdk_area in zip(RICH_MENU_AREAS, request.areas, strict=True):
        action = sdk_area.action
        assert action.type == "postback"
        assert action.data == f"action=intent&name={area.intent}"
        assert action.display_text == area.label
        assert len(action.data) <= 300 and len(action.display_text) <= 300
        assert len(action.label) <= 20
        bounds = sdk_area.bounds
        assert (bounds.x, bounds.y, bounds.width, bounds.height) == (area.x, area.y, area.width, area.height)


# ---------------------------------------------------------------- the request LINE receives


def test_request_serialises_with_the_keys_line_expects() -> None:
    body = rich_menu_request().to_dict()
    assert set(body) == {"size", "selected", "name", "chatBarText", "areas"}
    assert body["size"] == {"width": 2500, "height": 1686}
    assert body["selected"] is True
    assert body["name"] == "madoguchi-main"
    assert body["chatBarText"] == "メニュー"
    assert len(body["chatBarText"]) <= 14
    assert len(body["name"]) <= 300
    for area in body["areas"]:
        assert set(area) == {"bounds", "action"}
        assert set(area["bounds"]) == {"x", "y", "width", "height"}
        assert set(area["action"]) == {"type", "label", "data", "displayText"}
    # LINE's size rules for rich menus
    width, height = body["size"]["width"], body["size"]["height"]
    assert 800 <= width <= 2500 and height >= 250 and width / height >= 1.45


# ---------------------------------------------------------------- deploy, against a fake LINE


@dataclass
class FakeLine:
    """Just enough of LINE's rich-menu API to watch deploy() work; records every call in order."""

    token: str = "test-token"
    menus: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    default_id: str | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_upload: bool = False

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.middleware("http")
        async def check_auth(request: Request, call_next: Any) -> Any:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"message": "Authentication failed"}, status_code=401)
            return await call_next(request)

        @api.post("/v2/bot/richmenu")
        async def create(request: Request) -> JSONResponse:
            body = await request.json()
            if len(body.get("chatBarText", "")) > 14 or len(body.get("areas", [])) > 20:
                return JSONResponse({"message": "The request body has 1 error(s)"}, status_code=400)
            rich_menu_id = f"richmenu-{uuid.uuid4().hex}"
            self.menus[rich_menu_id] = {"richMenuId": rich_menu_id, **body}
            self.calls.append(("create", rich_menu_id))
            return JSONResponse({"richMenuId": rich_menu_id})

        @api.post("/v2/bot/richmenu/{rich_menu_id}/content")
        async def upload(rich_menu_id: str, request: Request) -> JSONResponse:
            self.calls.append(("content", rich_menu_id))
            data = await request.body()
            if self.fail_upload:
                return JSONResponse({"message": "Internal error"}, status_code=500)
            if rich_menu_id not in self.menus:
                return JSONResponse({"message": "Not found"}, status_code=404)
            if request.headers.get("content-type") not in ("image/png", "image/jpeg"):
                return JSONResponse({"message": "Unsupported media type"}, status_code=415)
            if rich_menu_id in self.images:
                return JSONResponse({"message": "An image has already been uploaded"}, status_code=400)
            self.images[rich_menu_id] = data
            return JSONResponse({})

        @api.post("/v2/bot/user/all/richmenu/{rich_menu_id}")
        async def set_default(rich_menu_id: str) -> JSONResponse:
            self.calls.append(("default", rich_menu_id))
            if rich_menu_id not in self.images:  # LINE refuses to link a menu that has no image
                return JSONResponse({"message": "must upload richmenu image before applying it"}, status_code=400)
            self.default_id = rich_menu_id
            return JSONResponse({})

        @api.get("/v2/bot/richmenu/list")
        async def list_menus() -> JSONResponse:
            self.calls.append(("list", ""))
            return JSONResponse({"richmenus": list(self.menus.values())})

        @api.delete("/v2/bot/richmenu/{rich_menu_id}")
        async def delete(rich_menu_id: str) -> JSONResponse:
            self.calls.append(("delete", rich_menu_id))
            if self.menus.pop(rich_menu_id, None) is None:
                return JSONResponse({"message": "Not found"}, status_code=404)
            self.images.pop(rich_menu_id, None)
            if self.default_id == rich_menu_id:
                self.default_id = None
            return JSONResponse({})

        return api


@pytest.fixture
def fake_line() -> Iterator[tuple[FakeLine, str]]:
    fake = FakeLine()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fake-line-richmenu", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "fake LINE did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


async def _deploy(host: str, token: str, *, replace: bool = True) -> str:
    # The async client must be created inside a running event loop (LINE_CONTRACT §3).
    async with AsyncApiClient(Configuration(host=host, access_token=token)) as client:
        return await deploy(api=AsyncMessagingApi(client), blob_api=AsyncMessagingApiBlob(client), replace=replace)


def test_deploy_creates_uploads_then_sets_default(fake_line: tuple[FakeLine, str]) -> None:
    fake, host = fake_line
    rich_menu_id = asyncio.run(_deploy(host, fake.token))

    assert fake.calls[:3] == [("create", rich_menu_id), ("content", rich_menu_id), ("default", rich_menu_id)]
    assert fake.default_id == rich_menu_id
    assert fake.images[rich_menu_id] == image_bytes()
    sent = {k: v for k, v in fake.menus[rich_menu_id].items() if k != "richMenuId"}
    assert sent == rich_menu_request().to_dict()


def test_deploying_twice_leaves_one_menu(fake_line: tuple[FakeLine, str]) -> None:
    fake, host = fake_line
    other = {**rich_menu_request().to_dict(), "name": "someone-elses-menu", "richMenuId": "richmenu-other"}
    fake.menus["richmenu-other"] = other

    first = asyncio.run(_deploy(host, fake.token))
    second = asyncio.run(_deploy(host, fake.token))

    assert first != second
    assert set(fake.menus) == {second, "richmenu-other"}  # menus with other names are not ours to delete
    assert fake.default_id == second
    # the old menu goes only after the new one is everyone's default: no moment without a menu
    assert fake.calls.index(("delete", first)) > fake.calls.index(("default", second))


def test_deploy_without_replace_keeps_older_menus(fake_line: tuple[FakeLine, str]) -> None:
    fake, host = fake_line
    first = asyncio.run(_deploy(host, fake.token))
    second = asyncio.run(_deploy(host, fake.token, replace=False))

    assert set(fake.menus) == {first, second}
    assert fake.default_id == second


def test_failed_upload_removes_the_half_made_menu(fake_line: tuple[FakeLine, str]) -> None:
    fake, host = fake_line
    fake.fail_upload = True

    with pytest.raises(ApiException) as raised:
        asyncio.run(_deploy(host, fake.token))

    assert raised.value.status == 500
    created = fake.calls[0][1]
    assert fake.calls == [("create", created), ("content", created), ("delete", created)]
    assert fake.menus == {}
    assert fake.default_id is None

"""HTTP for the sandbox: the fake Messaging API under /sandbox/line, the chat page at /sandbox and its
JSON API under /sandbox/api. The routes carry their own /sandbox prefix; none is in the OpenAPI schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from bot.sandbox.calls import MAX_BODY_BYTES, ApiCall, ApiResponse, LineError
from bot.sandbox.ids import new_request_id
from bot.sandbox.platform import SandboxPlatform

LINE_PREFIX = "/sandbox/line"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "chat.js": "text/javascript",
    "chat.css": "text/css",
    "line-render.js": "text/javascript",
    "line-render.css": "text/css",
}

# (method, path, endpoint group for faults / rate limits / retry keys, SandboxPlatform operation name)
LINE_ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("POST", "/v2/bot/message/reply", "reply", "api_reply"),
    ("POST", "/v2/bot/message/push", "push", "api_push"),
    ("POST", "/v2/bot/message/multicast", "multicast", "api_multicast"),
    ("POST", "/v2/bot/message/narrowcast", "narrowcast", "api_narrowcast"),
    ("POST", "/v2/bot/message/broadcast", "broadcast", "api_broadcast"),
    ("POST", "/v2/bot/message/validate/{kind}", "validate", "api_validate"),
    ("GET", "/v2/bot/message/progress/narrowcast", "progress", "api_narrowcast_progress"),
    ("GET", "/v2/bot/message/quota", "quota", "api_quota"),
    ("GET", "/v2/bot/message/quota/consumption", "quota", "api_quota_consumption"),
    ("GET", "/v2/bot/message/{messageId}/content", "content", "api_message_content"),
    ("GET", "/v2/bot/message/{messageId}/content/preview", "content", "api_message_content"),
    ("GET", "/v2/bot/profile/{userId}", "profile", "api_profile"),
    ("GET", "/v2/bot/info", "info", "api_bot_info"),
    ("GET", "/v2/bot/followers/ids", "followers", "api_followers"),
    ("GET", "/v2/bot/insight/message/event/aggregation", "insight", "api_insight_by_unit"),
    ("POST", "/v2/bot/chat/loading/start", "loading", "api_loading"),
    ("POST", "/v2/bot/richmenu", "richmenu", "api_create_rich_menu"),
    ("POST", "/v2/bot/richmenu/validate", "richmenu", "api_validate_rich_menu"),
    ("GET", "/v2/bot/richmenu/list", "richmenu", "api_list_rich_menus"),
    ("GET", "/v2/bot/richmenu/{richMenuId}", "richmenu", "api_get_rich_menu"),
    ("DELETE", "/v2/bot/richmenu/{richMenuId}", "richmenu", "api_delete_rich_menu"),
    ("POST", "/v2/bot/richmenu/{richMenuId}/content", "richmenu", "api_upload_rich_menu_image"),
    ("GET", "/v2/bot/richmenu/{richMenuId}/content", "richmenu", "api_download_rich_menu_image"),
    ("POST", "/v2/bot/user/all/richmenu/{richMenuId}", "richmenu", "api_set_default_rich_menu"),
    ("GET", "/v2/bot/user/all/richmenu", "richmenu", "api_get_default_rich_menu"),
    ("DELETE", "/v2/bot/user/all/richmenu", "richmenu", "api_cancel_default_rich_menu"),
    ("GET", "/v2/bot/user/{userId}/richmenu", "richmenu", "api_get_user_rich_menu"),
    ("DELETE", "/v2/bot/user/{userId}/richmenu", "richmenu", "api_unlink_user_rich_menu"),
    ("POST", "/v2/bot/user/{userId}/richmenu/{richMenuId}", "richmenu", "api_link_user_rich_menu"),
)


def create_sandbox_router(platform: SandboxPlatform) -> APIRouter:
    """All sandbox routes; mount with `app.include_router(router)`."""
    router = APIRouter(include_in_schema=False)
    _add_line_routes(router, platform)
    _add_chat_routes(router, platform)
    return router


# --- the fake Messaging API --------------------------------------------------------------------------
def _add_line_routes(router: APIRouter, platform: SandboxPlatform) -> None:
    for method, path, endpoint, operation_name in LINE_ROUTES:
        router.add_api_route(
            LINE_PREFIX + path,
            _line_route(platform, endpoint, operation_name),
            methods=[method],
            name=f"sandbox_line_{operation_name}_{method.lower()}",
        )

    @router.api_route(LINE_PREFIX + "/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def unknown_line_path(rest: str) -> Response:
        return _to_response(LineError(404, "Not found").response(), new_request_id())


def _line_route(platform: SandboxPlatform, endpoint: str, operation_name: str) -> Callable[..., Any]:
    operation = getattr(platform, operation_name)

    async def route(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _to_response(LineError(413, "Request Entity Too Large").response(), new_request_id())
        call = ApiCall(
            endpoint=endpoint,
            authorization=request.headers.get("authorization"),
            retry_key=request.headers.get("x-line-retry-key"),
            body=await request.body(),
            content_type=request.headers.get("content-type"),
            path=dict(request.path_params),
            query=dict(request.query_params),
        )
        latency = platform.latency(endpoint)
        if latency:
            await asyncio.sleep(latency / 2)
        result = platform.handle_api(call, operation)
        if latency:
            await asyncio.sleep(latency / 2)
        if result.status < 300 and platform.take_drop(endpoint):
            return _CutConnection()
        return _to_response(result)

    route.__name__ = operation_name
    return route


class _CutConnection(Response):
    """The call was done, but the connection drops mid-answer: the headers announce a body that never
    comes whole, and the server closes the connection (the client reads an incomplete payload)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"sentMessages":', "more_body": True})
        # Returning without finishing the body: the server gives up on the response and closes.


def _to_response(result: ApiResponse, request_id: str | None = None) -> Response:
    headers = dict(result.headers)
    if request_id is not None:
        headers["X-Line-Request-Id"] = request_id
    if result.content is not None:
        return Response(result.content, status_code=result.status, media_type=result.media_type, headers=headers)
    return JSONResponse(result.json if result.json is not None else {}, status_code=result.status, headers=headers)


# --- the chat page and its JSON API ------------------------------------------------------------------
# What the chat page shows (in Japanese, like everything on it).
UNKNOWN_CITIZEN = "その利用者は見つかりません。ページを読み込み直して、利用者を選び直してください。"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _add_chat_routes(router: APIRouter, platform: SandboxPlatform) -> None:
    @router.get("/sandbox", response_class=HTMLResponse)
    async def chat_page() -> Response:
        return HTMLResponse(
            (STATIC_DIR / "chat.html").read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"}
        )

    @router.get("/sandbox/static/{name}")
    async def static_file(name: str) -> Response:
        if name not in STATIC_FILES:
            return _error(404, "見つかりません")
        return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-store"})

    @router.get("/sandbox/api/citizens")
    async def list_citizens() -> JSONResponse:
        return JSONResponse({"citizens": [u.summary() for u in platform.users()]})

    @router.post("/sandbox/api/citizens")
    async def create_citizen(request: Request) -> JSONResponse:
        payload = await _json_body(request)
        try:
            user = platform.create_citizen(str(payload.get("displayName", "")))
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse({"userId": user.user_id, **user.summary()}, status_code=201)

    @router.post("/sandbox/api/citizens/{user_id}/events")
    async def send_citizen_event(user_id: str, request: Request) -> JSONResponse:
        payload = await _json_body(request)
        try:
            result = await platform.citizen_event(user_id, payload)
        except KeyError:
            return _error(404, UNKNOWN_CITIZEN)
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(result, status_code=502 if result["status"] == 0 else 200)

    @router.get("/sandbox/api/citizens/{user_id}/timeline")
    async def citizen_timeline(user_id: str, after: int = 0) -> JSONResponse:
        try:
            return JSONResponse(platform.timeline(user_id, after), headers={"Cache-Control": "no-store"})
        except KeyError:
            return _error(404, UNKNOWN_CITIZEN)

    @router.get("/sandbox/api/richmenu")
    async def rich_menu(userId: str | None = None) -> JSONResponse:
        menu = platform.rich_menu_for(userId)
        image_url = f"/sandbox/api/richmenu/image?richMenuId={menu['richMenuId']}" if menu else None
        return JSONResponse({"richMenu": menu, "imageUrl": image_url}, headers={"Cache-Control": "no-store"})

    @router.get("/sandbox/api/richmenu/image")
    async def rich_menu_image(richMenuId: str | None = None) -> Response:
        image = platform.rich_menu_image(richMenuId)
        if image is None:
            return _error(404, "リッチメニューの画像がありません")
        return Response(image[0], media_type=image[1])


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}

"""Rich menus (REF #rich-menu): the Messaging API's rich menu operations and what the chat page shows.

The menus live on `SandboxPlatform` (`_rich_menus`, `_default_rich_menu`, `_user_rich_menus`). Each
`api_*` function is an operation of (platform, call, request id) that the platform binds as its method of
the same name; the readers at the end take the platform's lock themselves.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.sandbox import validation
from bot.sandbox.calls import ApiCall, ApiResponse, LineError, not_found
from bot.sandbox.ids import USER_ID
from bot.sandbox.images import image_size
from bot.sandbox.validation import Problems

if TYPE_CHECKING:
    from bot.sandbox.platform import SandboxPlatform

MAX_RICH_MENU_IMAGE_BYTES = 1024 * 1024


@dataclass
class RichMenu:
    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"richMenuId": self.rich_menu_id, **copy.deepcopy(self.body)}


# --- the Messaging API operations ---------------------------------------------------------------------
def api_create_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    payload = _checked_rich_menu(call)
    rich_menu_id = "richmenu-" + secrets.token_hex(16)
    platform._rich_menus[rich_menu_id] = RichMenu(rich_menu_id, payload)
    return ApiResponse(200, {"richMenuId": rich_menu_id})


def api_validate_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    _checked_rich_menu(call)
    return ApiResponse(200, {})


def api_get_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    return ApiResponse(200, _rich_menu(platform, call.path["richMenuId"]).as_json())


def api_list_rich_menus(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    return ApiResponse(200, {"richmenus": [m.as_json() for m in platform._rich_menus.values()]})


def api_delete_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    rich_menu_id = _rich_menu(platform, call.path["richMenuId"]).rich_menu_id
    del platform._rich_menus[rich_menu_id]
    if platform._default_rich_menu == rich_menu_id:
        platform._default_rich_menu = None
    platform._user_rich_menus = {u: m for u, m in platform._user_rich_menus.items() if m != rich_menu_id}
    return ApiResponse(200, {})


def api_upload_rich_menu_image(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    menu = _rich_menu(platform, call.path["richMenuId"])
    media_type = (call.content_type or "").split(";")[0].strip().lower()
    if media_type not in ("image/png", "image/jpeg"):
        raise LineError(415, "Unsupported Media Type: the image must be image/png or image/jpeg")
    if len(call.body) > MAX_RICH_MENU_IMAGE_BYTES:
        raise LineError(413, "Request Entity Too Large: a rich menu image must be 1 MB or less")
    if menu.image is not None:
        raise LineError(400, "An image has already been uploaded to the richmenu")
    size = image_size(call.body)
    expected = (menu.body["size"]["width"], menu.body["size"]["height"])
    if size is None:
        raise LineError(400, "The image could not be read as PNG or JPEG")
    if size != expected:
        raise LineError(
            400, f"The image size {size[0]}x{size[1]} does not match the rich menu size {expected[0]}x{expected[1]}"
        )
    menu.image, menu.image_type = bytes(call.body), media_type
    return ApiResponse(200, {})


def api_download_rich_menu_image(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    menu = _rich_menu(platform, call.path["richMenuId"])
    if menu.image is None:
        raise not_found()
    return ApiResponse(200, content=menu.image, media_type=menu.image_type or "image/png")


def api_set_default_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    platform._default_rich_menu = _linkable_rich_menu(platform, call.path["richMenuId"]).rich_menu_id
    return ApiResponse(200, {})


def api_get_default_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    if platform._default_rich_menu is None:
        raise LineError(404, "no default richmenu")
    return ApiResponse(200, {"richMenuId": platform._default_rich_menu})


def api_cancel_default_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    platform._default_rich_menu = None
    return ApiResponse(200, {})


def api_link_user_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    user_id = call.path["userId"]
    if not USER_ID.match(user_id):
        raise LineError(400, "The user ID is invalid")
    platform._user_rich_menus[user_id] = _linkable_rich_menu(platform, call.path["richMenuId"]).rich_menu_id
    return ApiResponse(200, {})


def api_get_user_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    rich_menu_id = platform._user_rich_menus.get(call.path["userId"])
    if rich_menu_id is None:
        raise LineError(404, "the user has no richmenu")
    return ApiResponse(200, {"richMenuId": rich_menu_id})


def api_unlink_user_rich_menu(platform: SandboxPlatform, call: ApiCall, request_id: str) -> ApiResponse:
    platform._user_rich_menus.pop(call.path["userId"], None)
    return ApiResponse(200, {})


def _rich_menu(platform: SandboxPlatform, rich_menu_id: str) -> RichMenu:
    menu = platform._rich_menus.get(rich_menu_id)
    if menu is None:
        raise LineError(404, "Not found")
    return menu


def _checked_rich_menu(call: ApiCall) -> dict[str, Any]:
    payload = call.json_object()
    problems = Problems()
    validation.check_rich_menu(payload, problems)
    if problems:
        raise LineError.from_problems(problems)
    return payload


def _linkable_rich_menu(platform: SandboxPlatform, rich_menu_id: str) -> RichMenu:
    menu = _rich_menu(platform, rich_menu_id)
    if menu.image is None:
        raise LineError(400, "must upload richmenu image before applying it to user")
    return menu


# --- what the chat page and tests read ----------------------------------------------------------------
def menu_for(platform: SandboxPlatform, user_id: str | None) -> dict[str, Any] | None:
    with platform._lock:
        rich_menu_id = (platform._user_rich_menus.get(user_id) if user_id else None) or platform._default_rich_menu
        menu = platform._rich_menus.get(rich_menu_id) if rich_menu_id else None
        return menu.as_json() if menu is not None and menu.image is not None else None


def menu_image(platform: SandboxPlatform, rich_menu_id: str | None) -> tuple[bytes, str] | None:
    with platform._lock:
        menu = platform._rich_menus.get(rich_menu_id or platform._default_rich_menu or "")
        if menu is None or menu.image is None:
            return None
        return menu.image, menu.image_type or "image/png"


def all_menus(platform: SandboxPlatform) -> list[dict[str, Any]]:
    with platform._lock:
        return [m.as_json() for m in platform._rich_menus.values()]

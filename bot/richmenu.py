"""The rich menu: the six big buttons under the chat, the citizen's main entrance.

The picture (bot/assets/richmenu.png) is drawn by scripts/draw_richmenu.py from the same
RICH_MENU_AREAS table below, so what a citizen sees and where a tap lands cannot drift apart.
The PNG is kept in the repository: deploying needs neither Pillow's font nor the script.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlencode

from linebot.v3.messaging import (
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
)

from bot.catalog import t

MENU_NAME = "madoguchi-main"
CHAT_BAR_TEXT = "メニュー"
# LINE's "large" rich menu: full width, 2 rows.
WIDTH = 2500
HEIGHT = 1686
IMAGE_RESOURCE = "richmenu.png"


@dataclass(frozen=True)
class MenuArea:
    """One tappable button: which intent it starts, where it sits (image pixels). What it says is the
    catalog's `menu.<intent>`, the same words as the quick-reply menu's button for that intent."""

    intent: str
    x: int
    y: int
    width: int
    height: int

    @property
    def label(self) -> str:
        return t(f"menu.{self.intent}")

    @property
    def postback_data(self) -> str:
        # Same shape as every other postback: action=<verb>&k=v (see STYLE.md).
        return urlencode({"action": "intent", "name": self.intent})


# 2 rows x 3 columns. Columns 833 + 834 + 833 = 2500, rows 843 + 843 = 1686: no gaps, no overlap.
RICH_MENU_AREAS: tuple[MenuArea, ...] = (
    #        intent                  x     y  width height
    MenuArea("reservation_make",     0,    0, 833, 843),
    MenuArea("reservation_check",  833,    0, 834, 843),
    MenuArea("faq",               1667,    0, 833, 843),
    MenuArea("shelter_search",       0,  843, 833, 843),
    MenuArea("class_info",         833,  843, 834, 843),
    MenuArea("subscribe",         1667,  843, 833, 843),
)  # fmt: skip


def rich_menu_request() -> RichMenuRequest:
    """The rich menu object LINE's POST /v2/bot/richmenu expects."""
    return RichMenuRequest(
        size=RichMenuSize(width=WIDTH, height=HEIGHT),
        selected=True,
        name=MENU_NAME,
        chatBarText=CHAT_BAR_TEXT,
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=area.x, y=area.y, width=area.width, height=area.height),
                # The tap shows the label as the citizen's own message, so the chat reads naturally.
                action=PostbackAction(label=area.label, data=area.postback_data, displayText=area.label),
            )
            for area in RICH_MENU_AREAS
        ],
    )


def image_bytes() -> bytes:
    """The menu picture (PNG, 2500x1686, under LINE's 1 MB limit)."""
    return resources.files("bot").joinpath("assets", IMAGE_RESOURCE).read_bytes()


async def deploy(*, api: AsyncMessagingApi, blob_api: AsyncMessagingApiBlob, replace: bool = True) -> str:
    """Creates the menu, uploads its picture, makes it every user's default; returns the new id.

    With ``replace``, older menus named MENU_NAME are deleted afterwards, so deploying twice leaves
    one. They are deleted only once the new menu is the default: citizens never see an empty bar.
    """
    created = await api.create_rich_menu(rich_menu_request())
    rich_menu_id: str = created.rich_menu_id
    try:
        # The blob client sends application/json unless told otherwise; LINE wants the image type.
        await blob_api.set_rich_menu_image(rich_menu_id, body=image_bytes(), _headers={"Content-Type": "image/png"})
        await api.set_default_rich_menu(rich_menu_id)
    except Exception:
        # A menu without a picture cannot be linked; do not leave it behind. If this clean-up
        # fails too, the original error is the one worth reporting.
        with contextlib.suppress(Exception):
            await api.delete_rich_menu(rich_menu_id)
        raise
    if replace:
        menus = await api.get_rich_menu_list()
        for menu in menus.richmenus:
            if menu.name == MENU_NAME and menu.rich_menu_id != rich_menu_id:
                await api.delete_rich_menu(menu.rich_menu_id)
    return rich_menu_id

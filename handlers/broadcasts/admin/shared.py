"""What the broadcasts' pages share: addresses and their scripts and styles."""

from __future__ import annotations

from pathlib import Path as FilePath

from admin.assets import PackageAssets

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/broadcasts"
# The pages' scripts and styles (the admin's CSP allows nothing inline), served by compose.py's
# /broadcasts/static route: the compose and broadcast pages', and the registration slips' print styles.
ASSETS = PackageAssets(
    PACKAGE / "static",
    f"{BASE}/static",
    {
        "broadcasts.js": "text/javascript",
        "broadcasts.css": "text/css",
        "slips.js": "text/javascript",
        "slips.css": "text/css",
    },
)
# The sandbox chat page's own renderer of LINE messages, which the admin serves too: the preview
# looks exactly as the sandbox shows the message.
LINE_RENDER = {"js": "/admin/static/line-render.js", "css": "/admin/static/line-render.css"}


def page_assets() -> dict[str, dict[str, str]]:
    return {
        "assets": {"js": ASSETS.url("broadcasts.js"), "css": ASSETS.url("broadcasts.css")},
        "line_render": LINE_RENDER,
    }


def slip_assets() -> dict[str, dict[str, str]]:
    return {"slip_assets": {"js": ASSETS.url("slips.js"), "css": ASSETS.url("slips.css")}}

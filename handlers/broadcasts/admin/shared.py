"""What the broadcasts' pages share: addresses and the role guard for changes."""

from __future__ import annotations

from pathlib import Path as FilePath

from fastapi import Depends

from admin.assets import PackageAssets
from admin.auth import require_role

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/broadcasts"
broadcaster_only = [Depends(require_role("broadcaster"))]
ASSETS = PackageAssets(
    PACKAGE / "static", f"{BASE}/static", {"broadcasts.js": "text/javascript", "broadcasts.css": "text/css"}
)
# The sandbox chat page's own renderer of LINE messages, which the admin serves too: the preview
# looks exactly as the sandbox shows the message.
LINE_RENDER = {"js": "/admin/static/line-render.js", "css": "/admin/static/line-render.css"}


def page_assets() -> dict[str, dict[str, str]]:
    return {"assets": ASSETS.urls(), "line_render": LINE_RENDER}

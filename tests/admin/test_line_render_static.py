"""The sandbox's LINE message renderer, served to the admin for previews, with no sandbox running."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import live_app

SANDBOX_STATIC = Path(__file__).resolve().parents[2] / "bot" / "sandbox" / "static"


def test_the_admin_serves_line_render_js_and_css_without_the_sandbox(database_url: str) -> None:
    # As in production: no /sandbox routes. Public, like admin.css (the login page needs no preview,
    # but /admin/static is not behind the session guard).
    with live_app(database_url, sandbox_enabled=False) as app, httpx.Client(base_url=app.base_url) as client:
        script = client.get("/admin/static/line-render.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["x-content-type-options"] == "nosniff"
        assert script.content == (SANDBOX_STATIC / "line-render.js").read_bytes()
        assert "window.LineRender" in script.text
        again = client.get("/admin/static/line-render.js", headers={"If-None-Match": script.headers["etag"]})
        assert again.status_code == 304

        style = client.get("/admin/static/line-render.css")
        assert style.status_code == 200
        assert style.headers["content-type"].startswith("text/css")

        # Only those two files of the sandbox's folder; the admin's own static files are still there.
        assert client.get("/admin/static/chat.js").status_code == 404
        assert client.get("/admin/static/admin.css").status_code == 200
        assert client.get("/sandbox/static/line-render.js").status_code == 404

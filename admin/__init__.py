"""Staff web UI (/admin) and the staff JSON API (/api/v1).

`register(app, capabilities)` builds both from the shell's screens and the capabilities'
(admin.nav): every section's pages sit
behind the session guard and its roles, every API route behind the token guard and the same roles.
"""

from __future__ import annotations

import hashlib
import inspect
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.capability import Capabilities

ExceptionHandler = Callable[[Request, Any], Response | Awaitable[Response]]


async def _respond(handler: ExceptionHandler, request: Request, exc: Exception) -> Response:
    """Answers with an exception handler registered before ours, async or plain (FastAPI takes both)."""
    response = handler(request, exc)
    if inspect.isawaitable(response):
        response = await response
    return response


def register(app: FastAPI, capabilities: Capabilities) -> None:
    """Mounts the admin UI at /admin, its static files at /admin/static and the API at /api/v1, with
    the shell's screens and those the capabilities declare (built for this app alone)."""
    # Imported here, not at the top: `admin.models` (migrations, services) must not pull in the web layer.
    from admin import api, nav, routes
    from admin.auth import bearer_scheme, require_role, staff_guard
    from admin.config import AdminConfig
    from admin.templating import STATIC_DIR, add_template_dir

    screens = [item for capability in capabilities if capability.admin is not None for item in capability.admin()]
    app.state.nav = nav.build_nav(routes.SCREENS, screens)
    settings = app.state.settings
    app.state.admin_config = AdminConfig.from_settings(settings)
    secret_key = getattr(settings, "secret_key", "") or ""
    app.state.admin_signing_key = (
        hashlib.sha256(b"madoguchi admin login csrf\x00" + secret_key.encode()).digest()
        if secret_key
        else secrets.token_bytes(32)
    )

    # Before the static mount: the public routes include /admin/static/line-render.{js,css}.
    app.include_router(routes.public_router, include_in_schema=False)
    app.mount("/admin/static", StaticFiles(directory=STATIC_DIR), name="admin-static")

    pages = APIRouter(dependencies=[Depends(staff_guard)])
    api_v1 = APIRouter(dependencies=[Depends(bearer_scheme), Depends(staff_guard)], responses=api.ERRORS)
    api_v1.include_router(api.router)
    for section in app.state.nav.sections:
        if section.templates is not None:
            add_template_dir(section.templates)
        guard = [Depends(require_role(*section.roles))]
        if section.router is not None:
            pages.include_router(section.router, dependencies=guard)
        else:
            pages.add_api_route(
                section.path,
                _placeholder_view(section),
                methods=["GET"],
                dependencies=guard,
                name=f"{section.key}-todo",
            )
        if section.api_router is not None:
            api_v1.include_router(section.api_router, dependencies=guard)
    app.include_router(pages, prefix="/admin", include_in_schema=False)
    app.include_router(api_v1, prefix="/api/v1", tags=["staff"])

    _install_error_pages(app)
    app.add_middleware(SecurityHeaders)


def _placeholder_view(section: Any) -> Callable[[Request], HTMLResponse]:
    from admin.templating import render

    def show_placeholder(request: Request) -> HTMLResponse:
        return render(request, "placeholder.html", {"section": section})

    return show_placeholder


def _is_page(request: Request) -> bool:
    path = request.url.path
    return (path == "/admin" or path.startswith("/admin/")) and not path.startswith("/admin/static/")


def _install_error_pages(app: FastAPI) -> None:
    from admin.auth import Forbidden, NotAuthenticated, is_api_request
    from admin.sessions import SESSION_COOKIE
    from admin.templating import render

    previous_http: ExceptionHandler = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    previous_validation: ExceptionHandler = app.exception_handlers.get(
        RequestValidationError, request_validation_exception_handler
    )

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if is_api_request(request):
            return JSONResponse(
                {"detail": "認証が必要です。有効なAPIトークンを Authorization: Bearer で送ってください。"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        # After signing in the browser goes back with GET, so only a page (not a form's target) is kept.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in ("GET", "HEAD"):
            target = "/admin/"
        location = "/admin/login?next=" + quote(target, safe="")
        if exc.expired:
            location += "&expired=1"
        response = RedirectResponse(location, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if not _is_page(request):
            return JSONResponse({"detail": exc.message}, status_code=403)
        return render(request, "error.html", {"status": 403, "message": exc.message}, status_code=403)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_page(request) or exc.status_code < 400:
            return await _respond(previous_http, request, exc)
        messages = {404: "ページが見つかりません。", 405: "この操作はできません。"}
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 404 else None
        if exc.status_code == 404 and isinstance(exc.detail, str) and exc.detail != "Not Found":
            message = exc.detail
        response = render(
            request,
            "error.html",
            {"status": exc.status_code, "message": message or messages.get(exc.status_code, "エラーが発生しました。")},
            status_code=exc.status_code,
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not _is_page(request):
            return await _respond(previous_validation, request, exc)
        return render(
            request, "error.html", {"status": 400, "message": "入力内容が正しくありません。"}, status_code=400
        )


class SecurityHeaders:
    """Hardening headers on admin pages and the API only (the webhook and the sandbox are not ours)."""

    PAGE_HEADERS = (
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"cache-control", b"no-store"),
    )
    COMMON_HEADERS = ((b"x-content-type-options", b"nosniff"),)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        is_static = path.startswith("/admin/static/")
        is_page = (path == "/admin" or path.startswith("/admin/")) and not is_static
        is_api = path.startswith("/api/v1/")
        if not (is_page or is_api or is_static):
            await self.app(scope, receive, send)
            return
        extra = self.COMMON_HEADERS + (
            self.PAGE_HEADERS if is_page else ((b"cache-control", b"no-store"),) if is_api else ()
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- what the platform asks of the staff UI (bot/capabilities.py loads this package by name) -------


def ensure_demo_user(*, db_session: Any, password: str | None = None) -> tuple[str, str]:
    """The demo staff login (name, password): with `password` (kept in ./var by the demo), the same
    after every restart."""
    from admin.users import ensure_demo_user as ensure

    return ensure(db_session=db_session, password=password)


def command_group() -> Any:
    """The `madoguchi admin` command group."""
    from admin.cli import admin_group

    return admin_group

"""The admin's own pages: sign-in, dashboard, dead letters, citizens, audit log, settings, staff, tokens.

Views are thin: parse the request, call a service, render or redirect. Guards sit on the route line.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import date
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from admin import audit, dead_letters, nav, sessions, tokens, users
from admin.auth import CurrentStaff, DbSession, admin_config, client_ip, require_role
from admin.models import (
    PASSWORD_MIN_LENGTH,
    Actor,
    ApiToken,
    ApiTokenCreate,
    StaffRole,
    StaffUser,
    StaffUserCreate,
    StaffUserUpdate,
)
from admin.schemas import CitizenListItem
from admin.templating import redirect, render
from bot import citizens as citizen_service
from bot import clock
from bot import inbox as inbox_service
from bot import outbox as outbox_service

LOGIN_CSRF_COOKIE = "madoguchi_login_csrf"
CITIZENS_PER_PAGE = 50
AUDIT_PER_PAGE = 50
MAX_ID = 2**31 - 1

public_router = APIRouter()

# The sandbox chat page's LINE message renderer, for the admin's previews of what citizens will see.
# Read from the bot package's files, so production (no /sandbox routes) has them too: these two only.
LINE_RENDER_FILES = {"line-render.js": "text/javascript", "line-render.css": "text/css"}


def _line_render_view(name: str, media_type: str) -> Callable[[Request], Response]:
    def line_render_file(request: Request) -> Response:
        body = resources.files("bot").joinpath("sandbox", "static", name).read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    return line_render_file


# Public, like the rest of /admin/static (admin.css, admin.js); registered before that mount, which
# would answer 404 for them (see admin.register).
for _name, _media_type in LINE_RENDER_FILES.items():
    public_router.add_api_route(
        f"/admin/static/{_name}",
        _line_render_view(_name, _media_type),
        methods=["GET"],
        include_in_schema=False,
        name=f"admin-static-{_name}",
    )


# --- signing in and out -------------------------------------------------------------------------


def _signing_key(request: Request) -> bytes:
    return request.app.state.admin_signing_key


def _login_csrf_pair(request: Request) -> tuple[str, str]:
    """The form's token and the cookie's signed copy (a signed double-submit cookie)."""
    token = secrets.token_urlsafe(24)
    signature = hmac.new(_signing_key(request), token.encode(), hashlib.sha256).hexdigest()
    return token, f"{token}.{signature}"


def _login_csrf_ok(request: Request, sent: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token, _, signature = cookie.partition(".")
    if not token or not sent or not hmac.compare_digest(token.encode(), sent.encode()):
        return False
    expected = hmac.new(_signing_key(request), token.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.encode(), expected.encode())


def cookie_secure(request: Request) -> bool:
    """Secure when the page came over HTTPS (directly or via the proxy) or the site's address is HTTPS."""
    return request.url.scheme == "https" or admin_config(request).public_base_url.startswith("https://")


def _safe_next(value: str | None) -> str:
    """Only a path inside the admin: never another site (open redirect)."""
    if (
        value
        and (value == "/admin" or value.startswith("/admin/"))
        and not any(bad in value for bad in ("//", "\\", ".."))
    ):
        return value
    return "/admin/"


def _login_page(
    request: Request, *, error: str | None = None, next_url: str = "/admin/", status_code: int = 200
) -> HTMLResponse:
    token, cookie = _login_csrf_pair(request)
    notice = None
    if request.query_params.get("expired"):
        notice = "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "login_notice": notice,
            "next_url": _safe_next(next_url),
            "login_csrf": token,
            "max_failures": admin_config(request).login_max_failures,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, cookie, path="/admin", httponly=True, samesite="lax", secure=cookie_secure(request)
    )
    return response


@public_router.get("/admin", include_in_schema=False)
def admin_root() -> RedirectResponse:
    return RedirectResponse("/admin/", status_code=303)


@public_router.get("/admin/login", response_class=HTMLResponse)
def show_login(request: Request, next: str = "/admin/") -> HTMLResponse:
    return _login_page(request, next_url=next)


def _login_attempt(request: Request, name: str, password: str) -> sessions.LoginResult:
    # sessions.login opens its own transactions (on SQLite none is open while argon2 runs).
    return sessions.login(
        db=request.app.state.db,
        name=name,
        password=password,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        config=admin_config(request),
    )


@public_router.post("/admin/login", response_class=HTMLResponse)
async def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/admin/",
) -> Response:
    if not _login_csrf_ok(request, csrf_token):
        return _login_page(
            request,
            error="画面の有効期限が切れました。もう一度ログインしてください。",
            next_url=next,
            status_code=403,
        )
    result = await run_in_threadpool(_login_attempt, request, name, password)
    if result.delay_seconds:
        # Each failure answers later than the one before; the wait holds no thread and no transaction.
        await asyncio.sleep(result.delay_seconds)
    response: Response
    if result.locked_until is not None:
        minutes = max(1, round((result.locked_until - clock.now()).total_seconds() / 60))
        response = _login_page(
            request,
            error=f"ログインに続けて失敗したため、一時的にログインできません。約{minutes}分後にもう一度お試しください。",
            next_url=next,
            status_code=429,
        )
        response.headers["Retry-After"] = str(minutes * 60)
        return response
    if not result.ok or result.token is None:
        return _login_page(
            request, error="ログイン名またはパスワードが正しくありません。", next_url=next, status_code=401
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        sessions.SESSION_COOKIE,
        result.token,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
    return response


@public_router.post("/admin/logout")
def logout(request: Request, db_session: DbSession, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    token = request.cookies.get(sessions.SESSION_COOKIE)
    expected = sessions.get_csrf(db_session=db_session, token=token)
    if expected is not None:
        if not hmac.compare_digest(csrf_token.encode(), expected.encode()):
            raise HTTPException(status_code=403, detail="不正な送信です。")
        user = sessions.end(db_session=db_session, token=token)
        if user is not None:
            audit.record(
                db_session=db_session,
                actor=Actor(id=user.id, name=user.name, role=StaffRole(user.role), ip=client_ip(request)),
                action="logout",
                target_type="staff_user",
                target_id=user.id,
            )
    response = redirect("/admin/login", notice="ログアウトしました。")
    response.delete_cookie(sessions.SESSION_COOKIE, path="/admin")
    return response


# --- dashboard and dead letters -----------------------------------------------------------------

dashboard_router = APIRouter()


def wake_processor_after_response(request: Request) -> BackgroundTask:
    """Runs after the response, so after the commit: the processor then sees the retried event."""
    processor = getattr(request.app.state, "processor", None)

    async def wake() -> None:
        if processor is not None:
            processor.wake()

    return BackgroundTask(wake)


@dashboard_router.get("/")
def show_dashboard(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    panels = [
        (panel, panel.load(db_session, actor) if panel.load else None)
        for panel in request.app.state.nav.dashboard_panels(actor)
    ]
    return render(request, "dashboard.html", {"panels": panels})


@dashboard_router.get("/inbox/dead", dependencies=[Depends(require_role("viewer"))])
def list_dead_letters(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    events = dead_letters.get_all(db_session=db_session)
    return render(request, "dead_letters.html", {"events": events, "can_retry": actor.role == StaffRole.ADMIN})


@dashboard_router.post("/inbox/dead/{inbox_event_id}/retry", dependencies=[Depends(require_role("admin"))])
def retry_dead_letter(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    inbox_event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    event = dead_letters.retry(db_session=db_session, inbox_event_id=inbox_event_id, actor=actor)
    if event is None:
        return redirect(
            "/admin/inbox/dead",
            error=f"受信イベント {inbox_event_id} は再処理できません（見つからないか、処理済みです）。",
        )
    response = redirect("/admin/inbox/dead", notice=f"受信イベント {inbox_event_id} を再処理の待ち行列に戻しました。")
    response.background = wake_processor_after_response(request)
    return response


def _friends_panel(db_session: Session, actor: Actor) -> dict[str, Any]:
    return {"counts": citizen_service.count_by_status(db_session=db_session)}


def _delivery_panel(db_session: Session, actor: Actor) -> dict[str, Any]:
    return {
        "inbox": inbox_service.count_by_status(db_session=db_session),
        "outbox": outbox_service.count_by_status(db_session=db_session),
        "failed": outbox_service.get_all_failed(db_session=db_session, limit=10),
        "can_see_dead": actor.role in (StaffRole.ADMIN, StaffRole.VIEWER),
    }


# --- citizens -------------------------------------------------------------------------------------

citizens_router = APIRouter()


@citizens_router.get("/citizens")
def list_citizens(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    # Searching by name would reveal names, so only roles that may see them can search.
    query = q.replace("\x00", "").strip() if actor.sees_personal_data else ""
    found = citizen_service.search(
        db_session=db_session, query=query, limit=CITIZENS_PER_PAGE + 1, offset=(page - 1) * CITIZENS_PER_PAGE
    )
    items = [CitizenListItem.from_citizen(c, personal=actor.sees_personal_data) for c in found[:CITIZENS_PER_PAGE]]
    return render(
        request,
        "citizens.html",
        {
            "items": items,
            "counts": citizen_service.count_by_status(db_session=db_session),
            "q": query,
            "page": page,
            "has_more": len(found) > CITIZENS_PER_PAGE,
            "personal": actor.sees_personal_data,
        },
    )


@citizens_router.get("/citizens/{citizen_id}")
def show_citizen(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    citizen_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> HTMLResponse:
    """One LINE friend: from them, their bookings, class signups and handoff threads (links to each).
    The display name and full ID only for roles that may see personal data."""
    citizen = db_session.get(citizen_service.Citizen, citizen_id)  # bot.citizens has no get by id
    if citizen is None:
        raise HTTPException(status_code=404, detail="その利用者は見つかりません。")
    return render(
        request,
        "citizen.html",
        {
            "c": CitizenListItem.from_citizen(citizen, personal=actor.sees_personal_data),
            # Each capability's part (bookings, class signups, 職員対応 threads), in the list's order.
            "histories": [
                c.citizen_history(db_session, citizen.line_user_id)
                for c in request.app.state.capabilities
                if c.citizen_history is not None
            ],
            "personal": actor.sees_personal_data,
        },
    )


# --- audit log (read only: there is no route that changes it) -----------------------------------

# Admins only (also the section's rule): visible here so nobody has to look it up.
audit_router = APIRouter(dependencies=[Depends(require_role("admin"))])


def _parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@audit_router.get("/audit")
def list_audit_entries(
    request: Request,
    db_session: DbSession,
    staff: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    filters: dict[str, Any] = {
        "staff_name": staff or None,
        "action": action or None,
        "since": _parse_day(since),
        "until": _parse_day(until),
    }
    entries = audit.get_all(db_session=db_session, limit=AUDIT_PER_PAGE, offset=(page - 1) * AUDIT_PER_PAGE, **filters)
    total = audit.count(db_session=db_session, **filters)
    return render(
        request,
        "audit.html",
        {
            "entries": [
                {
                    "e": entry,
                    "target": audit.target_of(db_session, entry),
                    "before": audit.readable(entry.before),
                    "after": audit.readable(entry.after),
                }
                for entry in entries
            ],
            # Failed sign-ins are not changes, so they are not entries; the admin sees them here.
            "failed_logins": audit.get_failed_logins(
                db_session=db_session, since=filters["since"], until=filters["until"]
            )
            if page == 1 and not staff and action in ("", "login", "login.locked")
            else [],
            "total": total,
            "page": page,
            "has_more": page * AUDIT_PER_PAGE < total,
            "filters": {"staff": staff, "action": action, "since": since, "until": until},
            "actions": audit.get_actions(db_session=db_session),
            "staff_names": audit.get_staff_names(db_session=db_session),
        },
    )


# --- settings, staff accounts, API tokens (admins) ----------------------------------------------

settings_router = APIRouter(dependencies=[Depends(require_role("admin"))])

SECRET_SUFFIXES = ("secret", "token", "password", "key")


def _visible_settings(request: Request) -> list[tuple[str, str]]:
    """Every setting with its value, except secrets (shown only as set / not set)."""
    settings = request.app.state.settings
    rows: list[tuple[str, str]] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name.endswith(SECRET_SUFFIXES):
            shown = "設定済み" if value else "未設定"
        elif name == "database_url":
            shown = make_url(value).render_as_string(hide_password=True) if value else ""
        else:
            shown = str(value)
        rows.append((name.upper(), shown))
    config = admin_config(request)
    listed = {name for name, _ in rows}
    for name in (
        "session_idle_minutes",
        "session_max_hours",
        "login_max_failures",
        "login_ip_max_failures",
        "login_window_minutes",
        "login_lock_minutes",
    ):
        if f"ADMIN_{name.upper()}" not in listed:  # until Settings has these fields, the defaults in use
            rows.append((f"ADMIN_{name.upper()}", str(getattr(config, name))))
    return rows


@settings_router.get("/settings")
def show_settings(request: Request) -> HTMLResponse:
    return render(request, "settings.html", {"rows": _visible_settings(request)})


def get_staff_user_or_404(db_session: DbSession, staff_user_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> StaffUser:
    user = users.get(db_session=db_session, staff_user_id=staff_user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="職員が見つかりません。")
    return user


CurrentStaffUser = Annotated[StaffUser, Depends(get_staff_user_or_404)]


def get_api_token_or_404(db_session: DbSession, api_token_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> ApiToken:
    api_token = tokens.get(db_session=db_session, api_token_id=api_token_id)
    if api_token is None:
        raise HTTPException(status_code=404, detail="APIトークンが見つかりません。")
    return api_token


CurrentApiToken = Annotated[ApiToken, Depends(get_api_token_or_404)]


def _form_error(exc: ValidationError) -> str:
    fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
    if "password" in fields:
        return f"パスワードは{PASSWORD_MIN_LENGTH}文字以上にしてください。"
    if "name" in fields:
        return "ログイン名は半角英数字と「.」「_」「-」で、64文字以内にしてください。"
    return "入力内容を確認してください。"


@settings_router.get("/settings/users")
def list_staff_users(request: Request, db_session: DbSession) -> HTMLResponse:
    return render(request, "users.html", {"users": users.get_all(db_session=db_session), "roles": list(StaffRole)})


@settings_router.post("/settings/users")
def create_staff_user(
    actor: CurrentStaff,
    db_session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        user_in = StaffUserCreate(name=name.strip(), role=role, password=password, display_name=display_name or None)
        users.create(db_session=db_session, user_in=user_in, actor=actor)
    except ValidationError as exc:
        return redirect("/admin/settings/users", error=_form_error(exc))
    except users.UserExists:
        return redirect("/admin/settings/users", error=f"ログイン名「{name}」はすでに使われています。")
    return redirect("/admin/settings/users", notice=f"職員「{user_in.name}」を追加しました。")


@settings_router.post("/settings/users/{staff_user_id}")
def update_staff_user(
    actor: CurrentStaff,
    db_session: DbSession,
    user: CurrentStaffUser,
    role: Annotated[str, Form(max_length=32)] = "",
    is_active: Annotated[str, Form(max_length=8)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        user_in = StaffUserUpdate(role=role, is_active=is_active == "on", display_name=display_name or None)
        users.update(db_session=db_session, user=user, user_in=user_in, actor=actor)
    except ValidationError as exc:
        return redirect("/admin/settings/users", error=_form_error(exc))
    except users.LastAdmin:
        return redirect("/admin/settings/users", error="有効な管理者がいなくなるため、この変更はできません。")
    return redirect("/admin/settings/users", notice=f"職員「{user.name}」を更新しました。")


@settings_router.post("/settings/users/{staff_user_id}/password")
def change_staff_password(
    actor: CurrentStaff,
    db_session: DbSession,
    user: CurrentStaffUser,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        users.set_password(db_session=db_session, user=user, password=password, actor=actor)
    except users.PasswordTooShort:
        return redirect("/admin/settings/users", error=f"パスワードは{PASSWORD_MIN_LENGTH}文字以上にしてください。")
    if user.id == actor.id:
        return redirect("/admin/login", notice="パスワードを変更しました。新しいパスワードでログインしてください。")
    return redirect("/admin/settings/users", notice=f"職員「{user.name}」のパスワードを変更しました。")


@settings_router.post("/settings/users/{staff_user_id}/unlock")
def unlock_staff_user(actor: CurrentStaff, db_session: DbSession, user: CurrentStaffUser) -> Response:
    users.unlock(db_session=db_session, user=user, actor=actor)
    return redirect("/admin/settings/users", notice=f"職員「{user.name}」のログインのロックを解除しました。")


def _tokens_page(request: Request, db_session: Session, *, new_token: str | None = None) -> HTMLResponse:
    return render(
        request,
        "tokens.html",
        {
            "tokens": tokens.get_all(db_session=db_session),
            "users_by_id": {u.id: u for u in users.get_all(db_session=db_session)},
            "new_token": new_token,
        },
    )


@settings_router.get("/settings/tokens")
def list_api_tokens(request: Request, db_session: DbSession) -> HTMLResponse:
    return _tokens_page(request, db_session)


@settings_router.post("/settings/tokens")
def create_api_token(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    staff_user_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        token_in = ApiTokenCreate(staff_user_id=staff_user_id, name=name.strip() or "API")
        _, secret = tokens.create(db_session=db_session, token_in=token_in, actor=actor)
    except tokens.StaffUserNotFound:
        return redirect("/admin/settings/tokens", error="職員が見つかりません。")
    # Rendered, not redirected: the token is shown this once and stored nowhere in clear.
    return _tokens_page(request, db_session, new_token=secret)


@settings_router.post("/settings/tokens/{api_token_id}/revoke")
def revoke_api_token(actor: CurrentStaff, db_session: DbSession, api_token: CurrentApiToken) -> Response:
    tokens.revoke(db_session=db_session, api_token=api_token, actor=actor)
    return redirect("/admin/settings/tokens", notice=f"APIトークン「{api_token.name}」を失効させました。")


# The shell's own screens; the capabilities' come from their declarations (admin.register).
SCREENS: tuple[nav.Section | nav.DashboardPanel, ...] = (
    nav.Section("dashboard", "ダッシュボード", "/", nav.staff_roles(*StaffRole), dashboard_router, order=10),
    nav.Section("citizens", "利用者", "/citizens", nav.staff_roles(*StaffRole), citizens_router, order=70),
    nav.Section("audit", "監査ログ", "/audit", nav.staff_roles(), audit_router, order=80),
    nav.Section("settings", "設定", "/settings", nav.staff_roles(), settings_router, order=90),
    nav.DashboardPanel("friends", "LINE友だち", template="panels/friends.html", load=_friends_panel, order=10),
    nav.DashboardPanel("delivery", "受信・送信の状況", template="panels/delivery.html", load=_delivery_panel, order=20),
)

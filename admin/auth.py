"""Who is asking, and may they: the dependencies every admin page and API endpoint stands on.

- Pages under /admin authenticate with the session cookie; /api/v1 only with a Bearer token
  (no cookies, so no CSRF to forge there).
- `staff_guard` sits on the page router and the API router as a whole, so nothing under them is
  reachable anonymously: it checks the CSRF token on every state-changing page request and keeps
  the `viewer` role read-only everywhere.
- `require_role(...)` on a route line (or on a whole section) says who else may use it; admins may
  use everything.

    @router.post("/reservations/{reservation_id}/cancel",
                 dependencies=[Depends(require_role("counter"))])
    def cancel_reservation(actor: CurrentStaff, db_session: DbSession, ...): ...
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from admin import sessions, tokens
from admin.config import AdminConfig
from admin.models import Actor, StaffRole

log = logging.getLogger("madoguchi.admin.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
API_PREFIX = "/api/"
UI_PREFIX = "/admin"

# Documents the scheme in the OpenAPI schema; the check itself is in current_staff.
bearer_scheme = HTTPBearer(auto_error=False, description="職員APIトークン（`madoguchi admin create-token`）")


class NotAuthenticated(Exception):
    """No valid session (pages: to the login page) or token (API: 401)."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("not authenticated")
        self.expired = expired


class Forbidden(Exception):
    """Signed in, but not allowed (403)."""

    def __init__(self, message: str = "この操作を行う権限がありません。") -> None:
        super().__init__(message)
        self.message = message


def get_db_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response goes out. The page's layout
    counts its nav badges in it (request.state): on SQLite a second transaction in the same request
    would wait for this one forever."""
    with request.app.state.db.session() as db_session:
        request.state.db_session = db_session
        yield db_session


DbSession = Annotated[Session, Depends(get_db_session, scope="function")]


def admin_config(request: Request) -> AdminConfig:
    return request.app.state.admin_config


def client_ip(request: Request) -> str:
    # Behind the city's proxy uvicorn already put the forwarded address here (proxy_headers).
    return (request.client.host if request.client else "unknown")[:64]


def is_api_request(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def current_staff(request: Request, db_session: DbSession) -> Actor:
    """The signed-in staff member (pages: session cookie; /api: Bearer token)."""
    if is_api_request(request):
        actor = _token_actor(request, db_session)
    else:
        check = sessions.check(
            db_session=db_session,
            token=request.cookies.get(sessions.SESSION_COOKIE),
            config=admin_config(request),
        )
        if check.session is None or check.user is None:
            raise NotAuthenticated(expired=check.expired)
        actor = Actor(
            id=check.user.id,
            name=check.user.name,
            role=StaffRole(check.user.role),
            via="web",
            ip=client_ip(request),
            session_id=check.session.id,
            csrf_token=check.session.csrf_token,
        )
    request.state.actor = actor
    return actor


def _token_actor(request: Request, db_session: Session) -> Actor:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    found = None
    if scheme.lower() == "bearer" and secret.strip():
        found = tokens.authenticate(db_session=db_session, secret=secret.strip())
    if found is None:
        raise NotAuthenticated()
    api_token, user = found
    return Actor(
        id=user.id,
        name=user.name,
        role=StaffRole(user.role),
        via="api",
        ip=client_ip(request),
        token_id=api_token.id,
    )


CurrentStaff = Annotated[Actor, Depends(current_staff)]


async def verify_csrf(request: Request, expected: str | None) -> None:
    """The form's hidden `csrf_token` (or the X-CSRF-Token header) must be this session's token."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        try:
            form = await request.form()
        except Exception:  # a body that is not a readable form carries no token
            form = None
        value = form.get(CSRF_FIELD) if form is not None else None
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        log.warning("CSRF check failed: %s %s from %s", request.method, request.url.path, client_ip(request))
        raise Forbidden("フォームの有効期限が切れたか、不正な送信です。画面を開き直してからもう一度お試しください。")


def is_read_only(route: object) -> bool:
    """A POST route that changes nothing (a question sent in a body, such as "parse this text")
    carries openapi_extra={"x-read-only": True}: viewers may call it. CSRF is still checked for
    browser sessions. Capabilities mark their routes without importing admin, and the OpenAPI
    schema shows the mark too."""
    extra = getattr(route, "openapi_extra", None) or {}
    return bool(extra.get("x-read-only"))


async def staff_guard(request: Request, actor: CurrentStaff) -> Actor:
    """On every admin page and API route: signed in; CSRF on changes; viewers never change anything."""
    if request.method in SAFE_METHODS:
        return actor
    if actor.via == "web":
        await verify_csrf(request, actor.csrf_token)
    if actor.role == StaffRole.VIEWER and not is_read_only(request.scope.get("route")):
        raise Forbidden("閲覧のみの権限では変更できません。")
    return actor


def require_role(*roles: StaffRole | str) -> Callable[[Actor], Actor]:
    """A dependency allowing these roles (and always `admin`); others get 403."""
    allowed = frozenset({StaffRole.ADMIN, *(StaffRole(role) for role in roles)})

    def check_role(actor: CurrentStaff) -> Actor:
        if actor.role not in allowed:
            raise Forbidden()
        return actor

    check_role.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the role-matrix test
    return check_role

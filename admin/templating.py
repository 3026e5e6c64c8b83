"""Rendering admin pages: one Jinja2 environment, the layout's context, flash notices, JST times.

Capabilities render with `render(request, "reservations/list.html", {...})`; their template folder
is the `templates` of their admin Section (added when the app is built); their templates extend
"base.html".
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from admin import audit
from admin.models import ROLE_LABELS, Actor, StaffRole
from bot import clock

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
FLASH_COOKIE = "madoguchi_flash"

_loader = FileSystemLoader([str(TEMPLATE_DIR)])
env = Environment(loader=_loader, autoescape=select_autoescape(["html"]), undefined=StrictUndefined)


def add_template_dir(path: Path) -> None:
    """Lets a capability keep its templates beside its code (searched after admin's own)."""
    if str(path) not in _loader.searchpath:
        _loader.searchpath.append(str(path))


def jst(value: datetime | None, fmt: str = "%Y/%m/%d %H:%M") -> str:
    """Stored times are UTC; staff read Asia/Tokyo."""
    if value is None:
        return "—"
    return value.astimezone(clock.TOKYO).strftime(fmt)


def jst_date(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(clock.TOKYO).date()
    return value.strftime("%Y/%m/%d")


def role_label(role: StaffRole | str) -> str:
    try:
        return ROLE_LABELS[StaffRole(role)]
    except ValueError:
        return str(role)


@cache
def _static_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def static_url(name: str) -> str:
    """/admin/static/<name>?v=<content hash>: browsers cache it, and a new version is fetched at once."""
    return f"/admin/static/{name}?v={_static_version(name)}"


env.filters["jst"] = jst
env.filters["jst_date"] = jst_date
env.filters["role_label"] = role_label
env.filters["action_label"] = audit.action_label
env.globals["static_url"] = static_url
env.globals["role_labels"] = ROLE_LABELS


def current_actor(request: Request) -> Actor | None:
    return getattr(request.state, "actor", None)


def _flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    if kind not in ("notice", "error") or not text:
        return None
    return {"kind": kind, "text": text[:500]}


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """A full page: the template with the layout's context (who is signed in, nav, CSRF token, notice)."""
    actor = current_actor(request)
    settings = request.app.state.settings
    flash = _flash(request)
    values: dict[str, Any] = {
        "request": request,
        "actor": actor,
        "nav_sections": request.app.state.nav.visible_sections(actor),
        "current_path": request.url.path,
        "csrf_token": actor.csrf_token if actor and actor.csrf_token else "",
        "flash": flash,
        "city_name": settings.city_name,
        "demo_mode": bool(getattr(settings, "demo_mode", False)),
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path="/admin")
    return response


def redirect(url: str, *, notice: str | None = None, error: str | None = None) -> RedirectResponse:
    """303 to `url`, carrying a one-time notice shown on the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice or error:
        value = quote(f"{'notice' if notice else 'error'}:{notice or error}")
        response.set_cookie(FLASH_COOKIE, value, max_age=60, path="/admin", httponly=True, samesite="lax")
    return response

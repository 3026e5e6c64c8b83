"""Mounts the FAQ's staff API (handlers/faq/api.py) in the admin app's "よくある質問" section.

Listed in admin/nav.py's SECTION_MODULES. The section keeps its label, roles and page (a
「準備中」 page until the FAQ editing screens are built); its API routes get the request's own
database session from admin.auth.
"""

from __future__ import annotations

from admin.auth import DbSession
from admin.nav import get_sections, register_section
from handlers.faq.api import build_router

api_router = build_router(DbSession)

_section = next(s for s in get_sections() if s.key == "faq")
register_section(
    _section.key,
    _section.label,
    _section.path,
    _section.roles,
    _section.router,
    api_router=api_router,
    order=_section.order,
    description=_section.description,
)

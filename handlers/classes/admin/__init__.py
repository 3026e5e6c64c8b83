"""The classes' section of the admin (スマホ教室) and its dashboard panel: what capability.py declares.

One module per page group: the sessions (list, create and edit, a series at once, call off, draw;
sessions.py), one session's roster and what staff do on it (roster.py), the forms they post
(forms.py). Views are thin: parse, call a staff action (flows.py: it pushes and audits), redirect or
render. Who the participants are is shown to counter and admin roles only.
"""

from __future__ import annotations

from fastapi import APIRouter

from admin.nav import DashboardPanel, Section, staff_roles
from handlers.classes import api
from handlers.classes.admin import roster, sessions
from handlers.classes.admin.shared import PACKAGE

router = APIRouter()
# The sessions' pages first: /classes/new must not be read as a session id.
for pages in (sessions.router, roster.router):
    router.include_router(pages)

SCREENS = (
    Section(
        "classes",
        "スマホ教室",
        "/classes",
        staff_roles("counter", "viewer"),
        router=router,
        api_router=api.router,
        order=50,
        templates=PACKAGE / "templates",
    ),
    DashboardPanel(
        "upcoming_classes",
        "今後のスマホ教室",
        roles=staff_roles("counter", "viewer"),
        template="classes/panel.html",
        load=sessions.upcoming_panel,
        order=40,
    ),
)

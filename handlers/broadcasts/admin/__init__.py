"""The broadcasts' section of the admin (配信) and its dashboard panel: what capability.py declares.

One module per page group: broadcasts (compose, preview, approve, schedule, progress; compose.py),
the topics citizens choose (topics.py) and the verified member groups with their rosters and
registration codes (groups.py). Views are thin: parse, call a staff action (flows.py: it audits),
redirect or render.
"""

from __future__ import annotations

from fastapi import APIRouter

from admin.nav import Section, staff_roles
from handlers.broadcasts import api
from handlers.broadcasts.admin import compose, groups, topics
from handlers.broadcasts.admin.shared import PACKAGE

router = APIRouter()
# Fixed paths (/broadcasts/topics, /broadcasts/groups, /broadcasts/new) before /broadcasts/{id}.
for pages in (topics.router, groups.router, compose.router):
    router.include_router(pages)

SCREENS = (
    Section(
        "broadcasts",
        "配信",
        "/broadcasts",
        staff_roles("broadcaster", "viewer"),
        router=router,
        api_router=api.router,
        order=60,
        templates=PACKAGE / "templates",
    ),
    *compose.PANELS,
)

"""The inbox's section of the admin (職員対応), its nav badge and dashboard panel: what
capability.py declares.

One module per page group: the inbox list, the part of it polling refreshes, the badge's count and
the package's assets (inbox.py); one thread with its reply composer, status, assignment and images
(thread.py); 定型文 (canned.py); the staff API under /api/v1/inbox (api.py). Views are thin: parse,
call a staff action (flows.py: it pushes and audits), redirect or render. Threads are personal
data: the section is for counter and admin roles only.
"""

from __future__ import annotations

from fastapi import APIRouter

from admin.nav import DashboardPanel, Section, staff_roles
from handlers.handoff.admin import api, canned, inbox, thread
from handlers.handoff.admin.shared import BASE, PACKAGE

router = APIRouter()
# Fixed paths first: /handoff/canned or /handoff/live must not be read as a thread's id.
for pages in (inbox.router, canned.router, thread.router):
    router.include_router(pages)

SCREENS = (
    Section(
        "handoff",
        "職員対応",
        "/handoff",
        staff_roles("counter"),
        router=router,
        api_router=api.router,
        order=15,
        templates=PACKAGE / "templates",
        badge=inbox.open_count,
        badge_label="未対応",
        badge_url=f"{BASE}/badge",
    ),
    DashboardPanel(
        "open_handoffs",
        "職員対応",
        roles=staff_roles("counter"),
        template="handoff/panel.html",
        load=inbox.panel_counts,
        order=25,
    ),
)

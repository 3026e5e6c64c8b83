"""申請・通報's section of the admin and its dashboard panel: what capability.py declares.

One module per page group: the forms and their builder (builder.py), the cases, one case and what
staff do on it, the export and the panel (cases.py), the reports on the map (map.py), who belongs to
which department (departments.py). Views are thin: parse, call a staff action (flows.py: it pushes
and audits), redirect or render. Cases are personal data: the section is for counter and admin roles.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from admin.nav import DashboardPanel, Section, staff_roles
from handlers.forms.admin import builder, cases, departments, map
from handlers.forms.admin.shared import ASSETS, PACKAGE


def _api_router() -> APIRouter | None:
    """handlers/forms/api.py's /api/v1 routes (None until that module exists)."""
    try:
        from handlers.forms import api
    except ModuleNotFoundError as exc:
        if exc.name != "handlers.forms.api":
            raise
        return None
    return api.router


router = APIRouter()
router.add_api_route("/forms/static/{name}", ASSETS.serve, methods=["GET"], include_in_schema=False)
# Fixed paths (/forms/new, /forms/cases, /forms/map, ...) before the ones with a key or an id.
for pages in (builder.router, map.router, departments.router, cases.router):
    router.include_router(pages)

SCREENS: tuple[Any, ...] = (
    Section(
        "forms",
        "申請・通報",
        "/forms",
        staff_roles("counter"),
        router=router,
        api_router=_api_router(),
        order=18,
        description="LINEで受け付けるアンケート・通報・市長への手紙の様式づくりと、届いた申請・通報の対応をします。",
        templates=PACKAGE / "templates",
    ),
    DashboardPanel(
        "forms_cases",
        "申請・通報",
        roles=staff_roles("counter"),
        template="forms/panel.html",
        load=cases.panel_counts,
        order=27,
    ),
)

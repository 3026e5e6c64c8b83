"""The inbox's section of the admin (職員対応), being written."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from admin.nav import Section, staff_roles

PACKAGE = Path(__file__).parent
router = APIRouter()
api_router = APIRouter(prefix="/inbox", tags=["inbox"])

SCREENS = (
    Section(
        "handoff",
        "職員対応",
        "/handoff",
        staff_roles("counter"),
        router=router,
        api_router=api_router,
        order=15,
        templates=PACKAGE / "templates",
    ),
)

"""The classes' section of the admin (スマホ教室) and its dashboard panel (being written)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from admin.nav import Section, staff_roles
from handlers.classes import api

PACKAGE = Path(__file__).parent.parent
router = APIRouter()

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
)

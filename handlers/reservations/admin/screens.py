"""The counter's section of the admin (予約・受付) and its dashboard panel: what capability.py declares."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from admin.nav import DashboardPanel, Section, staff_roles
from handlers.reservations import api
from handlers.reservations.admin import booking, day, phone, setup
from handlers.reservations.admin.shared import PACKAGE

STATIC_DIR = PACKAGE / "static"
STATIC_FILES = {"jsQR.js", "checkin.js", "print.css", "print.js"}

router = APIRouter()


@router.get("/reservations/static/{name}", include_in_schema=False)
def reservation_static(name: str) -> Response:
    """The camera scanner and the print styles (served from here: the admin loads nothing from a CDN)."""
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404)
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(STATIC_DIR / name, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


for pages in (day.router, booking.router, phone.router, setup.router):
    router.include_router(pages)

SCREENS = (
    Section(
        "reservations",
        "予約・受付",
        "/reservations",
        staff_roles("counter", "viewer"),
        router=router,
        api_router=api.router,
        order=20,
        templates=PACKAGE / "templates",
    ),
    DashboardPanel(
        "todays_bookings",
        "本日の予約（窓口別）",
        roles=staff_roles("counter", "viewer"),
        template="reservations/panel.html",
        load=day.todays_counts,
        order=30,
    ),
)

"""The counter's section of the admin (予約・受付) and its dashboard panel: what capability.py declares."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from admin import audit
from admin.nav import DashboardPanel, Section, staff_roles
from handlers.reservations import api
from handlers.reservations.admin import booking, day, phone, setup
from handlers.reservations.admin.shared import PACKAGE, SETUP, WEEKDAYS
from handlers.reservations.models import STATUS_LABELS
from handlers.reservations.service import setup as setup_service

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


def _office_name(db_session: Session, office_id: str) -> str | None:
    office = setup_service.get_office(db_session=db_session, office_id=office_id)
    return office.name if office else None


def _procedure_name(db_session: Session, procedure_id: str) -> str | None:
    procedure = setup_service.get_procedure(db_session=db_session, procedure_id=procedure_id)
    return procedure.name if procedure else None


# How the audit log reads the counter's entries: 「予約 #3」 links to the booking, 「窓口 本庁 市民課」.
audit.describe_target("reservation", "予約", link="/admin/reservations/{id}")
audit.describe_target("office", "窓口", link=SETUP + "#offices", name_of=_office_name)
audit.describe_target("procedure", "手続き", link=SETUP + "#procedures", name_of=_procedure_name)
audit.describe_target("slot_rule", "予約枠のルール", link=SETUP + "#rules")
audit.describe_target("closure", "休止日", link=SETUP + "#closures")
audit.describe_target("counter_slot", "予約枠")
audit.describe_field("status", "状態", {str(k): v for k, v in STATUS_LABELS.items()})
for key, label in {
    "capacity": "定員",
    "is_closed": "休止",
    "office_id": "窓口",
    "procedure_id": "手続き",
    "weekdays": "曜日",
    "start_time": "開始",
    "end_time": "終了",
    "slot_minutes": "1枠（分）",
    "opens": "受付開始",
    "closes": "受付終了",
    "address": "住所",
    "phone": "電話番号",
    "day": "日付",
    "visit_day": "来庁日",
    "starts_at": "開始時刻",
    "channel": "受付方法",
    "documents": "持ち物",
    "office_ids": "窓口",
    "fields": "入力項目",
    "duration_minutes": "所要時間（分）",
    "description": "説明",
    "sort_order": "並び順",
    "cancel_reason": "取り消しの理由",
    "arrived_at": "来庁",
    "cancelled_at": "取り消し",
}.items():
    audit.describe_field(key, label)
audit.describe_field("channel", "受付方法", {"line": "LINE", "phone": "電話", "counter": "窓口"})
audit.describe_field("weekdays", "曜日", {str(i): w for i, w in enumerate(WEEKDAYS)})

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

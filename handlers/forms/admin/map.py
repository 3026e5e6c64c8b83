"""The reports on the city's map: each case with a place (a LINE location) a dot, coloured by where
it stands in its form's workflow (just received, in between, done), linking to its case. Drawn here
as SVG with the 地図情報 section's projection and the city's boundary (no tile server)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from admin.auth import CurrentStaff, DbSession
from handlers.forms import flows
from handlers.forms import service as forms_service
from handlers.forms.admin.cases import all_statuses, form_titles
from handlers.forms.admin.shared import STAGE_COLOURS, STAGE_LABELS, case_url, render_page, stage
from handlers.gis.admin import MAP_WIDTH, Projection
from handlers.gis.service import places as place_service

router = APIRouter()
# The newest this many placed cases matching the filter are drawn on the map.
MAP_LIMIT = 3000


def _ring_path(projection: Projection, ring: list[tuple[float, float]]) -> str:
    points: list[tuple[float, float]] = []
    for lon, lat in ring:
        x, y = projection.xy(lat, lon)
        if points and abs(points[-1][0] - x) < 0.5 and abs(points[-1][1] - y) < 0.5:
            continue  # closer than half a pixel to the last point: the page stays small
        points.append((x, y))
    return "M" + " L".join(f"{x},{y}" for x, y in points) + " Z" if len(points) >= 3 else ""


def map_context(db_session: Session, case_filter: forms_service.CaseFilter, focus: int | None) -> dict[str, Any]:
    projection = Projection(place_service.boundary().bbox, MAP_WIDTH)
    paths = [p for p in (_ring_path(projection, ring) for ring in place_service.boundary_rings()) if p]
    dots = []
    outside = 0
    counts = dict.fromkeys(STAGE_LABELS, 0)
    placed = dataclasses.replace(case_filter, placed_only=True)
    for submission, version in forms_service.cases(db_session=db_session, case_filter=placed, limit=MAP_LIMIT):
        if submission.place_lat is None or submission.place_lng is None:
            continue
        x, y = projection.xy(submission.place_lat, submission.place_lng)
        if not projection.inside(x, y):
            outside += 1
            continue
        definition = forms_service.definition_of(version)
        where = stage(definition, submission.status)
        counts[where] += 1
        dots.append(
            {
                "id": submission.id,
                "x": x,
                "y": y,
                "r": 9 if submission.id == focus else 6,
                "fill": STAGE_COLOURS[where],
                "stage": where,
                "url": case_url(submission),
                "label": f"{submission.receipt_no} {definition.title}（{submission.status}）"
                + (f" {submission.place_name}" if submission.place_name else ""),
            }
        )
    dots.sort(key=lambda d: (d["stage"] != "done", d["r"]))  # what is still open drawn on top
    return {
        "width": projection.width,
        "height": projection.height,
        "paths": paths,
        "dots": dots,
        "outside": outside,
        "legend": [(key, label, STAGE_COLOURS[key], counts[key]) for key, label in STAGE_LABELS.items()],
        "source": place_service.BOUNDARY_SOURCE,
    }


@router.get("/forms/map", response_class=HTMLResponse)
def show_map(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    form: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    focus: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    case_filter = forms_service.CaseFilter(
        form_key=form.strip() or None,
        status=status.strip() or None,
        visible_departments=flows.visible_to(db_session, actor),
    )
    forms = form_titles(db_session)
    return render_page(
        request,
        "forms/map.html",
        {
            "map": map_context(db_session, case_filter, focus),
            "forms": [(key, title) for key, title, _ in forms],
            "statuses": all_statuses(forms),
            "chosen_form": form.strip(),
            "chosen_status": status.strip(),
        },
    )

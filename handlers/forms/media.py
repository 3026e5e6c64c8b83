"""`GET /media/forms/{token}.jpg`: the small preview of a photo a citizen sent with a form, for the
confirmation card's thumbnails (LINE's servers and the citizen's phone fetch it without cookies).

The token (192 random bits) is known only to the citizen's chat, and the preview is served for
PREVIEW_HOURS after the photo arrived, no longer: staff see photos in the admin, behind sign-in.
A photo not fetched from LINE yet is fetched now (the photo job would, a little later); one refused
(not an image, too large) is 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from bot import clock
from bot.line_client import LineClient
from handlers.forms import jobs
from handlers.forms import service as forms_service
from handlers.forms.models import PhotoStatus

router = APIRouter()
PREVIEW_HOURS = 24
CACHE_CONTROL = "private, max-age=3600"


def _load(request: Request, token: str) -> tuple[str, bytes | None] | None:
    """(status, preview) of a live photo, or None."""
    with request.app.state.db.session() as db_session:
        photo = forms_service.get_photo(db_session=db_session, token=token)
        if photo is None or photo.received_at < clock.now() - timedelta(hours=PREVIEW_HOURS):
            return None
        preview = forms_service.photo_bytes(photo, request.app.state.settings, thumbnail=True)
        return photo.status, preview


@router.get("/media/forms/{token}.jpg", include_in_schema=False)
async def photo_preview(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    found = await run_in_threadpool(_load, request, token)
    if found is not None and found[0] == PhotoStatus.PENDING:
        client: LineClient = request.app.state.line_client
        await jobs.fetch_one(db=request.app.state.db, settings=request.app.state.settings, client=client, token=token)
        found = await run_in_threadpool(_load, request, token)
    if found is None or found[1] is None:
        raise HTTPException(status_code=404)
    return Response(
        found[1], media_type="image/jpeg", headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    )

"""`GET /media/broadcasts/{token}` and `/media/broadcasts/preview/{token}`: a broadcast's image as
LINE's servers and citizens' phones fetch it, without cookies. The token is 192 random bits; an
unknown one is 404. An image never changes, so it is cached for a day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from handlers.broadcasts.service import images

router = APIRouter()
CACHE_CONTROL = "public, max-age=86400, immutable"


def _load(request: Request, token: str, preview: bool) -> tuple[bytes, str] | None:
    with request.app.state.db.session() as db_session:
        row = images.get(db_session=db_session, token=token)
        if row is None:
            return None
        return (row.preview, "image/jpeg") if preview else (row.data, row.content_type)


async def _serve(request: Request, token: str, preview: bool) -> Response:
    found = await run_in_threadpool(_load, request, token, preview)
    if found is None:
        raise HTTPException(status_code=404)
    body, media_type = found
    return Response(
        body, media_type=media_type, headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    )


@router.get("/media/broadcasts/preview/{token}", include_in_schema=False)
async def preview_image(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    return await _serve(request, token, preview=True)


@router.get("/media/broadcasts/{token}", include_in_schema=False)
async def original_image(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    return await _serve(request, token, preview=False)

"""`GET /media/qr/{token}.png?size=original|preview`: the QR code LINE shows the citizen, for every
capability that hands out QR codes (counter bookings, class signups): each declares `qr_tokens`, which
says whether a token digest is one of its live tokens.

Public by necessity (LINE's servers and the citizen's phone fetch it without our cookies): the
token in the path is the secret the citizen already holds (160 random bits), so knowing the URL
is knowing the booking. Unknown, cancelled or purged tokens are 404. The image of a token never
changes, so it is cached for a day, privately (shared caches must not keep someone's QR).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from bot import qr
from bot.capability import Capabilities

router = APIRouter()
CACHE_CONTROL = "private, max-age=86400, immutable"


def _known(request: Request, token: str) -> bool:
    capabilities: Capabilities = request.app.state.capabilities
    digest = qr.token_hash(token)
    with request.app.state.db.session() as db_session:
        return any(c.qr_tokens is not None and c.qr_tokens(db_session, digest) for c in capabilities)


@router.get("/media/qr/{token}.png", include_in_schema=False)
async def qr_image(
    request: Request,
    token: Annotated[str, Path(max_length=64)],
    size: Annotated[Literal["original", "preview"], Query()] = "original",
) -> Response:
    normalised = qr.normalise_token(token)
    if normalised is None or normalised != token or not await run_in_threadpool(_known, request, token):
        raise HTTPException(status_code=404)
    tag = qr.etag(token, size)
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": tag, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    body = await run_in_threadpool(qr.png, token, size)
    return Response(body, media_type="image/png", headers=headers)

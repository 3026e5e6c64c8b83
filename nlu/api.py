"""`POST /api/v1/nlu/parse`: what the bot understands of a text, in Rasa's parse format.

The router carries no guard of its own: it is mounted under /api/v1 by the admin app, whose
staff-token guard and roles cover every route there (see handlers/faq/api.py, which includes it).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from nlu.engine import parse
from nlu.result import ParseResult

MAX_TEXT = 5000

router = APIRouter()


class ParseRequest(BaseModel):
    text: str = Field(max_length=MAX_TEXT, description="市民のメッセージ（最大5000文字）")
    reference_time: datetime | None = Field(
        default=None, description="「明日」などを解決する基準日時（ISO 8601、省略時は現在・日本時間）"
    )


@router.post(
    "/nlu/parse",
    response_model=ParseResult,
    summary="文章の意図と固有表現（Rasaのparse形式）",
    openapi_extra={"x-read-only": True},  # changes nothing: viewers may ask (admin.auth.is_read_only)
)
def parse_text(body: ParseRequest) -> ParseResult:
    return parse(body.text, body.reference_time)

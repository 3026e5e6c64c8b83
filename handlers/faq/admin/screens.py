"""The FAQ's section of the admin (よくある質問) and its dashboard panel: what capability.py declares."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor, StaffRole
from admin.nav import DashboardPanel, Section, staff_roles
from handlers.faq import api
from handlers.faq import service as faq_service
from handlers.faq.admin import entries, feedback, unanswered
from handlers.faq.admin.shared import BASE, PACKAGE

STATIC_DIR = PACKAGE / "static"
STATIC_FILES = {"faq.css"}

router = APIRouter()


@router.get("/faq/static/{name}", include_in_schema=False)
def faq_static(name: str) -> Response:
    """The pages' styles (a file of the section's own: the admin's policy allows no inline styles)."""
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404)
    return FileResponse(STATIC_DIR / name, media_type="text/css", headers={"Cache-Control": "private, max-age=3600"})


for pages in (unanswered.router, feedback.router, entries.router):
    router.include_router(pages)


def _question_of(db_session: Session, faq_id: str) -> str | None:
    entry = faq_service.get(db_session=db_session, faq_id=faq_id)
    return f"「{entry.question}」" if entry else None


# How the audit log reads the FAQ's entries: 「よくある質問 「…？」」 with its page; an unanswered
# question by its number only (what the citizen typed stays out of the log).
audit.describe_target("faq", "よくある質問", link=BASE + "/entries/{id}", name_of=_question_of)
audit.describe_target("faq_unanswered", "未回答の質問", link=BASE + "/unanswered/{id}")
for key, label in {
    "category": "分類",
    "question": "質問",
    "alt_questions": "言い換え",
    "answer": "回答",
    "tags": "タグ",
    "url": "公式ページ",
    "updated_at": "更新",
}.items():
    audit.describe_field(key, label)


def unanswered_panel(db_session: Session, actor: Actor) -> dict[str, Any]:
    """Counts only (no texts: every role sees the panel). The template shows `figures` as they come,
    so another capability's panel can use it too."""
    counts = faq_service.count_unanswered(db_session=db_session)
    return {
        "figures": [
            {
                "id": "faq-unanswered-open",
                "label": "未回答",
                "value": counts.open,
                "unit": "件",
                "alert": counts.open > 0,
            },
            {"id": "faq-unanswered-asked", "label": "聞かれた回数", "value": counts.asked["open"], "unit": "回"},
        ],
        "links": [(f"{BASE}/unanswered", "未回答の質問を見る"), (f"{BASE}/feedback", "回答の評価")],
    }


ROLES = staff_roles(StaffRole.COUNTER, StaffRole.BROADCASTER, StaffRole.VIEWER)

SCREENS = (
    Section(
        "faq",
        "よくある質問",
        "/faq",
        ROLES,
        router=router,
        api_router=api.router,
        order=30,
        description="LINEで答える「よくある質問」の登録・編集と、答えられなかった質問への対応、回答の評価の確認ができます。",
        templates=PACKAGE / "templates",
    ),
    DashboardPanel(
        "unanswered_questions",
        "未回答の質問",
        roles=ROLES,
        template="faq/panel.html",
        load=unanswered_panel,
        order=60,
    ),
)

"""What the FAQ's pages share: addresses, the entry or question a path names, form parsing."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request

from admin.auth import DbSession, require_role
from admin.models import Actor, StaffRole
from handlers.faq import service as faq_service
from handlers.faq.models import FAQ_ID_PATTERN, FaqEntry, UnansweredQuestion

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/faq"
MAX_ID = 2**31 - 1
# Writing, and reading what citizens typed: counter staff and admins.
counter_only = [Depends(require_role(StaffRole.COUNTER))]
MAX_FIELD = 5000


def can_edit(actor: Actor) -> bool:
    return actor.role in (StaffRole.ADMIN, StaffRole.COUNTER)


def current_entry(db_session: DbSession, faq_id: Annotated[str, Path(pattern=FAQ_ID_PATTERN)]) -> FaqEntry:
    entry = faq_service.get(db_session=db_session, faq_id=faq_id)
    if entry is None:
        raise HTTPException(status_code=404, detail="そのよくある質問は見つかりません。")
    return entry


def current_question(db_session: DbSession, question_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> UnansweredQuestion:
    question = faq_service.get_unanswered(db_session=db_session, question_id=question_id)
    if question is None:
        raise HTTPException(
            status_code=404, detail="その質問は見つかりません（保存期間を過ぎて削除された可能性があります）。"
        )
    return question


CurrentEntry = Annotated[FaqEntry, Depends(current_entry)]
CurrentQuestion = Annotated[UnansweredQuestion, Depends(current_question)]


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's text fields (the first value of each, capped)."""
    form = await request.form()
    return {key: value[:MAX_FIELD] for key, value in form.items() if isinstance(value, str)}


def lines(value: str) -> list[str]:
    """One item a line (alternative questions)."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def words(value: str) -> list[str]:
    """Tags: one a line, or separated by 、 or commas."""
    for separator in ("、", ",", "，"):
        value = value.replace(separator, "\n")
    return lines(value)


def entry_values(form: dict[str, str]) -> dict[str, Any]:
    """The entry form's fields as FaqEntryCreate/Update values."""
    return {
        "category": form.get("category", ""),
        "question": form.get("question", ""),
        "alt_questions": lines(form.get("alt_questions", "")),
        "answer": form.get("answer", ""),
        "tags": words(form.get("tags", "")),
        "url": form.get("url", "").strip(),
    }


FIELD_PROBLEMS = {
    "id": "IDは半角英小文字・数字・「_」「-」で、64文字までにしてください（空欄なら自動で付けます）。",
    "question": "質問を入力してください（500文字まで）。",
    "answer": "回答を入力してください（4000文字まで）。",
    "url": "公式ページは https:// で始まるアドレスにしてください（500文字まで）。",
    "category": "分類は100文字までにしてください。",
    "alt_questions": "言い換えは1行に1つ、50個まで・各500文字までにしてください。",
    "tags": "タグは50個まで・各100文字までにしてください。",
}


def problems(errors: list[Any]) -> list[str]:
    """A pydantic ValidationError's errors as sentences staff can act on (one per field)."""
    found: list[str] = []
    for error in errors:
        field = str(error.get("loc", ("",))[0])
        text = FIELD_PROBLEMS.get(field, "入力内容が正しくありません。")
        if text not in found:
            found.append(text)
    return found

"""The forms' pushes: a case's status changed (with the staff's message), and the approved answer to a
市長への手紙. Written to the outbox in the caller's transaction, so a push goes out exactly when the
change it tells of commits. Anonymous letters are never pushed to: nobody is to know who wrote them.
Staff replies go through the staff inbox's thread (handlers/handoff), not from here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot import outbox as outbox_service
from bot.catalog import t
from bot.messages import clip, postback_item, text, to_json
from handlers.forms.models import Submission

# A push's text holds 5,000 characters; the message part is cut well before (a phone screen).
MAX_MESSAGE = 1000


def status_changed(*, db_session: Session, submission: Submission, title: str, message: str | None, seq: int) -> bool:
    if submission.anonymous:
        return False
    body = t("forms.status_changed", receipt=submission.receipt_no, title=title, status=submission.status)
    if message:
        body += "\n\n" + t("forms.status_message", message=clip(message, MAX_MESSAGE))
    item = postback_item(t("forms.mine_button"), "form_mine")
    outbox_service.enqueue_push(
        db_session=db_session,
        to=submission.line_user_id,
        messages=to_json([text(body, [item])]),
        purpose=f"form_status:{submission.id}:{seq}",
    )
    return True


def letter_answered(*, db_session: Session, submission: Submission, answer: str) -> bool:
    if submission.anonymous:
        return False
    body = t("forms.letter_answer", receipt=submission.receipt_no, answer=clip(answer, 4000))
    outbox_service.enqueue_push(
        db_session=db_session,
        to=submission.line_user_id,
        messages=to_json([text(body)]),
        purpose=f"form_letter_answer:{submission.id}",
    )
    return True

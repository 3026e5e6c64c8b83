"""Staff actions on the FAQ, one function each: the rule (service) and the audit record, written once
here and called by both the admin pages (admin/) and /api/v1 (api.py). Neither writes the audit log
itself. The retrieval index follows every change by itself (service.get_index): no restart.

What the audit log keeps: who, when, what, and the entry before and after (FaqEntryRead: what staff
wrote). What a citizen typed goes into it only as far as staff made it part of an entry; a dismissed
question is recorded by its id and count, never its text. A refused action raises the service's
error and records nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from handlers.faq import service as faq_service
from handlers.faq.models import (
    FaqEntry,
    FaqEntryCreate,
    FaqEntryRead,
    FaqEntryUpdate,
    UnansweredQuestion,
)

ACTION_LABELS = {
    "faq.create": "よくある質問を追加",
    "faq.update": "よくある質問を編集",
    "faq.deactivate": "よくある質問を停止",
    "faq.reactivate": "よくある質問を再開",
    "faq.unanswered.new_entry": "未回答の質問から質問を追加",
    "faq.unanswered.alternative": "未回答の質問を言い換えとして追加",
    "faq.unanswered.dismiss": "未回答の質問を対象外に",
    "faq.unanswered.reopen": "未回答の質問を未回答に戻す",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)


def _record(
    db_session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int,
    *,
    before: FaqEntryRead | None = None,
    after: FaqEntryRead | None = None,
    summary: str | None = None,
) -> None:
    audit.record(
        db_session=db_session,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        summary=summary,
    )


# Entries ------------------------------------------------------------------------------------------


def create_entry(*, db_session: Session, faq_in: FaqEntryCreate, actor: Actor) -> FaqEntry:
    """A new entry, answered from the next question on. Raises FaqExists for a taken id."""
    entry = faq_service.create(db_session=db_session, faq_in=faq_in)
    _record(db_session, actor, "faq.create", "faq", entry.id, after=FaqEntryRead.model_validate(entry))
    return entry


def update_entry(*, db_session: Session, faq_entry: FaqEntry, faq_in: FaqEntryUpdate, actor: Actor) -> FaqEntry:
    """Changes what staff changed; the answer citizens get follows at once."""
    before = FaqEntryRead.model_validate(faq_entry)
    entry = faq_service.update(db_session=db_session, faq_entry=faq_entry, faq_in=faq_in)
    after = FaqEntryRead.model_validate(entry)
    if before.model_dump(exclude={"updated_at"}) != after.model_dump(exclude={"updated_at"}):
        _record(db_session, actor, "faq.update", "faq", entry.id, before=before, after=after)
    return entry


def deactivate_entry(*, db_session: Session, faq_entry: FaqEntry, actor: Actor) -> FaqEntry:
    """Stops answering with the entry (kept, with its feedback, and can be started again)."""
    before = FaqEntryRead.model_validate(faq_entry)
    entry = faq_service.deactivate(db_session=db_session, faq_entry=faq_entry)
    _record(
        db_session, actor, "faq.deactivate", "faq", entry.id, before=before, after=FaqEntryRead.model_validate(entry)
    )
    return entry


def reactivate_entry(*, db_session: Session, faq_entry: FaqEntry, actor: Actor) -> FaqEntry:
    before = FaqEntryRead.model_validate(faq_entry)
    entry = faq_service.reactivate(db_session=db_session, faq_entry=faq_entry)
    _record(
        db_session, actor, "faq.reactivate", "faq", entry.id, before=before, after=FaqEntryRead.model_validate(entry)
    )
    return entry


# Unanswered questions -----------------------------------------------------------------------------


def new_entry_from_question(
    *, db_session: Session, question: UnansweredQuestion, faq_in: FaqEntryCreate, actor: Actor
) -> FaqEntry:
    """One step: the question becomes a new entry and is marked handled.

    Raises FaqExists (id taken) or AlreadyHandled (someone was first), and then changes nothing."""
    if faq_in.id is not None and faq_service.get(db_session=db_session, faq_id=faq_in.id) is not None:
        raise faq_service.FaqExists(faq_in.id)
    faq_in = faq_in.model_copy(update={"id": faq_in.id or faq_service.new_id(db_session=db_session)})
    assert faq_in.id is not None
    # Marked first: when someone else was quicker, nothing is created.
    faq_service.resolve_unanswered(db_session=db_session, question=question, faq_id=faq_in.id)
    entry = faq_service.create(db_session=db_session, faq_in=faq_in)
    _record(
        db_session,
        actor,
        "faq.unanswered.new_entry",
        "faq",
        entry.id,
        after=FaqEntryRead.model_validate(entry),
        summary=f"未回答の質問 #{question.id}（{question.count}回）から追加",
    )
    return entry


def add_question_as_alternative(
    *, db_session: Session, question: UnansweredQuestion, faq_entry: FaqEntry, text: str, actor: Actor
) -> FaqEntry:
    """One step: `text` (the citizen's wording, perhaps tidied by staff) becomes another wording of
    the entry, and the question is marked handled. Raises TooManyWordings or AlreadyHandled."""
    if len(faq_entry.alt_questions or ()) >= faq_service.MAX_ALT_QUESTIONS:
        raise faq_service.TooManyWordings(faq_entry.id)
    before = FaqEntryRead.model_validate(faq_entry)
    faq_service.resolve_unanswered(db_session=db_session, question=question, faq_id=faq_entry.id)
    entry = faq_service.add_alternative(db_session=db_session, faq_entry=faq_entry, text=text)
    _record(
        db_session,
        actor,
        "faq.unanswered.alternative",
        "faq",
        entry.id,
        before=before,
        after=FaqEntryRead.model_validate(entry),
        summary=f"未回答の質問 #{question.id}（{question.count}回）を言い換えとして追加",
    )
    return entry


def dismiss_question(*, db_session: Session, question: UnansweredQuestion, actor: Actor) -> UnansweredQuestion:
    """Out of scope. The audit log keeps its id and count, not what the citizen typed."""
    faq_service.dismiss_unanswered(db_session=db_session, question=question)
    _record(
        db_session,
        actor,
        "faq.unanswered.dismiss",
        "faq_unanswered",
        question.id,
        summary=f"未回答の質問 #{question.id}（{question.count}回）を対象外にしました",
    )
    return question


def reopen_question(*, db_session: Session, question: UnansweredQuestion, actor: Actor) -> UnansweredQuestion:
    """A dismissal undone: back to 未回答."""
    faq_service.reopen_unanswered(db_session=db_session, question=question)
    _record(
        db_session,
        actor,
        "faq.unanswered.reopen",
        "faq_unanswered",
        question.id,
        summary=f"未回答の質問 #{question.id} を未回答に戻しました",
    )
    return question

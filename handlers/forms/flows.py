"""Staff actions on cases, one function each: the rule (service), the push to the citizen (notify.py,
or the staff inbox's thread for replies) and the audit record, in one transaction. The admin pages and
/api/v1 call these. The audit log keeps who did what to which case, never what was written."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor, StaffRole
from bot.settings import Settings
from handlers.forms import notify
from handlers.forms import service as forms_service
from handlers.forms.definition import FormDefinition
from handlers.forms.models import CaseEventKind, Form, Submission
from handlers.handoff import flows as handoff_flows
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffRequest, HandoffRequestCreate, HandoffSource

ACTION_LABELS = {
    "forms.publish": "申請・通報の様式を公開",
    "forms.active": "申請・通報の受付を開始・停止",
    "forms.status": "申請・通報の状態を変更",
    "forms.reply": "申請・通報に返信",
    "forms.note": "申請・通報にメモ",
    "forms.route": "申請・通報を担当課へ回付",
    "forms.draft": "市長への手紙の回答案を作成",
    "forms.answer": "市長への手紙の回答を修正",
    "forms.approve": "市長への手紙の回答を承認・送信",
    "forms.departments": "職員の所属課を変更",
}
for code, label in ACTION_LABELS.items():
    audit.describe_action(code, label)


def _record(db_session: Session, actor: Actor, action: str, submission: Submission, summary: str | None = None) -> None:
    audit.record(
        db_session=db_session,
        actor=actor,
        action=action,
        target_type="form_submission",
        target_id=submission.id,
        summary=summary,
    )


def visible_to(db_session: Session, actor: Actor) -> frozenset[str] | None:
    return forms_service.visible_departments(
        db_session=db_session, staff_user_id=actor.id, is_admin=actor.role == StaffRole.ADMIN
    )


def change_status(
    *,
    db_session: Session,
    settings: Settings,
    submission: Submission,
    definition: FormDefinition,
    status: str,
    message: str | None,
    actor: Actor,
) -> bool:
    """Moves the case along its workflow and tells the citizen (with the staff's message); answers
    whether they were told (never for an anonymous letter)."""
    before = submission.status
    forms_service.set_status(db_session=db_session, submission=submission, definition=definition, status=status)
    event = forms_service.add_event(
        db_session=db_session,
        submission=submission,
        kind=CaseEventKind.STATUS,
        actor=actor.name,
        settings=settings,
        text=message or None,
        status=status,
    )
    told = notify.status_changed(
        db_session=db_session, submission=submission, title=definition.title, message=message, seq=event.id
    )
    _record(db_session, actor, "forms.status", submission, f"{before} → {status}")
    return told


def thread_of(*, db_session: Session, submission: Submission, definition: FormDefinition) -> HandoffRequest:
    """The staff inbox thread the case's messages live in: the citizen's open thread if they have one
    (one open thread per citizen), else a new one that says which case it is about."""
    thread = (
        None
        if submission.thread_id is None
        else handoff_service.get(db_session=db_session, handoff_request_id=submission.thread_id)
    )
    if thread is not None and thread.status != "done":
        return thread
    thread, _ = handoff_service.request_person(
        db_session=db_session,
        handoff_in=HandoffRequestCreate(
            line_user_id=submission.line_user_id,
            message=f"受付番号 {submission.receipt_no}（{definition.title}）",
            source=HandoffSource.FORM,
        ),
        office_open=True,
    )
    submission.thread_id = thread.id
    return thread


def reply(
    *,
    db_session: Session,
    settings: Settings,
    submission: Submission,
    definition: FormDefinition,
    text: str,
    actor: Actor,
) -> int:
    """Sends the staff's words to the citizen through the staff inbox's thread (its push, its quiet
    wait for the citizen's answer, which lands in the same thread); answers the thread's id."""
    if submission.anonymous:
        raise forms_service.FormError("匿名の手紙には返信できません。")
    thread = thread_of(db_session=db_session, submission=submission, definition=definition)
    body = f"【受付番号 {submission.receipt_no}】\n{text}"
    handoff_flows.reply(db_session=db_session, request=thread, body=body, actor=actor, settings=settings)
    forms_service.add_event(
        db_session=db_session,
        submission=submission,
        kind=CaseEventKind.REPLY,
        actor=actor.name,
        settings=settings,
        text=text,
    )
    _record(db_session, actor, "forms.reply", submission)
    return thread.id


def add_note(*, db_session: Session, settings: Settings, submission: Submission, text: str, actor: Actor) -> None:
    forms_service.add_event(
        db_session=db_session,
        submission=submission,
        kind=CaseEventKind.NOTE,
        actor=actor.name,
        settings=settings,
        text=text,
    )
    _record(db_session, actor, "forms.note", submission)


def route(
    *,
    db_session: Session,
    settings: Settings,
    submission: Submission,
    definition: FormDefinition,
    departments: Sequence[str],
    actor: Actor,
) -> list[str]:
    """A letter goes to one or more departments for draft answers (each with the form's deadline);
    any other case is handed to one department (the first named)."""
    if forms_service.is_letter(definition):
        added = forms_service.route(
            db_session=db_session,
            submission=submission,
            departments=departments,
            due_days=definition.due_days // 2 or 0,
        )
    else:
        target = next((d.strip() for d in departments if d.strip()), "")
        if not target:
            raise forms_service.FormError("回付先の課を選んでください。")
        submission.department = target[:64]
        added = [target]
    for department in added:
        forms_service.add_event(
            db_session=db_session,
            submission=submission,
            kind=CaseEventKind.ROUTED,
            actor=actor.name,
            settings=settings,
            department=department,
        )
    _record(db_session, actor, "forms.route", submission, "、".join(added) or None)
    return added


def save_draft(
    *, db_session: Session, settings: Settings, submission: Submission, department: str, text: str, actor: Actor
) -> None:
    forms_service.save_draft(
        db_session=db_session, settings=settings, submission=submission, department=department, text=text, by=actor.name
    )
    forms_service.add_event(
        db_session=db_session,
        submission=submission,
        kind=CaseEventKind.DRAFT,
        actor=actor.name,
        settings=settings,
        text=text,
        department=department,
    )
    _record(db_session, actor, "forms.draft", submission, department)


def save_answer(*, db_session: Session, settings: Settings, submission: Submission, text: str, actor: Actor) -> None:
    """秘書広報課 revises the answer (from the departments' drafts)."""
    forms_service.save_answer(db_session=db_session, settings=settings, submission=submission, text=text, by=actor.name)
    forms_service.add_event(
        db_session=db_session,
        submission=submission,
        kind=CaseEventKind.REVISED,
        actor=actor.name,
        settings=settings,
        text=text,
    )
    _record(db_session, actor, "forms.answer", submission)


def approve(
    *, db_session: Session, settings: Settings, submission: Submission, definition: FormDefinition, actor: Actor
) -> bool:
    """A second person approves the answer: it is pushed to the citizen and the case is closed.
    Answers whether the citizen was told (an anonymous letter: nobody to tell)."""
    forms_service.approve(db_session=db_session, submission=submission, by=actor.name)
    answer = forms_service.answer_of(submission, settings) or ""
    forms_service.add_event(
        db_session=db_session, submission=submission, kind=CaseEventKind.APPROVED, actor=actor.name, settings=settings
    )
    told = notify.letter_answered(db_session=db_session, submission=submission, answer=answer)
    if told:
        forms_service.add_event(
            db_session=db_session,
            submission=submission,
            kind=CaseEventKind.ANSWER_SENT,
            actor=actor.name,
            settings=settings,
        )
    forms_service.set_status(
        db_session=db_session, submission=submission, definition=definition, status=definition.last_status
    )
    forms_service.add_event(
        db_session=db_session,
        submission=submission,
        kind=CaseEventKind.STATUS,
        actor=actor.name,
        settings=settings,
        status=definition.last_status,
    )
    _record(db_session, actor, "forms.approve", submission)
    return told


def publish(*, db_session: Session, key: str, definition: FormDefinition, actor: Actor) -> int:
    form, version = forms_service.publish(db_session=db_session, key=key, definition=definition, by=actor.name)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="forms.publish",
        target_type="form",
        target_id=form.id,
        summary=f"{key} 第{version.number}版",
    )
    return version.number


def set_active(*, db_session: Session, form: Form, active: bool, actor: Actor) -> None:
    """Stops or resumes taking a form in chat (conversations in progress may still finish it)."""
    forms_service.set_active(db_session=db_session, form=form, active=active)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="forms.active",
        target_type="form",
        target_id=form.id,
        summary=f"{form.key} {'受付再開' if active else '受付停止'}",
    )


def set_departments(*, db_session: Session, staff_user_id: int, departments: Sequence[str], actor: Actor) -> None:
    forms_service.set_departments(db_session=db_session, staff_user_id=staff_user_id, departments=departments)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="forms.departments",
        target_type="staff_user",
        target_id=staff_user_id,
        summary="、".join(departments) or None,
    )

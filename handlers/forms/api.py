"""Staff API for 申請・通報 under /api/v1 (Bearer token): the forms, a form's cases (filtered, paged,
and as CSV or XLSX for Excel), one case with its trail, and the staff actions on a case: its status
(the citizen is told by push), a reply (through the staff inbox's thread), routing, and a letter's
drafts, answer and approval. Every action is flows.py's: the rule, the push and the audit record.

`router` has no guard of its own: the admin app mounts it behind its token guard and the forms
section's roles (handlers/forms/admin). Actions and exports are for counter staff (and admins);
the answers, the place's name, photos and what was written on a case (messages, notes, drafts) are
personal data, shown only to the roles that see it. A member of departments sees only their
departments' cases (flows.visible_to): any other case is not found (404), as an id that does not
exist, or one out of range (beyond 32 bits, zero, negative).

Refusals: a status not in the form's workflow is 422; what the case's state does not allow (a reply
to an anonymous letter, a draft for a department the letter was not routed to, approving an answer
not written yet or already approved) is 409; approving the answer one wrote oneself is 403.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from admin.auth import CurrentStaff, DbSession, Forbidden, require_role
from admin.models import Actor
from bot import clock
from bot.settings import Settings
from bot.validation import PlainStr, printable
from handlers.forms import answers as form_answers
from handlers.forms import export, flows
from handlers.forms import service as forms_service
from handlers.forms.definition import KEY_PATTERN, FormDefinition, FormKind, Kind
from handlers.forms.models import MAX_ID, CaseEventKind, Form, FormVersion, Photo, PhotoStatus, Submission

router = APIRouter(tags=["forms"])
counter_only = [Depends(require_role("counter"))]
# The case page's photo route (handlers/forms/admin: shared.photo_url; not imported, the admin package
# imports this module to mount it).
PHOTO_PATH = "/admin/forms/cases/{submission_id}/photos/{token}"
MAX_PAGE = 500
MAX_TEXT = 2000  # a reply or a status message: what a LINE push shows on a phone, with room
MAX_LETTER = 4000  # a letter's draft or answer (the push clips at 4,000)
# Days a filter may name: what a UTC timestamp can hold either side (date.max + 1 day overflows).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
CHUNK = 64 * 1024

NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"description": "見つからない（見られない課の案件も）"}}
ACTION_ERRORS: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    409: {"description": "案件の状態ではできない（匿名の手紙への返信、回付されていない課の回答案など）"},
    422: {"description": "入力が正しくない（様式の状態にない状態など）"},
}
APPROVE_ERRORS: dict[int | str, dict[str, object]] = {
    **ACTION_ERRORS,
    403: {"description": "回答を書いた本人は承認できない"},
}


def _day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"a day from {FIRST_DAY} to {LAST_DAY}")
    return value


Day = Annotated[date, AfterValidator(_day)]
# Free text (bot.validation.PlainStr's check), its length checked after stripping: the constraints come
# first, as `Annotated[PlainStr, StringConstraints(...)]` lets "   " through as "".
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT), AfterValidator(printable)
]
LetterText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LETTER), AfterValidator(printable)
]
Department = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), AfterValidator(printable)
]
StatusName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), AfterValidator(printable)
]
Message = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT), AfterValidator(printable)]


# Schemas ------------------------------------------------------------------------------------------


class QuestionRead(BaseModel):
    key: str
    kind: Kind
    label: str = Field(description="列や一覧での短い名前")
    text: str = Field(description="市民への質問文")
    required: bool
    choices: list[str]


class FormRead(BaseModel):
    key: str
    title: str
    kind: FormKind
    version: int | None = Field(description="いま市民が始める版（null: 未公開）")
    active: bool
    sample: bool = Field(description="デモ用のサンプル様式")
    department: str
    workflow: list[str]
    questions: list[QuestionRead]


class AnswerRead(BaseModel):
    label: str
    value: str = Field(description="保存されている形（日付は YYYY-MM-DD など）")
    display: str = Field(description="確認カード・出力での表示")


class PlaceRead(BaseModel):
    name: str | None = Field(description="住所・大字（個人情報を見られる役割のみ）")
    lat: float | None
    lng: float | None


class CaseListItem(BaseModel):
    id: int
    receipt_no: str
    status: str
    department: str | None
    submitted_at: datetime
    due_at: datetime | None
    overdue: bool
    version: int
    place: PlaceRead | None
    answers: dict[str, AnswerRead] | None = Field(description="質問キーごとの回答（個人情報を見られる役割のみ）")


class CasePage(BaseModel):
    items: list[CaseListItem]
    total: int
    limit: int
    offset: int


class PhotoRead(BaseModel):
    question: str
    status: PhotoStatus
    url: str | None = Field(description="画像（管理画面にログイン中に開けるURL。取得前・拒否は null）")


class EventRead(BaseModel):
    kind: CaseEventKind
    at: datetime
    actor: str
    status: str | None
    department: str | None
    text: str | None = Field(description="市民へのメッセージ・メモ・回答案（個人情報を見られる役割のみ）")


class RouteRead(BaseModel):
    department: str
    routed_at: datetime
    due_at: datetime | None
    drafted: bool
    drafted_by: str | None
    drafted_at: datetime | None
    draft: str | None = Field(description="回答案（個人情報を見られる役割のみ）")


class CaseRead(BaseModel):
    id: int
    receipt_no: str
    form_key: str
    form_title: str
    form_kind: FormKind
    version: int
    status: str
    workflow: list[str]
    department: str | None
    anonymous: bool
    submitted_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    overdue: bool
    answers: dict[str, AnswerRead] | None = Field(description="質問キーごとの回答（個人情報を見られる役割のみ）")
    photo_count: int
    photos: list[PhotoRead] = Field(description="写真（個人情報を見られる役割のみ）")
    place: PlaceRead | None
    events: list[EventRead]
    thread_id: int | None = Field(description="市民とのやりとりの職員対応スレッド（/api/v1/inbox/{id}）")
    routes: list[RouteRead] = Field(description="市長への手紙: 回付先の課と回答案")
    answer: str | None = Field(description="市長への手紙: 秘書広報課の回答（個人情報を見られる役割のみ）")
    answer_by: str | None
    approved_by: str | None
    approved_at: datetime | None


class StatusIn(BaseModel):
    status: StatusName
    message: Message = Field(default="", description="市民への一言（状態の知らせに添える）")


class StatusChangedRead(BaseModel):
    id: int
    status: str
    closed_at: datetime | None
    notified: bool = Field(description="市民にLINEで知らせた（匿名の手紙には知らせない）")


class ReplyIn(BaseModel):
    text: Text


class ReplySentRead(BaseModel):
    id: int
    thread_id: int = Field(description="職員対応スレッド（市民の返事もここに届く）")


class RouteIn(BaseModel):
    departments: list[Department] = Field(min_length=1, max_length=10)


class RoutedRead(BaseModel):
    id: int
    added: list[str] = Field(description="新しく回付した課")
    department: str | None
    routes: list[str]


class DraftIn(BaseModel):
    department: Department
    text: LetterText


class AnswerIn(BaseModel):
    text: LetterText


class LetterRead(BaseModel):
    id: int
    status: str
    answer_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    notified: bool = Field(default=False, description="承認: 回答を市民にLINEで送った")


# Loading ------------------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def current_form(db_session: DbSession, key: str) -> Form:
    form = forms_service.get_form(db_session=db_session, key=key) if re.fullmatch(KEY_PATTERN, key) else None
    if form is None:
        raise HTTPException(status_code=404, detail="その様式は見つかりません。")
    return form


def current_case(db_session: DbSession, actor: CurrentStaff, submission_id: int) -> Submission:
    """The case the path names, if the caller's departments may see it (else, as if it did not exist, 404)."""
    submission = (
        forms_service.get_submission(db_session=db_session, submission_id=submission_id)
        if 1 <= submission_id <= MAX_ID
        else None
    )
    if submission is None or not forms_service.may_see(
        db_session=db_session, submission=submission, visible=flows.visible_to(db_session, actor)
    ):
        raise HTTPException(status_code=404, detail="その申請・通報は見つかりません。")
    return submission


CurrentForm = Annotated[Form, Depends(current_form)]
CurrentCase = Annotated[Submission, Depends(current_case)]


def _version(db_session: Session, submission: Submission) -> FormVersion:
    version = forms_service.get_version(db_session=db_session, version_id=submission.version_id)
    assert version is not None  # a case's version goes only with its form (ON DELETE CASCADE)
    return version


def _answers(submission: Submission, definition: FormDefinition, settings: Settings) -> dict[str, AnswerRead]:
    """The answers in the form's order (an answer to a question the version lacks keeps its key)."""
    stored = forms_service.answers_of(submission, settings)
    read: dict[str, AnswerRead] = {}
    for question in definition.questions:
        if question.key in stored:
            value = stored[question.key]
            read[question.key] = AnswerRead(
                label=question.name, value=value, display=form_answers.display(question, value)
            )
    for key, value in stored.items():
        read.setdefault(key, AnswerRead(label=key, value=value, display=value))
    return read


def _place(submission: Submission, personal: bool) -> PlaceRead | None:
    if submission.place_name is None and submission.place_lat is None:
        return None
    return PlaceRead(
        name=submission.place_name if personal else None, lat=submission.place_lat, lng=submission.place_lng
    )


def _photo_url(request: Request, photo: Photo) -> str | None:
    if photo.status != PhotoStatus.STORED:
        return None
    base = _settings(request).public_base_url or str(request.base_url)
    return base.rstrip("/") + PHOTO_PATH.format(submission_id=photo.submission_id, token=photo.token)


def _case_read(request: Request, actor: Actor, db_session: Session, submission: Submission) -> CaseRead:
    settings = _settings(request)
    personal = actor.sees_personal_data
    version = _version(db_session, submission)
    definition = forms_service.definition_of(version)
    form = db_session.get(Form, submission.form_id)
    photos = [
        p
        for p in forms_service.photos_of(db_session=db_session, submission=submission)
        if p.status != PhotoStatus.REFUSED
    ]
    return CaseRead(
        id=submission.id,
        receipt_no=submission.receipt_no,
        form_key=form.key if form is not None else "",
        form_title=definition.title,
        form_kind=definition.kind,
        version=version.number,
        status=submission.status,
        workflow=list(definition.workflow),
        department=submission.department,
        anonymous=submission.anonymous,
        submitted_at=submission.submitted_at,
        due_at=submission.due_at,
        closed_at=submission.closed_at,
        overdue=forms_service.is_overdue(submission, clock.now()),
        answers=_answers(submission, definition, settings) if personal else None,
        photo_count=len(photos),
        photos=[PhotoRead(question=p.question, status=p.status, url=_photo_url(request, p)) for p in photos]
        if personal
        else [],
        place=_place(submission, personal),
        events=[
            EventRead(
                kind=e.kind,
                at=e.at,
                actor=e.actor,
                status=e.status,
                department=e.department,
                text=forms_service.event_text(e, settings) if personal else None,
            )
            for e in forms_service.events_of(db_session=db_session, submission=submission)
        ],
        thread_id=submission.thread_id,
        routes=[
            RouteRead(
                department=r.department,
                routed_at=r.routed_at,
                due_at=r.due_at,
                drafted=r.draft_enc is not None,
                drafted_by=r.drafted_by,
                drafted_at=r.drafted_at,
                draft=forms_service.draft_of(r, settings) if personal else None,
            )
            for r in forms_service.routes_of(db_session=db_session, submission=submission)
        ],
        answer=forms_service.answer_of(submission, settings) if personal else None,
        answer_by=submission.answer_by,
        approved_by=submission.approved_by,
        approved_at=submission.approved_at,
    )


def _refused(exc: forms_service.FormError, status_code: int = 409) -> HTTPException:
    return HTTPException(status_code=status_code, detail=str(exc))


async def _wake_sender(request: Request) -> None:
    """After the commit (a background task): the push goes out now, not at the outbox's next poll."""
    processor = getattr(request.app.state, "processor", None)
    if processor is not None:
        processor.wake()


# Forms and their cases ----------------------------------------------------------------------------


@router.get("/forms", response_model=list[FormRead], summary="申請・通報の様式（いまの版の質問つき）")
def list_forms(db_session: DbSession) -> list[FormRead]:
    read = []
    for form in forms_service.all_forms(db_session=db_session):
        version = forms_service.current_version(db_session=db_session, form=form)
        if version is None:
            versions = forms_service.versions_of(db_session=db_session, form=form)
            version = versions[0] if versions else None
        if version is None:
            continue  # a form row with no version at all has nothing to show
        definition = forms_service.definition_of(version)
        read.append(
            FormRead(
                key=form.key,
                title=definition.title,
                kind=definition.kind,
                version=version.number if form.current_version_id == version.id else None,
                active=form.is_active,
                sample=form.is_sample,
                department=definition.department,
                workflow=list(definition.workflow),
                questions=[
                    QuestionRead(
                        key=q.key, kind=q.kind, label=q.name, text=q.text, required=q.required, choices=list(q.choices)
                    )
                    for q in definition.questions
                ],
            )
        )
    return read


def case_filter(
    db_session: DbSession,
    actor: CurrentStaff,
    form: CurrentForm,
    status: Annotated[PlainStr | None, Query(max_length=20, description="状態（例: 対応中）")] = None,
    department: Annotated[PlainStr | None, Query(max_length=64, description="担当課（回付先を含む）")] = None,
    since: Annotated[Day | None, Query(description="この日（日本時間）から受け付けたもの")] = None,
    until: Annotated[Day | None, Query(description="この日（日本時間）までに受け付けたもの")] = None,
    overdue: Annotated[bool, Query(description="期限を過ぎて完了していないものだけ")] = False,
) -> forms_service.CaseFilter:
    """The filters of the list and the exports, within the departments the caller may see."""
    return forms_service.CaseFilter(
        form_key=form.key,
        status=status.strip() or None if status else None,
        department=department.strip() or None if department else None,
        since=since,
        until=until,
        overdue=overdue,
        visible_departments=flows.visible_to(db_session, actor),
    )


CurrentFilter = Annotated[forms_service.CaseFilter, Depends(case_filter)]


@router.get(
    "/forms/{key}/submissions",
    response_model=CasePage,
    summary="様式の申請・通報（新しい順）",
    responses=NOT_FOUND,
)
def list_cases(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    filters: CurrentFilter,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CasePage:
    settings, personal, now = _settings(request), actor.sees_personal_data, clock.now()
    definitions: dict[int, FormDefinition] = {}
    items = []
    for submission, version in forms_service.cases(
        db_session=db_session, case_filter=filters, limit=limit, offset=offset
    ):
        if version.id not in definitions:
            definitions[version.id] = forms_service.definition_of(version)
        definition = definitions[version.id]
        items.append(
            CaseListItem(
                id=submission.id,
                receipt_no=submission.receipt_no,
                status=submission.status,
                department=submission.department,
                submitted_at=submission.submitted_at,
                due_at=submission.due_at,
                overdue=forms_service.is_overdue(submission, now),
                version=version.number,
                place=_place(submission, personal),
                answers=_answers(submission, definition, settings) if personal else None,
            )
        )
    return CasePage(
        items=items,
        total=forms_service.count_cases(db_session=db_session, case_filter=filters),
        limit=limit,
        offset=offset,
    )


def _download(write: Callable[[IO[bytes]], object], media_type: str, filename: str) -> StreamingResponse:
    """The export written to a temporary file first, then streamed from it: the request's transaction
    (on SQLite, the write lock) ends when the rows are read, not when a slow download ends, and an
    error while writing is a 500, never a file cut short. Memory stays flat either way."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the download ends, not here
    try:
        write(spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := spool.read(CHUNK):
                yield chunk
        finally:
            spool.close()

    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"},
        background=BackgroundTask(spool.close),  # also when the client went away mid-download
    )


def _export_name(form: Form, ext: str) -> str:
    return f"forms-{form.key}-{clock.now().astimezone(clock.TOKYO):%Y%m%d-%H%M}.{ext}"


@router.get(
    "/forms/{key}/export.csv",
    summary="様式の申請・通報をCSVで（Excel用: UTF-8 BOM付き、古い順）",
    response_class=StreamingResponse,
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "CSV"}},
    dependencies=counter_only,
)
def export_csv(request: Request, db_session: DbSession, form: CurrentForm, filters: CurrentFilter) -> Any:
    return _export(request, db_session, form, filters, "csv")


@router.get(
    "/forms/{key}/export.xlsx",
    summary="様式の申請・通報をExcel（XLSX）で（古い順）",
    response_class=StreamingResponse,
    responses={**NOT_FOUND, 200: {"content": {export.XLSX_MEDIA_TYPE: {}}, "description": "XLSX"}},
    dependencies=counter_only,
)
def export_xlsx(request: Request, db_session: DbSession, form: CurrentForm, filters: CurrentFilter) -> Any:
    return _export(request, db_session, form, filters, "xlsx")


def _export(request: Request, db_session: Session, form: Form, filters: forms_service.CaseFilter, ext: str) -> Any:
    settings = _settings(request)
    write = export.write_xlsx if ext == "xlsx" else export.write_csv
    return _download(
        lambda target: write(db_session=db_session, case_filter=filters, settings=settings, target=target),
        export.XLSX_MEDIA_TYPE if ext == "xlsx" else export.CSV_MEDIA_TYPE,
        _export_name(form, ext),
    )


@router.get(
    "/submissions/{submission_id}",
    response_model=CaseRead,
    summary="申請・通報の案件（回答・写真・場所・経過）",
    responses=NOT_FOUND,
)
def read_case(request: Request, actor: CurrentStaff, db_session: DbSession, submission: CurrentCase) -> CaseRead:
    return _case_read(request, actor, db_session, submission)


# Staff actions ----------------------------------------------------------------------------------


@router.post(
    "/submissions/{submission_id}/status",
    response_model=StatusChangedRead,
    summary="状態を変える（市民にLINEで知らせる）",
    responses=ACTION_ERRORS,
    dependencies=counter_only,
)
def change_status(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    body: StatusIn,
    background: BackgroundTasks,
) -> StatusChangedRead:
    definition = forms_service.definition_of(_version(db_session, submission))
    try:
        told = flows.change_status(
            db_session=db_session,
            settings=_settings(request),
            submission=submission,
            definition=definition,
            status=body.status,
            message=body.message or None,
            actor=actor,
        )
    except forms_service.FormError as exc:
        raise _refused(exc, 422) from None
    if told:
        background.add_task(_wake_sender, request)
    return StatusChangedRead(id=submission.id, status=submission.status, closed_at=submission.closed_at, notified=told)


@router.post(
    "/submissions/{submission_id}/reply",
    response_model=ReplySentRead,
    status_code=201,
    summary="市民に返信する（職員対応のスレッドからLINEで届く。匿名の手紙には 409）",
    responses=ACTION_ERRORS,
    dependencies=counter_only,
)
def reply(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    body: ReplyIn,
    background: BackgroundTasks,
) -> ReplySentRead:
    text = body.text.replace("\r\n", "\n").replace("\r", "\n")
    definition = forms_service.definition_of(_version(db_session, submission))
    try:
        thread_id = flows.reply(
            db_session=db_session,
            settings=_settings(request),
            submission=submission,
            definition=definition,
            text=text,
            actor=actor,
        )
    except forms_service.FormError as exc:
        raise _refused(exc) from None
    background.add_task(_wake_sender, request)
    return ReplySentRead(id=submission.id, thread_id=thread_id)


@router.post(
    "/submissions/{submission_id}/route",
    response_model=RoutedRead,
    summary="担当課へ回付する（市長への手紙は複数の課へ、ほかは一つの課へ）",
    responses=ACTION_ERRORS,
    dependencies=counter_only,
)
def route_case(
    request: Request, actor: CurrentStaff, db_session: DbSession, submission: CurrentCase, body: RouteIn
) -> RoutedRead:
    definition = forms_service.definition_of(_version(db_session, submission))
    try:
        added = flows.route(
            db_session=db_session,
            settings=_settings(request),
            submission=submission,
            definition=definition,
            departments=body.departments,
            actor=actor,
        )
    except forms_service.FormError as exc:
        raise _refused(exc, 422) from None
    return RoutedRead(
        id=submission.id,
        added=added,
        department=submission.department,
        routes=[r.department for r in forms_service.routes_of(db_session=db_session, submission=submission)],
    )


def _letter(db_session: Session, submission: Submission) -> FormDefinition:
    definition = forms_service.definition_of(_version(db_session, submission))
    if not forms_service.is_letter(definition):
        raise HTTPException(status_code=409, detail="市長への手紙ではありません。")
    return definition


def _letter_read(submission: Submission, notified: bool = False) -> LetterRead:
    return LetterRead(
        id=submission.id,
        status=submission.status,
        answer_by=submission.answer_by,
        approved_by=submission.approved_by,
        approved_at=submission.approved_at,
        notified=notified,
    )


@router.post(
    "/submissions/{submission_id}/draft",
    response_model=LetterRead,
    summary="市長への手紙: 回付された課の回答案を保存する",
    responses=ACTION_ERRORS,
    dependencies=counter_only,
)
def save_draft(
    request: Request, actor: CurrentStaff, db_session: DbSession, submission: CurrentCase, body: DraftIn
) -> LetterRead:
    _letter(db_session, submission)
    try:
        flows.save_draft(
            db_session=db_session,
            settings=_settings(request),
            submission=submission,
            department=body.department,
            text=body.text,
            actor=actor,
        )
    except forms_service.FormError as exc:
        raise _refused(exc) from None
    return _letter_read(submission)


@router.post(
    "/submissions/{submission_id}/answer",
    response_model=LetterRead,
    summary="市長への手紙: 秘書広報課の回答を保存する（承認はやり直し）",
    responses=ACTION_ERRORS,
    dependencies=counter_only,
)
def save_answer(
    request: Request, actor: CurrentStaff, db_session: DbSession, submission: CurrentCase, body: AnswerIn
) -> LetterRead:
    _letter(db_session, submission)
    if submission.approved_at is not None:
        raise HTTPException(status_code=409, detail="この回答は承認・送信済みです。")
    flows.save_answer(
        db_session=db_session, settings=_settings(request), submission=submission, text=body.text, actor=actor
    )
    return _letter_read(submission)


@router.post(
    "/submissions/{submission_id}/approve",
    response_model=LetterRead,
    summary="市長への手紙: 回答を承認して市民に送る（回答を書いた本人以外）",
    responses=APPROVE_ERRORS,
    dependencies=counter_only,
)
def approve_answer(
    request: Request,
    actor: CurrentStaff,
    db_session: DbSession,
    submission: CurrentCase,
    background: BackgroundTasks,
) -> LetterRead:
    definition = _letter(db_session, submission)
    if submission.answer_enc is not None and submission.approved_at is None and submission.answer_by == actor.name:
        # The four-eyes rule: service.approve refuses it too; this says so with 403, not 409.
        raise Forbidden("回答を書いた人は承認できません。別の職員が承認してください。")
    try:
        told = flows.approve(
            db_session=db_session,
            settings=_settings(request),
            submission=submission,
            definition=definition,
            actor=actor,
        )
    except forms_service.FormError as exc:
        raise _refused(exc) from None
    if told:
        background.add_task(_wake_sender, request)
    return _letter_read(submission, told)

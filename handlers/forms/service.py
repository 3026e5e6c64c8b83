"""申請・通報 rules: forms and their versions, submissions (cases) and their photos, the workflow, the
letter's routing and approval, who sees which cases, and retention. No LINE, HTTP or Jinja2 here:
pushes are notify.py's, staff actions (with their audit records) flows.py's.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from bot import clock
from bot import personal_data as crypto
from bot.settings import Settings
from handlers.forms.definition import FormDefinition, FormKind, Kind
from handlers.forms.models import (
    CaseEvent,
    CaseEventKind,
    Form,
    FormVersion,
    LetterRoute,
    Photo,
    PhotoStatus,
    StaffDepartment,
    Submission,
)
from nlu.normalize import normalise
from nlu.tokenizer import tokenize

DATA_DIR = Path(__file__).parent / "data"
DEMO_FORMS = DATA_DIR / "forms.yml"
FLOW_NAME = "forms"
# 秘書広報課 receives the mayor's letters, revises and approves their answers.
LETTER_DESK = "秘書広報課"
# Departments a case can be routed to (the demo city's; staff may type others).
DEPARTMENTS = (
    "秘書広報課",
    "市民課",
    "健康づくり推進課",
    "いきいき長寿課",
    "農林水産課",
    "建設課",
    "教育総務課",
    "危機管理課",
    "生活環境課",
)


class FormError(ValueError):
    """A staff action that the case's state does not allow (a status not in the workflow, a reply to
    an anonymous letter, the author approving their own answer); the message says why, in Japanese."""


# Forms and versions -----------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _parsed(version_id: int, number: int, raw: str) -> FormDefinition:
    return FormDefinition.model_validate_json(raw)


def definition_of(version: FormVersion) -> FormDefinition:
    """A version's questions (parsed once per version: a version never changes)."""
    import json

    return _parsed(version.id, version.number, json.dumps(version.definition, sort_keys=True, ensure_ascii=False))


def get_form(*, db_session: Session, key: str) -> Form | None:
    return db_session.scalars(select(Form).where(Form.key == key)).one_or_none()


def get_version(*, db_session: Session, version_id: int) -> FormVersion | None:
    return db_session.get(FormVersion, version_id)


def current_version(*, db_session: Session, form: Form) -> FormVersion | None:
    return None if form.current_version_id is None else db_session.get(FormVersion, form.current_version_id)


def versions_of(*, db_session: Session, form: Form) -> list[FormVersion]:
    return list(
        db_session.scalars(
            select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.number.desc())
        )
    )


def all_forms(*, db_session: Session, active_only: bool = False) -> list[Form]:
    query = select(Form).order_by(Form.id)
    if active_only:
        query = query.where(Form.is_active.is_(True), Form.current_version_id.is_not(None))
    return list(db_session.scalars(query))


def publish(
    *, db_session: Session, key: str, definition: FormDefinition, by: str | None, is_sample: bool = False
) -> tuple[Form, FormVersion]:
    """A new version becomes the one citizens start; conversations in progress keep theirs."""
    now = clock.now()
    form = get_form(db_session=db_session, key=key)
    if form is None:
        form = Form(key=key, is_active=True, is_sample=is_sample, created_at=now, updated_at=now)
        db_session.add(form)
        db_session.flush()
    number = (db_session.scalar(select(func.max(FormVersion.number)).where(FormVersion.form_id == form.id)) or 0) + 1
    version = FormVersion(
        form_id=form.id,
        number=number,
        definition=definition.model_dump(mode="json"),
        published_at=now,
        published_by=by,
    )
    db_session.add(version)
    db_session.flush()
    form.current_version_id = version.id
    form.updated_at = now
    db_session.flush()
    return form, version


def set_active(*, db_session: Session, form: Form, active: bool) -> None:
    form.is_active = active
    form.updated_at = clock.now()


@dataclass(frozen=True)
class Startable:
    key: str
    version_id: int
    definition: FormDefinition


def startable(*, db_session: Session) -> list[Startable]:
    """The forms citizens can start now, with their current versions. A version never changes once
    published, so its parsed definition is kept per database and version id: asking costs one small query."""
    rows = db_session.execute(
        select(Form.key, Form.current_version_id)
        .where(Form.is_active.is_(True), Form.current_version_id.is_not(None))
        .order_by(Form.id)
    ).all()
    where = str(db_session.get_bind().engine.url)
    found = []
    for key, version_id in rows:
        if version_id is None:
            continue
        definition = _published.get((where, version_id))
        if definition is None:
            version = db_session.get(FormVersion, version_id)
            if version is None:
                continue
            definition = _published[(where, version_id)] = definition_of(version)
        found.append(Startable(key, version_id, definition))
    return found


# (database, version id) -> its definition; versions are immutable, so entries never go stale.
_published: dict[tuple[str, int], FormDefinition] = {}


def form_for_words(*, db_session: Session, text: str) -> Startable | None:
    """The form whose start words the text contains as whole words (熊 is not in 熊本, サル not in
    コンサル); the longest word wins (「市長への手紙」 over 「手紙」). The text is split into words only
    when some start word is in it at all (most messages have none)."""
    norm = normalise(text)
    candidates = [
        (len(w), item)
        for item in startable(db_session=db_session)
        for w in (normalise(word) for word in item.definition.start_words)
        if w and w in norm
    ]
    if not candidates:
        return None
    tokens = tokenize(norm)
    starts, ends = {tok.start for tok in tokens}, {tok.end for tok in tokens}
    best: tuple[int, Startable] | None = None
    for item in {id(item): item for _, item in candidates}.values():
        for word in item.definition.start_words:
            w = normalise(word)
            if w and _whole_word_in(norm, w, starts, ends) and (best is None or len(w) > best[0]):
                best = (len(w), item)
    return best[1] if best else None


def forms_for_faq(*, db_session: Session, faq_id: str) -> list[Startable]:
    """The forms open to citizens that a FAQ entry's answer offers (their definition names it)."""
    return [item for item in startable(db_session=db_session) if faq_id in item.definition.faq_ids]


def _whole_word_in(text: str, word: str, starts: set[int], ends: set[int]) -> bool:
    at = text.find(word)
    while at >= 0:
        if at in starts and at + len(word) in ends:
            return True
        at = text.find(word, at + 1)
    return False


def seed(*, db_session: Session) -> int:
    """The demo forms (marked as samples), each published once; staff edits are kept."""
    data = yaml.safe_load(DEMO_FORMS.read_text(encoding="utf-8"))
    created = 0
    for entry in data["forms"]:
        if get_form(db_session=db_session, key=entry["key"]) is not None:
            continue
        definition = FormDefinition.model_validate(entry["definition"])
        publish(db_session=db_session, key=entry["key"], definition=definition, by=None, is_sample=True)
        created += 1
    return created


# Submissions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    name: str | None = None  # an address from LINE, or the 大字 / district chosen
    lat: float | None = None
    lng: float | None = None


def receipt_number(submission_id: int, at: datetime) -> str:
    """受付番号: the year and month, then the case's number (「2612-00042」): short enough to read out."""
    local = at.astimezone(clock.TOKYO)
    return f"{local:%y%m}-{submission_id:05d}"


def submit(
    *,
    db_session: Session,
    settings: Settings,
    version: FormVersion,
    line_user_id: str,
    answers: dict[str, str],
    place: Place | None,
    photo_tokens: Sequence[str],
    anonymous: bool,
    nonce: str,
) -> tuple[Submission, bool]:
    """Makes the case (once per confirmation card: a second tap answers the same); (case, created)."""
    existing = db_session.scalars(select(Submission).where(Submission.nonce == nonce)).one_or_none()
    if existing is not None:
        return existing, False
    definition = definition_of(version)
    now = clock.now()
    submission = Submission(
        receipt_no=f"tmp-{secrets.token_hex(6)}",
        form_id=version.form_id,
        version_id=version.id,
        line_user_id=line_user_id,
        anonymous=anonymous and definition.anonymous_allowed,
        status=definition.first_status,
        department=definition.department,
        answers_enc=crypto.encrypt_json(answers, settings),
        place_lat=place.lat if place else None,
        place_lng=place.lng if place else None,
        place_name=(place.name or "")[:200] or None if place else None,
        submitted_at=now,
        updated_at=now,
        due_at=now + timedelta(days=definition.due_days) if definition.due_days else None,
        nonce=nonce,
    )
    db_session.add(submission)
    db_session.flush()
    submission.receipt_no = receipt_number(submission.id, now)
    if photo_tokens:
        for photo in db_session.scalars(
            select(Photo).where(Photo.token.in_(list(photo_tokens)), Photo.line_user_id == line_user_id)
        ):
            photo.submission_id = submission.id
    add_event(
        db_session=db_session, submission=submission, kind=CaseEventKind.SUBMITTED, actor="市民", settings=settings
    )
    db_session.flush()
    return submission, True


def add_event(
    *,
    db_session: Session,
    submission: Submission,
    kind: CaseEventKind,
    actor: str,
    settings: Settings,
    text: str | None = None,
    department: str | None = None,
    status: str | None = None,
) -> CaseEvent:
    event = CaseEvent(
        submission_id=submission.id,
        at=clock.now(),
        kind=kind,
        actor=actor[:64],
        department=department,
        status=status,
        text_enc=crypto.encrypt(text, settings) if text else None,
    )
    db_session.add(event)
    db_session.flush()
    return event


def events_of(*, db_session: Session, submission: Submission) -> list[CaseEvent]:
    return list(
        db_session.scalars(
            select(CaseEvent).where(CaseEvent.submission_id == submission.id).order_by(CaseEvent.at, CaseEvent.id)
        )
    )


def event_text(event: CaseEvent, settings: Settings) -> str | None:
    return crypto.decrypt(event.text_enc, settings) if event.text_enc else None


def last_message_to_citizen(*, db_session: Session, submission: Submission, settings: Settings) -> str | None:
    """What staff last told the citizen about the case: a status message or a reply."""
    event = db_session.scalars(
        select(CaseEvent)
        .where(
            CaseEvent.submission_id == submission.id,
            CaseEvent.kind.in_([CaseEventKind.STATUS, CaseEventKind.REPLY]),
            CaseEvent.text_enc.is_not(None),
        )
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
    ).one_or_none()
    return None if event is None else event_text(event, settings)


def answers_of(submission: Submission, settings: Settings) -> dict[str, str]:
    return crypto.decrypt_json(submission.answers_enc, settings)


def get_submission(*, db_session: Session, submission_id: int) -> Submission | None:
    return db_session.get(Submission, submission_id)


def get_by_nonce(*, db_session: Session, nonce: str) -> Submission | None:
    return db_session.scalars(select(Submission).where(Submission.nonce == nonce)).one_or_none()


def get_by_receipt(*, db_session: Session, receipt_no: str) -> Submission | None:
    return db_session.scalars(select(Submission).where(Submission.receipt_no == receipt_no)).one_or_none()


def mine(*, db_session: Session, line_user_id: str, limit: int = 10) -> list[tuple[Submission, str]]:
    """A citizen's latest cases with their forms' titles (for 「私の申請・通報」)."""
    rows = db_session.execute(
        select(Submission, FormVersion)
        .join(FormVersion, FormVersion.id == Submission.version_id)
        .where(Submission.line_user_id == line_user_id)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
        .limit(limit)
    ).all()
    return [(submission, definition_of(version).title) for submission, version in rows]


@dataclass(frozen=True)
class CaseFilter:
    form_key: str | None = None
    status: str | None = None
    department: str | None = None
    since: date | None = None  # submitted on or after (Tokyo days)
    until: date | None = None  # submitted on or before
    overdue: bool = False
    open_only: bool = False  # not closed (before the form's last status)
    placed_only: bool = False  # with a place on the map
    # Departments the viewer may see (None: all).
    visible_departments: frozenset[str] | None = None


Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), clock.TOKYO)


def _filtered(query: Q, case_filter: CaseFilter) -> Q:
    if case_filter.form_key:
        query = query.join(Form, Form.id == Submission.form_id).where(Form.key == case_filter.form_key)
    if case_filter.status:
        query = query.where(Submission.status == case_filter.status)
    if case_filter.department:
        query = query.where(
            or_(
                Submission.department == case_filter.department,
                Submission.id.in_(
                    select(LetterRoute.submission_id).where(LetterRoute.department == case_filter.department)
                ),
            )
        )
    if case_filter.since:
        query = query.where(Submission.submitted_at >= _day_start(case_filter.since))
    if case_filter.until:
        query = query.where(Submission.submitted_at < _day_start(case_filter.until + timedelta(days=1)))
    if case_filter.overdue:
        query = query.where(Submission.due_at < clock.now(), Submission.closed_at.is_(None))
    if case_filter.open_only:
        query = query.where(Submission.closed_at.is_(None))
    if case_filter.placed_only:
        query = query.where(Submission.place_lat.is_not(None), Submission.place_lng.is_not(None))
    visible = case_filter.visible_departments
    if visible is not None:
        query = query.where(
            or_(
                Submission.department.in_(sorted(visible)),
                Submission.id.in_(select(LetterRoute.submission_id).where(LetterRoute.department.in_(sorted(visible)))),
            )
        )
    return query


def cases(
    *, db_session: Session, case_filter: CaseFilter, limit: int = 100, offset: int = 0
) -> list[tuple[Submission, FormVersion]]:
    query = select(Submission, FormVersion).join(FormVersion, FormVersion.id == Submission.version_id)
    query = _filtered(query, case_filter).order_by(Submission.submitted_at.desc(), Submission.id.desc())
    return [(row[0], row[1]) for row in db_session.execute(query.limit(limit).offset(offset)).all()]


def count_cases(*, db_session: Session, case_filter: CaseFilter) -> int:
    return db_session.scalar(_filtered(select(func.count(Submission.id)), case_filter)) or 0


def stream_cases(
    *, db_session: Session, case_filter: CaseFilter, batch: int = 1000
) -> Iterator[tuple[Submission, FormVersion]]:
    """Every case matching, oldest first, read in batches by id (an export of tens of thousands of rows
    holds one batch in memory at a time). Each version (its definition is JSON) is read once, not per row."""
    versions: dict[int, FormVersion] = {}
    last_id = 0
    while True:
        query = _filtered(select(Submission), case_filter).where(Submission.id > last_id)
        found = list(db_session.scalars(query.order_by(Submission.id).limit(batch)))
        if not found:
            return
        for submission in found:
            version = versions.get(submission.version_id)
            if version is None:
                version = db_session.get(FormVersion, submission.version_id)
                assert version is not None  # a case's version goes only with its form (ON DELETE CASCADE)
                versions[submission.version_id] = version
            yield submission, version
        last_id = found[-1].id
        for submission in found:
            db_session.expunge(submission)


def is_overdue(submission: Submission, now: datetime) -> bool:
    return submission.due_at is not None and submission.closed_at is None and submission.due_at < now


def set_status(*, db_session: Session, submission: Submission, definition: FormDefinition, status: str) -> None:
    if status not in definition.workflow:
        raise FormError(f"「{status}」はこの様式の状態にありません（{'・'.join(definition.workflow)}）。")
    now = clock.now()
    submission.status = status
    submission.updated_at = now
    submission.closed_at = now if status == definition.last_status else None


def route(*, db_session: Session, submission: Submission, departments: Sequence[str], due_days: int) -> list[str]:
    """Routes a case to departments; a letter keeps one route (draft) per department. Answers those added."""
    now = clock.now()
    have = {r.department for r in routes_of(db_session=db_session, submission=submission)}
    added = []
    for department in dict.fromkeys(d.strip() for d in departments if d.strip()):
        if department in have:
            continue
        db_session.add(
            LetterRoute(
                submission_id=submission.id,
                department=department[:64],
                routed_at=now,
                due_at=now + timedelta(days=due_days) if due_days else None,
            )
        )
        added.append(department)
    if departments and submission.department == LETTER_DESK and len(added) == len(set(departments)) == 1:
        pass  # the letter stays with 秘書広報課, which answers it
    submission.updated_at = now
    db_session.flush()
    return added


def routes_of(*, db_session: Session, submission: Submission) -> list[LetterRoute]:
    return list(
        db_session.scalars(
            select(LetterRoute).where(LetterRoute.submission_id == submission.id).order_by(LetterRoute.id)
        )
    )


def save_draft(
    *, db_session: Session, settings: Settings, submission: Submission, department: str, text: str, by: str
) -> LetterRoute:
    letter_route = next(
        (r for r in routes_of(db_session=db_session, submission=submission) if r.department == department), None
    )
    if letter_route is None:
        raise FormError(f"この手紙は{department}に回付されていません。")
    letter_route.draft_enc = crypto.encrypt(text, settings)
    letter_route.drafted_by = by[:64]
    letter_route.drafted_at = clock.now()
    submission.updated_at = clock.now()
    return letter_route


def draft_of(letter_route: LetterRoute, settings: Settings) -> str | None:
    return crypto.decrypt(letter_route.draft_enc, settings) if letter_route.draft_enc else None


def save_answer(*, db_session: Session, settings: Settings, submission: Submission, text: str, by: str) -> None:
    """秘書広報課's revised answer; any earlier approval no longer stands."""
    submission.answer_enc = crypto.encrypt(text, settings)
    submission.answer_by = by[:64]
    submission.approved_by = None
    submission.approved_at = None
    submission.updated_at = clock.now()


def answer_of(submission: Submission, settings: Settings) -> str | None:
    return crypto.decrypt(submission.answer_enc, settings) if submission.answer_enc else None


def approve(*, db_session: Session, submission: Submission, by: str) -> None:
    """A second person approves the revised answer (never its author); then it is sent."""
    if submission.answer_enc is None:
        raise FormError("承認する回答がまだありません。")
    if submission.answer_by == by:
        raise FormError("回答を書いた人は承認できません。別の職員が承認してください。")
    if submission.approved_at is not None:
        raise FormError("この回答は承認済みです。")
    submission.approved_by = by[:64]
    submission.approved_at = clock.now()


# Photos ---------------------------------------------------------------------------------------------


def add_photo(*, db_session: Session, line_user_id: str, question: str, line_message_id: str) -> Photo:
    photo = Photo(
        token=secrets.token_urlsafe(24),
        line_user_id=line_user_id,
        question=question[:40],
        line_message_id=line_message_id[:64],
        status=PhotoStatus.PENDING,
        received_at=clock.now(),
    )
    db_session.add(photo)
    db_session.flush()
    return photo


def forget_photos(*, db_session: Session, tokens: Sequence[str]) -> None:
    """Photos of a form the citizen gave up: deleted at once (never sent, never kept)."""
    db_session.execute(
        delete(Photo)
        .where(Photo.token.in_(list(tokens)), Photo.submission_id.is_(None))
        .execution_options(synchronize_session=False)
    )


def photos_of(*, db_session: Session, submission: Submission) -> list[Photo]:
    return list(db_session.scalars(select(Photo).where(Photo.submission_id == submission.id).order_by(Photo.id)))


def get_photo(*, db_session: Session, token: str) -> Photo | None:
    return db_session.scalars(select(Photo).where(Photo.token == token)).one_or_none()


def photos_to_fetch(*, db_session: Session, max_attempts: int = 5) -> list[int]:
    return list(
        db_session.scalars(
            select(Photo.id).where(Photo.status == PhotoStatus.PENDING, Photo.fetch_attempts < max_attempts)
        )
    )


def store_photo(
    *, db_session: Session, settings: Settings, photo: Photo, data: bytes, thumbnail: bytes, media_type: str
) -> None:
    photo.data_enc = crypto.encrypt(base64.b64encode(data).decode(), settings)
    photo.thumb_enc = crypto.encrypt(base64.b64encode(thumbnail).decode(), settings)
    photo.media_type = media_type[:64]
    photo.size = len(data)
    photo.status = PhotoStatus.STORED
    photo.line_message_id = None
    photo.error = None


def refuse_photo(*, photo: Photo, reason: str) -> None:
    photo.status = PhotoStatus.REFUSED
    photo.line_message_id = None
    photo.error = reason[:200]


def photo_bytes(photo: Photo, settings: Settings, *, thumbnail: bool = False) -> bytes | None:
    stored = photo.thumb_enc if thumbnail else photo.data_enc
    return base64.b64decode(crypto.decrypt(stored, settings)) if stored else None


# Who sees what ------------------------------------------------------------------------------------


def departments_of(*, db_session: Session, staff_user_id: int | None) -> frozenset[str]:
    if staff_user_id is None:
        return frozenset()
    return frozenset(
        db_session.scalars(select(StaffDepartment.department).where(StaffDepartment.staff_user_id == staff_user_id))
    )


def set_departments(*, db_session: Session, staff_user_id: int, departments: Sequence[str]) -> None:
    db_session.execute(delete(StaffDepartment).where(StaffDepartment.staff_user_id == staff_user_id))
    for department in dict.fromkeys(d.strip() for d in departments if d.strip()):
        db_session.add(StaffDepartment(staff_user_id=staff_user_id, department=department[:64]))
    db_session.flush()


def visible_departments(*, db_session: Session, staff_user_id: int | None, is_admin: bool) -> frozenset[str] | None:
    """None (every case) for admins, 秘書広報課 and staff in no department; else their departments."""
    if is_admin:
        return None
    mine_ = departments_of(db_session=db_session, staff_user_id=staff_user_id)
    if not mine_ or LETTER_DESK in mine_:
        return None
    return mine_


def may_see(*, db_session: Session, submission: Submission, visible: frozenset[str] | None) -> bool:
    if visible is None:
        return True
    if submission.department in visible:
        return True
    return any(r.department in visible for r in routes_of(db_session=db_session, submission=submission))


# Retention ------------------------------------------------------------------------------------------


UNSENT_PHOTO_HOURS = 24


def purge(*, db_session: Session, before: datetime) -> int:
    """Cases closed before `before` go, with their photos, events and routes, and photos of forms never
    sent (after UNSENT_PHOTO_HOURS: a conversation has timed out by then); answers the cases counted."""
    unsent = clock.now() - timedelta(hours=UNSENT_PHOTO_HOURS)
    photo_ids = select(Photo.id).where(Photo.submission_id.is_(None), Photo.received_at < unsent)
    db_session.execute(delete(Photo).where(Photo.id.in_(photo_ids)).execution_options(synchronize_session=False))
    ids = list(db_session.scalars(select(Submission.id).where(Submission.closed_at < before)))
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for model in (Photo, CaseEvent, LetterRoute):
            db_session.execute(
                delete(model).where(model.submission_id.in_(part)).execution_options(synchronize_session=False)
            )
        db_session.execute(
            delete(Submission).where(Submission.id.in_(part)).execution_options(synchronize_session=False)
        )
    return len(ids)


def photo_question_kinds(definition: FormDefinition) -> list[str]:
    return [q.key for q in definition.questions if q.kind == Kind.PHOTO]


def is_letter(definition: FormDefinition) -> bool:
    return definition.kind == FormKind.LETTER

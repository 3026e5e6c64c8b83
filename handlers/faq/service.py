"""FAQ rules: the knowledge base (create, update, search, seed), retrieval through an index that
follows edits without a restart, citizens' feedback, and the questions we could not answer (which
staff turn into entries, add to one as another wording, or dismiss).

The retrieval index lives in the process, one per database, and is rebuilt when the entries
change: every ask first reads the entries' count and newest `updated_at` (one indexed query), so
an edit made by staff in any process is answered from the next question on.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from bot import clock
from bot.db import affected_rows, upsert_insert
from handlers.faq.models import (
    FaqEntry,
    FaqEntryCreate,
    FaqEntryUpdate,
    FaqFeedback,
    FaqFeedbackSummary,
    FeedbackRow,
    UnansweredQuestion,
    UnansweredStatus,
    storable,
)
from nlu import FaqResult, get_embedded
from nlu.faq import FaqDocument, FaqIndex, load_seed
from nlu.features import Analysis
from nlu.normalize import has_content, normalise

SEED_FILE = Path(__file__).parent / "data" / "faq_seed.yml"
MAX_STORED_QUESTION = 500
MAX_ALT_QUESTIONS = 50
# The feedback report's "recently".
RECENT_FEEDBACK_DAYS = 30


class FaqNotFound(Exception):
    pass


class FaqExists(Exception):
    pass


class TooManyWordings(Exception):
    """The entry already has as many alternative questions as it may hold."""


class AlreadyHandled(Exception):
    """Someone handled (or dismissed) the unanswered question first."""


# Entries ----------------------------------------------------------------------------------------


def get(*, db_session: Session, faq_id: str) -> FaqEntry | None:
    return db_session.get(FaqEntry, faq_id)


def get_active(*, db_session: Session, faq_id: str) -> FaqEntry | None:
    entry = db_session.get(FaqEntry, faq_id)
    return entry if entry is not None and entry.is_active else None


def get_all(*, db_session: Session, include_inactive: bool = False) -> list[FaqEntry]:
    query = select(FaqEntry).order_by(FaqEntry.category, FaqEntry.id)
    if not include_inactive:
        query = query.where(FaqEntry.is_active.is_(True))
    return list(db_session.scalars(query))


def search(*, db_session: Session, query: str = "", include_inactive: bool = True) -> list[FaqEntry]:
    """Entries whose id, category, question, alternative questions, answer or tags contain every
    word of `query` (全角/半角 and case folded). The knowledge base is small: matched here, not in SQL."""
    entries = get_all(db_session=db_session, include_inactive=include_inactive)
    words = normalise(query).split()
    if not words:
        return entries
    return [e for e in entries if all(w in _haystack(e) for w in words)]


def _haystack(entry: FaqEntry) -> str:
    parts = [entry.id, entry.category, entry.question, *(entry.alt_questions or ()), entry.answer, *(entry.tags or ())]
    return normalise("\n".join(parts))


def get_categories(*, db_session: Session) -> list[str]:
    return sorted({c for c in db_session.scalars(select(FaqEntry.category).distinct()) if c})


def new_id(*, db_session: Session) -> str:
    """A fresh id for an entry staff did not name ("faq_3f9a2c")."""
    while True:
        faq_id = "faq_" + secrets.token_hex(3)
        if db_session.get(FaqEntry, faq_id) is None:
            return faq_id


def create(*, db_session: Session, faq_in: FaqEntryCreate) -> FaqEntry:
    faq_id = faq_in.id or new_id(db_session=db_session)
    if db_session.get(FaqEntry, faq_id) is not None:
        raise FaqExists(faq_id)
    now = clock.now()
    entry = FaqEntry(**(faq_in.model_dump() | {"id": faq_id}), created_at=now, updated_at=now)
    db_session.add(entry)
    db_session.flush()
    return entry


def update(*, db_session: Session, faq_entry: FaqEntry, faq_in: FaqEntryUpdate) -> FaqEntry:
    for field, value in faq_in.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(faq_entry, field, value)
    faq_entry.updated_at = _later_than(faq_entry.updated_at)
    db_session.flush()
    return faq_entry


def deactivate(*, db_session: Session, faq_entry: FaqEntry) -> FaqEntry:
    """Stops answering with the entry; its feedback is kept."""
    faq_entry.is_active = False
    faq_entry.updated_at = _later_than(faq_entry.updated_at)
    db_session.flush()
    return faq_entry


def reactivate(*, db_session: Session, faq_entry: FaqEntry) -> FaqEntry:
    """Answers with the entry again."""
    faq_entry.is_active = True
    faq_entry.updated_at = _later_than(faq_entry.updated_at)
    db_session.flush()
    return faq_entry


def add_alternative(*, db_session: Session, faq_entry: FaqEntry, text: str) -> FaqEntry:
    """Adds another wording to the entry's questions (once: a wording it has already is not repeated)."""
    wording = storable(text).strip()[:MAX_STORED_QUESTION]
    key = question_key(wording)
    if any(question_key(q) == key for q in (faq_entry.question, *(faq_entry.alt_questions or ()))):
        return faq_entry
    if len(faq_entry.alt_questions or ()) >= MAX_ALT_QUESTIONS:
        raise TooManyWordings(faq_entry.id)
    # A new list, so the JSON column sees the change.
    faq_entry.alt_questions = [*(faq_entry.alt_questions or ()), wording]
    faq_entry.updated_at = _later_than(faq_entry.updated_at)
    db_session.flush()
    return faq_entry


def _later_than(previous: datetime) -> datetime:
    # Two edits within the clock's resolution must still look like a change to the index.
    now = clock.now()
    return now if now > previous else previous + timedelta(microseconds=1)


def documents_from_file(path: Path) -> list[FaqDocument]:
    return load_seed(path)


def seed(*, db_session: Session, path: Path = SEED_FILE, overwrite: bool = False) -> int:
    """Adds the file's entries that are missing (ids kept); with `overwrite`, replaces existing ones.

    Idempotent: staff edits are never overwritten unless asked. Answers how many were written.
    """
    written = 0
    for doc in documents_from_file(path):
        existing = db_session.get(FaqEntry, doc.id)
        values: dict[str, Any] = {
            "category": doc.category,
            "question": doc.question,
            "alt_questions": list(doc.alt_questions),
            "answer": doc.answer,
            "tags": list(doc.tags),
        }
        if existing is None:
            create(db_session=db_session, faq_in=FaqEntryCreate(id=doc.id, **values))
            written += 1
        elif overwrite:
            update(db_session=db_session, faq_entry=existing, faq_in=FaqEntryUpdate(**values, is_active=True))
            written += 1
    return written


# Retrieval --------------------------------------------------------------------------------------


def _to_document(entry: FaqEntry) -> FaqDocument:
    return FaqDocument(
        id=entry.id,
        question=entry.question,
        answer=entry.answer,
        alt_questions=tuple(entry.alt_questions or ()),
        tags=tuple(entry.tags or ()),
        category=entry.category or "",
    )


_indexes: OrderedDict[str, tuple[tuple[Any, ...], FaqIndex]] = OrderedDict()
_index_lock = threading.Lock()
_MAX_INDEXES = 8


def _fingerprint(db_session: Session) -> tuple[Any, ...]:
    count, newest = db_session.execute(select(func.count(FaqEntry.id), func.max(FaqEntry.updated_at))).one()
    active = db_session.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.is_active.is_(True)))
    return (count, active, newest)


def get_index(*, db_session: Session) -> FaqIndex:
    """The retrieval index of this database's active entries, rebuilt when they have changed."""
    key = str(db_session.get_bind().engine.url)
    fingerprint = _fingerprint(db_session)
    cached = _indexes.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    with _index_lock:
        cached = _indexes.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        documents = [_to_document(e) for e in get_all(db_session=db_session)]
        index = FaqIndex.build(documents, get_embedded().analyse)
        _indexes[key] = (fingerprint, index)
        _indexes.move_to_end(key)
        while len(_indexes) > _MAX_INDEXES:
            _indexes.popitem(last=False)
        return index


def ask(*, db_session: Session, text: str, analysis: Analysis | None = None) -> FaqResult:
    """The best entry for the question, with its score and the next candidates."""
    index = get_index(db_session=db_session)
    return index.ask(text, analysis=analysis)


# Feedback and unanswered questions -----------------------------------------------------------------


def record_feedback(*, db_session: Session, faq_id: str, line_user_id: str, helpful: bool) -> None:
    """Stores the citizen's verdict on the answer; a second tap replaces the first."""
    if db_session.get(FaqEntry, faq_id) is None:
        raise FaqNotFound(faq_id)
    now = clock.now()
    insert = upsert_insert(db_session)
    statement = insert(FaqFeedback).values(
        faq_id=faq_id, line_user_id=line_user_id, helpful=helpful, created_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["faq_id", "line_user_id"], set_={"helpful": helpful, "updated_at": now}
    )
    db_session.execute(statement)


def feedback_summary(*, db_session: Session) -> list[FaqFeedbackSummary]:
    helpful = func.sum(case((FaqFeedback.helpful.is_(True), 1), else_=0))
    rows = db_session.execute(
        select(FaqFeedback.faq_id, helpful, func.count(FaqFeedback.id))
        .group_by(FaqFeedback.faq_id)
        .order_by(FaqFeedback.faq_id)
    ).all()
    return [FaqFeedbackSummary(faq_id=f, helpful=int(h or 0), not_helpful=int(n - (h or 0))) for f, h, n in rows]


def _verdicts(db_session: Session, since: datetime | None) -> dict[str, tuple[int, int]]:
    """(役に立った, 役に立たなかった) per entry, counting citizens' latest verdicts given since `since`."""
    helpful = func.sum(case((FaqFeedback.helpful.is_(True), 1), else_=0))
    query = select(FaqFeedback.faq_id, helpful, func.count(FaqFeedback.id)).group_by(FaqFeedback.faq_id)
    if since is not None:
        query = query.where(FaqFeedback.updated_at >= since)
    return {faq_id: (int(h or 0), int(n) - int(h or 0)) for faq_id, h, n in db_session.execute(query).all()}


def feedback_counts(*, db_session: Session, since: datetime | None = None) -> dict[str, tuple[int, int]]:
    """(役に立った, 役に立たなかった) per entry id (entries with no feedback are absent)."""
    return _verdicts(db_session, since)


def concern(not_helpful: int, total: int, z: float = 1.64) -> float:
    """How sure we can be that an answer disappoints: the lower bound of the Wilson interval of the
    役に立たなかった share. One vote of one counts for less than nine of ten."""
    if total <= 0:
        return 0.0
    share = not_helpful / total
    centre = share + z * z / (2 * total)
    spread = z * math.sqrt((share * (1 - share) + z * z / (4 * total)) / total)
    return round(max(0.0, (centre - spread) / (1 + z * z / total)), 4)


class FeedbackPeriod(StrEnum):
    RECENT = "recent"  # the last RECENT_FEEDBACK_DAYS days
    ALL = "all"


def feedback_report(*, db_session: Session, period: FeedbackPeriod = FeedbackPeriod.RECENT) -> list[FeedbackRow]:
    """Every entry with feedback, poorest first (by `period`'s votes, then all votes)."""
    recent = _verdicts(db_session, clock.now() - timedelta(days=RECENT_FEEDBACK_DAYS))
    overall = _verdicts(db_session, None)
    entries = {e.id: e for e in db_session.scalars(select(FaqEntry).where(FaqEntry.id.in_(list(overall))))}
    rows = []
    for faq_id, (helpful, not_helpful) in overall.items():
        entry = entries.get(faq_id)
        if entry is None:
            continue
        recent_helpful, recent_not_helpful = recent.get(faq_id, (0, 0))
        chosen = (recent_not_helpful, recent_helpful + recent_not_helpful)
        if period is FeedbackPeriod.ALL:
            chosen = (not_helpful, helpful + not_helpful)
        rows.append(
            FeedbackRow(
                faq_id=faq_id,
                question=entry.question,
                is_active=entry.is_active,
                recent_helpful=recent_helpful,
                recent_not_helpful=recent_not_helpful,
                helpful=helpful,
                not_helpful=not_helpful,
                concern=concern(*chosen),
            )
        )
    rows.sort(key=lambda r: (-r.concern, -concern(r.not_helpful, r.helpful + r.not_helpful), -r.not_helpful, r.faq_id))
    return rows


def question_key(text: str) -> str:
    """The same question however it is spaced or which width its characters are."""
    return hashlib.sha256("".join(normalise(text).split()).encode()).hexdigest()


def record_unanswered(*, db_session: Session, text: str, result: FaqResult | None = None) -> bool:
    """Counts a question we could not answer (same wording: one row, count + 1, last asked now).

    Answers False (and records nothing) for text with no words in it (emoji, marks).
    """
    if not has_content(text):
        return False
    now = clock.now()
    best_id = result.faq_id if result is not None else None
    best_score = result.score if result is not None else None
    insert = upsert_insert(db_session)
    statement = insert(UnansweredQuestion).values(
        text_key=question_key(text),
        text=text.strip()[:MAX_STORED_QUESTION],
        count=1,
        best_faq_id=best_id,
        best_score=best_score,
        status=UnansweredStatus.OPEN,
        first_asked_at=now,
        last_asked_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["text_key"],
        set_={
            "count": UnansweredQuestion.count + 1,
            "last_asked_at": now,
            "best_faq_id": best_id,
            "best_score": best_score,
            # Asked again after staff handled it: the answer did not reach the citizen, so it is
            # open again. A question staff dismissed as out of scope stays dismissed.
            "status": case(
                (UnansweredQuestion.status == UnansweredStatus.DISMISSED, UnansweredStatus.DISMISSED),
                else_=UnansweredStatus.OPEN,
            ),
        },
    )
    db_session.execute(statement)
    return True


class UnansweredOrder(StrEnum):
    MOST_ASKED = "most"
    NEWEST = "newest"


def get_unanswered(*, db_session: Session, question_id: int) -> UnansweredQuestion | None:
    return db_session.get(UnansweredQuestion, question_id)


def get_all_unanswered(
    *,
    db_session: Session,
    status: UnansweredStatus | None = UnansweredStatus.OPEN,
    order: UnansweredOrder = UnansweredOrder.MOST_ASKED,
    limit: int = 200,
    offset: int = 0,
) -> list[UnansweredQuestion]:
    """Most asked first (then the most recently asked), or the most recently asked first."""
    ordering: list[Any] = [UnansweredQuestion.last_asked_at.desc(), UnansweredQuestion.id.desc()]
    if order is UnansweredOrder.MOST_ASKED:
        ordering.insert(0, UnansweredQuestion.count.desc())
    query = select(UnansweredQuestion).order_by(*ordering)
    if status is not None:
        query = query.where(UnansweredQuestion.status == status)
    return list(db_session.scalars(query.limit(limit).offset(offset)))


@dataclass(frozen=True)
class UnansweredCounts:
    """Per status: how many questions, and how many times they were asked in all."""

    questions: dict[str, int]
    asked: dict[str, int]

    @property
    def open(self) -> int:
        return self.questions[UnansweredStatus.OPEN.value]


def count_unanswered(*, db_session: Session) -> UnansweredCounts:
    rows = db_session.execute(
        select(UnansweredQuestion.status, func.count(), func.coalesce(func.sum(UnansweredQuestion.count), 0)).group_by(
            UnansweredQuestion.status
        )
    ).all()
    questions = {s.value: 0 for s in UnansweredStatus}
    asked = {s.value: 0 for s in UnansweredStatus}
    for status, n, total in rows:
        questions[str(status)] = int(n)
        asked[str(status)] = int(total)
    return UnansweredCounts(questions=questions, asked=asked)


def _close(db_session: Session, question: UnansweredQuestion, status: UnansweredStatus, faq_id: str | None) -> None:
    """Marks an open question handled, unless someone else did first (one conditional UPDATE:
    two staff members cannot both act on it)."""
    result = db_session.execute(
        sql_update(UnansweredQuestion)
        .where(UnansweredQuestion.id == question.id, UnansweredQuestion.status == UnansweredStatus.OPEN)
        .values(status=status, resolved_at=clock.now(), resolved_faq_id=faq_id)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(result) != 1:
        db_session.refresh(question)
        raise AlreadyHandled(question.id)
    db_session.refresh(question)


def resolve_unanswered(
    *, db_session: Session, question: UnansweredQuestion, faq_id: str | None = None
) -> UnansweredQuestion:
    """Marks it handled: `faq_id` answers it now. Raises AlreadyHandled when it is not open."""
    _close(db_session, question, UnansweredStatus.RESOLVED, faq_id)
    return question


def dismiss_unanswered(*, db_session: Session, question: UnansweredQuestion) -> UnansweredQuestion:
    """Out of scope: not for the FAQ. Asked again, it is counted and stays dismissed."""
    _close(db_session, question, UnansweredStatus.DISMISSED, None)
    return question


def reopen_unanswered(*, db_session: Session, question: UnansweredQuestion) -> UnansweredQuestion:
    """Back to 未回答 (a dismissal or a resolution undone)."""
    question.status = UnansweredStatus.OPEN
    question.resolved_at = None
    db_session.flush()
    return question


def purge_unanswered(*, db_session: Session, before: datetime) -> int:
    """Deletes the questions last asked before `before`: they are citizens' own words (the nightly
    job, FAQ_UNANSWERED_RETENTION_DAYS; resolved or not)."""
    result = db_session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.last_asked_at < before))
    return affected_rows(result)

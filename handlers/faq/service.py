"""FAQ rules: the knowledge base (create, update, seed), retrieval through an index that follows
edits without a restart, citizens' feedback, and the questions we could not answer.

The retrieval index lives in the process, one per database, and is rebuilt when the entries
change: every ask first reads the entries' count and newest `updated_at` (one indexed query), so
an edit made by staff in any process is answered from the next question on.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.db import affected_rows, upsert_insert
from handlers.faq.models import (
    FaqEntry,
    FaqEntryCreate,
    FaqEntryUpdate,
    FaqFeedback,
    FaqFeedbackSummary,
    UnansweredQuestion,
    UnansweredStatus,
)
from nlu import FaqResult, get_embedded
from nlu.faq import FaqDocument, FaqIndex, load_seed
from nlu.features import Analysis
from nlu.normalize import has_content, normalise

SEED_FILE = Path(__file__).parent / "data" / "faq_seed.yml"
MAX_STORED_QUESTION = 500


class FaqNotFound(Exception):
    pass


class FaqExists(Exception):
    pass


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


def create(*, db_session: Session, faq_in: FaqEntryCreate) -> FaqEntry:
    if db_session.get(FaqEntry, faq_in.id) is not None:
        raise FaqExists(faq_in.id)
    now = clock.now()
    entry = FaqEntry(**faq_in.model_dump(), created_at=now, updated_at=now)
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
            "status": UnansweredStatus.OPEN,
        },
    )
    db_session.execute(statement)
    return True


def get_all_unanswered(
    *, db_session: Session, status: UnansweredStatus | None = UnansweredStatus.OPEN, limit: int = 200
) -> list[UnansweredQuestion]:
    query = select(UnansweredQuestion).order_by(
        UnansweredQuestion.count.desc(), UnansweredQuestion.last_asked_at.desc()
    )
    if status is not None:
        query = query.where(UnansweredQuestion.status == status)
    return list(db_session.scalars(query.limit(limit)))


def resolve_unanswered(*, db_session: Session, question: UnansweredQuestion) -> UnansweredQuestion:
    question.status = UnansweredStatus.RESOLVED
    db_session.flush()
    return question


def purge_unanswered(*, db_session: Session, before: datetime) -> int:
    """Deletes the questions last asked before `before`: they are citizens' own words (the nightly
    job, FAQ_UNANSWERED_RETENTION_DAYS; resolved or not)."""
    result = db_session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.last_asked_at < before))
    return affected_rows(result)

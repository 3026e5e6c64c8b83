"""Citizens' own words outside the message log go after their time (SQLite and PostgreSQL): questions
the FAQ could not answer (FAQ_UNANSWERED_RETENTION_DAYS), requests for a person
(HANDOFF_RETENTION_DAYS; an open one stays without its words) and conversations left half-way (once
they have run out), by nightly jobs the capabilities declare."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.util import ref_to_obj
from sqlalchemy import select

from bot import clock, conversation
from bot.capabilities import load
from handlers.faq import jobs as faq_jobs
from handlers.faq import service as faq_service
from handlers.faq.models import UnansweredQuestion
from handlers.handoff import jobs as handoff_jobs
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffRequest, HandoffRequestCreate, HandoffStatus
from notifications import scheduler
from tests.support import LiveApp


def test_unanswered_questions_and_requests_for_a_person_go_after_their_retention(app: LiveApp) -> None:
    question = "ふるさと納税でうちの畑の野菜を送りたい瀬戸内 花子です"
    with app.db.session() as db_session:
        assert faq_service.record_unanswered(db_session=db_session, text=question)
        done, _ = handoff_service.request_person(
            db_session=db_session,
            handoff_in=HandoffRequestCreate(line_user_id="U" + "1" * 32, message="090-1234-5678 に電話ください"),
            office_open=True,
        )
        handoff_service.mark_done(db_session=db_session, handoff_request=done, staff_name="taro")
        handoff_service.request_person(
            db_session=db_session,
            handoff_in=HandoffRequestCreate(line_user_id="U" + "2" * 32, message="住所変更のことで相談したい"),
            office_open=False,
        )
        # A conversation left half-way keeps what was said in it: it goes once it has run out.
        conversation.save(
            db_session=db_session,
            chat_id="U" + "3" * 32,
            flow="faq",
            state="pick",
            data={"question": question},
            timeout=timedelta(minutes=30),
        )
    clock.travel_to(clock.now() + timedelta(minutes=31))
    scheduler.purge_message_log_now(app.db, app.settings)
    with app.db.session() as db_session:
        assert db_session.scalars(select(conversation.Conversation)).all() == []
    # Within retention, nothing goes.
    clock.travel_to(clock.now() + timedelta(days=app.settings.faq_unanswered_retention_days - 1))
    assert faq_jobs.purge(db=app.db, settings=app.settings) == 0
    assert handoff_jobs.purge(db=app.db, settings=app.settings) == 0
    clock.travel_to(clock.now() + timedelta(days=2))
    assert faq_jobs.purge(db=app.db, settings=app.settings) == 1
    assert handoff_jobs.purge(db=app.db, settings=app.settings) == 2  # one deleted, one cleared
    with app.db.session() as db_session:
        assert db_session.scalars(select(UnansweredQuestion)).all() == []
        [still_open] = db_session.scalars(select(HandoffRequest)).all()
    # A request nobody has handled yet stays for staff, without the citizen's words.
    assert still_open.status == HandoffStatus.OPEN and still_open.message is None


def test_the_purges_are_scheduled_nightly(app: LiveApp) -> None:
    jobs = {job.id: job for job in load().jobs}
    for job_id in ("faq:retention", "handoff:retention"):
        job = jobs[job_id]
        assert job.trigger == "cron" and callable(ref_to_obj(job.func))
        assert set(job.schedule(app.settings)) == {"hour", "minute"}

"""Reminders (SQLite and PostgreSQL): the day before and on the morning, sent once whatever runs them
(twice, from two processes at once, after a restart of the scheduler), never for a cancelled
booking; the nightly purge job; a staff cancellation tells the citizen. Time travels with
bot.clock; the scheduler's own job store is the real one in the test database."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import clock
from bot.db import Database
from bot.outbox import OutboxMessage
from handlers.reservations import cards, notify
from handlers.reservations.models import (
    ReminderSent,
    Reservation,
    ReservationChannel,
    ReservationCreate,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import slots as slot_service
from notifications import scheduler
from tests.support import LiveApp, new_citizen, settled, texts, wait_until

ANSWERS = {
    "name": "瀬戸内 花子",
    "furigana": "セトウチ ハナコ",
    "birth_date": "1950-04-01",
    "phone": "09012345678",
    "address": "瀬戸内市邑久町尾張300-1",
}


def book(app: LiveApp, user: str | None, hhmm: str = "10:00") -> int:
    """A LINE booking for `user` (None: a phone booking) on Wednesday at `hhmm`."""
    with app.db.session() as db_session:
        slots = slot_service.get_slots_for_day(
            db_session=db_session, office_id="honcho", day=datetime(2026, 11, 25).date()
        )
        slot = next(s for s in slots if cards.time_text(s.starts_at) == hhmm)
        booked = reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id="inkan",
                slot_id=slot.id,
                answers=ANSWERS,
                channel=ReservationChannel.LINE if user else ReservationChannel.PHONE,
                line_user_id=user,
            ),
            settings=app.settings,
        )
        return booked.reservation.id


def pushes(app: LiveApp, purpose_prefix: str) -> list[OutboxMessage]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.purpose.startswith(purpose_prefix))))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=clock.TOKYO)


def two_sweeps_at_once(app: LiveApp) -> list[int]:
    """The reminder sweep in two "processes" (threads, each with its own connection pool) that start
    at the same moment; neither sends a reminder before both have found it due. Answers how many
    each one sent."""
    engines = [Database(app.settings.database_url) for _ in range(2)]
    start = threading.Barrier(2, timeout=10)
    both_found_it_due = threading.Barrier(2, timeout=10)
    real_send_reminder = notify.send_reminder

    def send_reminder(**kwargs: Any) -> bool:
        # Past the sweep's read of what is due (its session closed); before the marker and the push.
        both_found_it_due.wait()
        return real_send_reminder(**kwargs)

    sent: dict[int, int] = {}

    def sweep(n: int) -> None:
        start.wait()
        sent[n] = notify.send_due(db=engines[n], settings=app.settings)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(notify, "send_reminder", send_reminder)
            threads = [threading.Thread(target=sweep, args=(n,)) for n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads), "a sweep did not finish"
    finally:
        for engine in engines:
            engine.dispose()
    # A sweep that did not reach the barrier (it found nothing due) broke it: both count 0.
    assert sorted(sent) == [0, 1], "a sweep raised"
    return [sent[0], sent[1]]


def test_reminders_go_out_once_the_day_before_and_on_the_morning(rsv_app: LiveApp) -> None:
    app = rsv_app
    app.app.state.scheduler.pause()  # the test runs the jobs itself
    user, other = new_citizen(app), new_citizen(app)
    kept = book(app, user)
    cancelled = book(app, other, "11:00")
    with app.db.session() as db_session:
        reservation = db_session.get(Reservation, cancelled)
        assert reservation is not None
        reservation_service.cancel(db_session=db_session, reservation=reservation, reason="citizen")

    clock.travel_to(at(24, 17, 59))
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    clock.travel_to(at(24, 18, 1))
    # The first send is a race: two processes sweep at the same moment and both find the reminder
    # due before either has sent it. Exactly one sends it; the other finds its marker and sends nothing.
    assert sorted(two_sweeps_at_once(app)) == [0, 1]
    assert len(pushes(app, "reminder:")) == 1
    assert notify.send_due(db=app.db, settings=app.settings) == 0  # a later sweep: nothing more
    assert not notify.send_reminder(db=app.db, settings=app.settings, reservation_id=kept, kind="day_before")
    wait_until(lambda: settled(app), what="the reminder delivered")
    assert len(app.sandbox.deliveries(to=user)) == 1
    [day_before] = pushes(app, "reminder:day_before:")
    assert day_before.to == user and day_before.purpose == f"reminder:day_before:{kept}"
    delivered = wait_until(lambda: app.sandbox.deliveries(to=user), what="the reminder push")
    assert delivered[0].endpoint == "push"
    [reminder_text] = texts(delivered)
    assert reminder_text.startswith("明日は、窓口のご予約の日です。") and "11月25日（水） 10:00" in reminder_text
    assert "登録する印鑑" in reminder_text  # 持ち物
    assert app.sandbox.deliveries(to=other) == []  # cancelled: no reminder

    clock.travel_to(at(25, 7, 59))
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    clock.travel_to(at(25, 8, 0))
    assert notify.send_due(db=app.db, settings=app.settings) == 1
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    clock.travel_to(at(25, 10, 5))  # after the visit began: nothing is late-sent
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    wait_until(lambda: len(app.sandbox.deliveries(to=user)) == 2, what="the morning reminder")
    assert texts(app.sandbox.deliveries(to=user))[1].startswith("本日は、窓口のご予約の日です。")
    with app.db.session() as db_session:
        assert db_session.scalar(select(func.count()).select_from(ReminderSent)) == 2


def test_a_booking_moved_to_another_day_is_reminded_again_and_late_bookings_are_not(rsv_app: LiveApp) -> None:
    app = rsv_app
    app.app.state.scheduler.pause()
    user = new_citizen(app)
    reservation_id = book(app, user, "13:00")
    clock.travel_to(at(24, 18, 30))
    assert notify.send_due(db=app.db, settings=app.settings) == 1
    with app.db.session() as db_session:
        reservation = db_session.get(Reservation, reservation_id)
        assert reservation is not None
        thursday = slot_service.get_slots_for_day(db_session=db_session, office_id="honcho", day=at(26, 0).date())
        reservation_service.reschedule(
            db_session=db_session,
            reservation=reservation,
            slot_id=thursday[0].id,
            settings=app.settings,
            by_citizen=False,
        )
    clock.travel_to(at(25, 18, 0))
    assert notify.send_due(db=app.db, settings=app.settings) == 1  # for Thursday this time
    assert len(pushes(app, "reminder:day_before:")) == 2
    # Booked after the reminder time (here 16:00, before the 17:00 cutoff): no reminder, they just booked.
    app.settings.reminder_day_before_time = "16:00"
    clock.travel_to(at(26, 16, 30))
    with app.db.session() as db_session:
        friday = slot_service.get_slots_for_day(db_session=db_session, office_id="honcho", day=at(27, 0).date())
        reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id="inkan", slot_id=friday[0].id, answers=ANSWERS, line_user_id=new_citizen(app)
            ),
            settings=app.settings,
        )
    assert notify.send_due(db=app.db, settings=app.settings) == 0


def test_the_scheduler_keeps_its_jobs_across_a_restart_and_runs_a_missed_sweep_once(rsv_app: LiveApp) -> None:
    app = rsv_app
    app.app.state.scheduler.pause()
    user = new_citizen(app)
    reservation_id = book(app, user)
    clock.travel_to(at(24, 18, 10))

    standing_jobs = app.app.state.capabilities.jobs
    expected = sorted(job.id for job in (*scheduler.CORE_JOBS, *standing_jobs))
    reminder_job = "reservations:reminders"

    async def first_process() -> list[str]:
        database = Database(app.settings.database_url)
        try:
            running = scheduler.start(database, app.settings, standing_jobs)
            assert running is not None
            ids = sorted(job.id for job in running.get_jobs())
            # It ran once (say), then the process died before the next run.
            assert await notify.send_due_reminders() == 1
            running.modify_job(reminder_job, next_run_time=datetime.now(clock.TOKYO) - timedelta(minutes=5))
            scheduler.stop(running)
            return ids
        finally:
            database.dispose()

    ids = asyncio.run(first_process())
    # Every capability's standing jobs and the platform's own, reservation reminders among them.
    assert ids == expected and reminder_job in ids and "bot:retention" in ids

    async def restarted_process() -> list[str]:
        database = Database(app.settings.database_url)
        try:
            running = scheduler.start(database, app.settings, standing_jobs)
            assert running is not None
            job = running.get_job(reminder_job)
            assert job is not None  # still there: the job store is the database
            # The missed run happens at start; then it is scheduled again, in the future.
            for _ in range(100):
                await asyncio.sleep(0.05)
                job = running.get_job(reminder_job)
                if job is not None and job.next_run_time > datetime.now(clock.TOKYO):
                    break
            assert job is not None and job.next_run_time > datetime.now(clock.TOKYO)
            scheduler.stop(running)
            return sorted(job.id for job in running.get_jobs())
        finally:
            database.dispose()

    assert asyncio.run(restarted_process()) == expected  # the same jobs, one row each
    assert [p.purpose for p in pushes(app, "reminder:")] == [f"reminder:day_before:{reservation_id}"]
    wait_until(lambda: settled(app), what="delivery")
    assert len(app.sandbox.deliveries(to=user)) == 1


def test_the_purge_job_and_a_staff_cancellation_notice(rsv_app: LiveApp) -> None:
    app = rsv_app
    app.app.state.scheduler.pause()
    user = new_citizen(app)
    reservation_id = book(app, user)
    phone_id = book(app, None, "11:00")  # a phone booking: nobody to tell on LINE (staff call them)
    with app.db.session() as db_session:
        reservation, phone = db_session.get(Reservation, reservation_id), db_session.get(Reservation, phone_id)
        assert reservation is not None and phone is not None
        assert notify.reservation_cancelled(db_session=db_session, reservation=reservation)
        assert not notify.reservation_cancelled(db_session=db_session, reservation=phone)
    notice = wait_until(lambda: app.sandbox.deliveries(to=user), what="the cancellation notice")
    assert "取り消しとなりました" in texts(notice)[0] and "都合" not in texts(notice)[0]  # no reason given
    clock.travel_to(at(25, 12) + timedelta(days=app.settings.personal_data_retention_days + 1))
    assert notify.purge(db=app.db, settings=app.settings) == 2  # both bookings of that Wednesday
    with app.db.session() as db_session:
        reservation = db_session.get(Reservation, reservation_id)
        assert reservation is not None and reservation.answers_enc is None


def test_on_sqlite_the_jobs_live_in_a_file_of_their_own_beside_the_database(database_url: str) -> None:
    database = Database(database_url)
    try:
        store = scheduler.job_store(database)
        if database.dialect == "sqlite":
            # APScheduler's own transactions must never meet the processor's write lock.
            main_file = Path(database.engine.url.database or "")
            assert store.engine is not database.engine
            assert Path(store.engine.url.database or "") == main_file.with_name(main_file.stem + ".scheduler.db")
        else:
            assert store.engine is database.engine
    finally:
        database.dispose()

"""Reservation rules on SQLite and PostgreSQL: capacity under contention, idempotent confirms, the
per-citizen limit, the window, cancel and change, closures and rule edits, check-in, purge, and
personal data encrypted at rest."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import func, select, text

from bot import clock, qr
from bot.db import Database
from bot.settings import Settings, load_settings
from handlers.reservations.models import (
    ClosureCreate,
    CounterSlot,
    Reservation,
    ReservationChannel,
    ReservationCreate,
    ReservationStatus,
    SlotRuleUpdate,
)
from handlers.reservations.service import reservations as reservation_service
from handlers.reservations.service import seed as counter_seed
from handlers.reservations.service import setup as setup_service
from handlers.reservations.service import slots as slot_service
from handlers.reservations.service.errors import (
    InvalidTransition,
    LimitReached,
    NotFound,
    NotToday,
    ProcedureNotAtOffice,
    SlotFull,
    SlotNotBookable,
)
from tests.handlers.reservations.conftest import TUESDAY

WEDNESDAY = date(2026, 11, 25)
ANSWERS = {
    "name": "瀬戸内 花子",
    "furigana": "せとうち はなこ",
    "birth_date": "昭和25年4月1日",
    "phone": "090-1234-5678",
    "address": "瀬戸内市邑久町尾張300-1",
    "copies": "1通",
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key="s" * 40, personal_data_key="")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    clock.travel_to(TUESDAY)
    database = Database(database_url)
    with database.session() as db_session:
        counter_seed.seed(db_session=db_session)
    yield database
    database.dispose()


def slot_at(db: Database, office: str, day: date, hhmm: str) -> int:
    with db.session() as db_session:
        slots = slot_service.get_slots_for_day(db_session=db_session, office_id=office, day=day)
        return next(s.id for s in slots if s.starts_at.astimezone(clock.TOKYO).strftime("%H:%M") == hhmm)


def book(
    db: Database,
    settings: Settings,
    slot_id: int,
    *,
    user: str | None = None,
    channel: ReservationChannel = ReservationChannel.LINE,
    key: str | None = None,
    procedure: str = "juminhyo",
) -> reservation_service.Booked:
    with db.session() as db_session:
        return reservation_service.create(
            db_session=db_session,
            reservation_in=ReservationCreate(
                procedure_id=procedure,
                slot_id=slot_id,
                answers=ANSWERS,
                channel=channel,
                line_user_id=(user or "U" + uuid.uuid4().hex) if channel == ReservationChannel.LINE else None,
                idempotency_key=key,
            ),
            settings=settings,
        )


def slot_row(db: Database, slot_id: int) -> CounterSlot:
    with db.session() as db_session:
        slot = db_session.get(CounterSlot, slot_id)
        assert slot is not None
        return slot


def test_a_booking_takes_a_place_and_keeps_personal_data_encrypted_at_rest(db: Database, settings: Settings) -> None:
    slot_id = slot_at(db, "honcho", WEDNESDAY, "10:00")
    booked = book(db, settings, slot_id)
    assert booked.created and booked.token and qr.TOKEN_PATTERN.fullmatch(booked.token)
    assert slot_row(db, slot_id).booked == 1
    with db.session() as db_session:
        raw = db_session.execute(text("SELECT * FROM reservations")).mappings().one()
        stored = " ".join(str(v) for v in raw.values())
        for secret in ("瀬戸内", "花子", "セトウチ", "09012345678", booked.token):
            assert secret not in stored
        assert raw["qr_token_hash"] == qr.token_hash(booked.token)
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        answers = reservation_service.answers_of(reservation, settings)
        assert answers == {
            "name": "瀬戸内 花子",
            "furigana": "セトウチ ハナコ",
            "birth_date": "1950-04-01",
            "phone": "09012345678",
            "address": "瀬戸内市邑久町尾張300-1",
            "copies": "1",
        }
        assert reservation_service.token_of(reservation, settings) == booked.token
        found = reservation_service.get_by_token(db_session=db_session, token=booked.token.lower())
        assert found is not None and found.id == reservation.id
    # Another key cannot read it.
    other = load_settings(database_url=settings.database_url, secret_key="t" * 40)
    with db.session() as db_session, pytest.raises(Exception, match="decrypt"):
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        reservation_service.answers_of(reservation, other)


def test_the_last_place_goes_to_exactly_one_of_200_concurrent_attempts(
    db: Database, settings: Settings, database_url: str
) -> None:
    slot_id = slot_at(db, "honcho", WEDNESDAY, "10:30")
    book(db, settings, slot_id)
    book(db, settings, slot_id)
    assert slot_row(db, slot_id).booked == 2  # capacity 3: one place left
    # Several engines, as several processes would have: on SQLite they meet at SQLite's own lock,
    # on PostgreSQL on the row. Every thread has its own session and transaction.
    engines = [Database(database_url) for _ in range(4)]
    barrier = threading.Barrier(200)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def attempt(n: int) -> None:
        database = engines[n % len(engines)]
        barrier.wait()
        try:
            book(database, settings, slot_id)
            result = "booked"
        except SlotFull:
            result = "full"
        except Exception as exc:  # pragma: no cover - reported below
            result = f"error:{type(exc).__name__}:{exc}"[:200]
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert outcomes == Counter({"booked": 1, "full": 199})
    slot = slot_row(db, slot_id)
    assert (slot.booked, slot.capacity) == (3, 3)
    with db.session() as db_session:
        count = db_session.scalar(select(func.count()).select_from(Reservation).where(Reservation.slot_id == slot_id))
    assert count == 3


def test_the_same_confirm_key_books_once_even_when_processed_at_the_same_moment(
    db: Database, settings: Settings, database_url: str
) -> None:
    slot_id = slot_at(db, "honcho", WEDNESDAY, "11:00")
    user = "U" + uuid.uuid4().hex
    key = reservation_service.idempotency_key(user, "nonce-1")
    first = book(db, settings, slot_id, user=user, key=key)
    again = book(db, settings, slot_id, user=user, key=key)
    assert first.created and not again.created
    assert again.reservation.id == first.reservation.id and again.token == first.token
    assert slot_row(db, slot_id).booked == 1
    # Twenty taps arriving together on a new button.
    key2 = reservation_service.idempotency_key(user, "nonce-2")
    other_slot = slot_at(db, "honcho", WEDNESDAY, "11:30")
    engines = [Database(database_url) for _ in range(4)]
    barrier = threading.Barrier(20)
    ids: list[int] = []

    def tap(n: int) -> None:
        barrier.wait()
        ids.append(book(engines[n % 4], settings, other_slot, user=user, key=key2).reservation.id)

    threads = [threading.Thread(target=tap, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert len(ids) == 20 and len(set(ids)) == 1
    assert slot_row(db, other_slot).booked == 1
    # Someone else presenting the same key finds nothing of theirs.
    with pytest.raises(NotFound):
        book(db, settings, other_slot, user="U" + uuid.uuid4().hex, key=key2)


def test_a_citizen_may_hold_a_limited_number_of_upcoming_bookings(db: Database, settings: Settings) -> None:
    user = "U" + uuid.uuid4().hex
    for hhmm in ("09:00", "09:30", "10:00"):
        book(db, settings, slot_at(db, "honcho", WEDNESDAY, hhmm), user=user)
    with pytest.raises(LimitReached):
        book(db, settings, slot_at(db, "honcho", WEDNESDAY, "13:00"), user=user)
    # Staff bookings (no LINE user) are not limited; a cancellation frees the citizen's count.
    book(db, settings, slot_at(db, "honcho", WEDNESDAY, "13:00"), channel=ReservationChannel.PHONE)
    with db.session() as db_session:
        first = reservation_service.get_upcoming_for_citizen(db_session=db_session, line_user_id=user, now=clock.now())
        reservation_service.cancel(db_session=db_session, reservation=first[0], reason="test")
    book(db, settings, slot_at(db, "honcho", WEDNESDAY, "13:30"), user=user)


def test_line_bookings_keep_the_window_and_cutoff_staff_bookings_do_not(db: Database, settings: Settings) -> None:
    clock.travel_to(datetime(2026, 11, 24, 17, 30, tzinfo=clock.TOKYO))  # after Tuesday's cutoff
    slot_id = slot_at(db, "honcho", WEDNESDAY, "14:00")
    with pytest.raises(SlotNotBookable):
        book(db, settings, slot_id)
    assert book(db, settings, slot_id, channel=ReservationChannel.COUNTER).created
    far = slot_at(db, "honcho", date(2027, 1, 6), "10:00")  # beyond 30 days
    with pytest.raises(SlotNotBookable):
        book(db, settings, far)
    with pytest.raises(ProcedureNotAtOffice):
        book(db, settings, slot_at(db, "ushimado", date(2026, 11, 26), "10:00"), procedure="mynumber")
    with db.session() as db_session:
        days = slot_service.available_days(
            db_session=db_session, office_id="honcho", now=clock.now(), settings=settings
        )
    assert days[0][0] == date(2026, 11, 26) and all(d.weekday() < 5 for d, _ in days)


def test_cancel_gives_the_place_back_once_and_a_change_moves_it(db: Database, settings: Settings) -> None:
    first, second = slot_at(db, "honcho", WEDNESDAY, "15:00"), slot_at(db, "honcho", WEDNESDAY, "15:30")
    booked = book(db, settings, first)
    with db.session() as db_session:
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        reservation_service.reschedule(
            db_session=db_session, reservation=reservation, slot_id=second, settings=settings
        )
        assert (reservation.slot_id, reservation.status) == (second, ReservationStatus.BOOKED)
    assert (slot_row(db, first).booked, slot_row(db, second).booked) == (0, 1)
    with db.session() as db_session:
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        reservation_service.cancel(db_session=db_session, reservation=reservation, reason="citizen")
        with pytest.raises(InvalidTransition):
            reservation_service.cancel(db_session=db_session, reservation=reservation, reason="again")
    assert slot_row(db, second).booked == 0
    # A full slot refuses a change, and the booking stays where it was.
    full = slot_at(db, "ushimado", WEDNESDAY, "09:00")  # capacity 1
    book(db, settings, full)
    moving = book(db, settings, slot_at(db, "ushimado", WEDNESDAY, "09:30"))
    with db.session() as db_session:
        reservation = db_session.get(Reservation, moving.reservation.id)
        assert reservation is not None
        with pytest.raises(SlotFull):
            reservation_service.reschedule(
                db_session=db_session, reservation=reservation, slot_id=full, settings=settings
            )
    assert slot_row(db, slot_at(db, "ushimado", WEDNESDAY, "09:30")).booked == 1


def test_closures_and_rule_edits_change_what_can_be_booked(db: Database, settings: Settings) -> None:
    thursday = date(2026, 11, 26)
    kept = book(db, settings, slot_at(db, "osafune", thursday, "10:00"))
    with db.session() as db_session:
        closure, held = setup_service.create_closure(
            db_session=db_session, closure_in=ClosureCreate(office_id="osafune", day=thursday, reason="停電")
        )
        assert held == 1
        days = [
            d
            for d, _ in slot_service.available_days(
                db_session=db_session, office_id="osafune", now=clock.now(), settings=settings
            )
        ]
        assert thursday not in days
        assert (
            slot_service.available_slots(
                db_session=db_session, office_id="osafune", day=thursday, now=clock.now(), settings=settings
            )
            == []
        )
    with pytest.raises(SlotNotBookable):
        book(db, settings, slot_at(db, "osafune", thursday, "11:00"))
    with db.session() as db_session:
        reopened = setup_service.get_closure(db_session=db_session, closure_id=closure.id)
        assert reopened is not None
        setup_service.delete_closure(db_session=db_session, closure=reopened)
    assert book(db, settings, slot_at(db, "osafune", thursday, "11:00")).created
    # A rule edit: capacity 2 for the osafune mornings; booked and hand-adjusted slots stand.
    with db.session() as db_session:
        rule = next(
            r
            for r in setup_service.get_all_rules(db_session=db_session, office_id="osafune")
            if r.start_time == "09:00"
        )
        setup_service.update_rule(db_session=db_session, rule=rule, rule_in=SlotRuleUpdate(capacity=2))
    assert slot_row(db, slot_at(db, "osafune", thursday, "09:00")).capacity == 2
    assert slot_row(db, kept.reservation.slot_id).capacity == 1  # it holds a booking: unchanged


def test_check_in_only_on_the_day_and_in_order(db: Database, settings: Settings) -> None:
    booked = book(db, settings, slot_at(db, "honcho", WEDNESDAY, "09:00"))
    with db.session() as db_session:
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        with pytest.raises(NotToday):
            reservation_service.check_in(db_session=db_session, reservation=reservation)
    clock.travel_to(datetime(2026, 11, 25, 8, 55, tzinfo=clock.TOKYO))
    with db.session() as db_session:
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        reservation_service.check_in(db_session=db_session, reservation=reservation)
        assert reservation.status == ReservationStatus.ARRIVED and reservation.arrived_at is not None
        with pytest.raises(InvalidTransition):
            reservation_service.check_in(db_session=db_session, reservation=reservation)
        with pytest.raises(InvalidTransition):
            reservation_service.cancel(db_session=db_session, reservation=reservation, reason="late")
        reservation_service.record_visit(db_session=db_session, reservation=reservation, action="complete")
        assert reservation.status == ReservationStatus.DONE


def test_personal_data_is_purged_after_the_retention_period(db: Database, settings: Settings) -> None:
    booked = book(db, settings, slot_at(db, "honcho", WEDNESDAY, "16:00"))
    token = booked.token
    assert token
    short = load_settings(database_url=settings.database_url, secret_key="s" * 40, personal_data_retention_days=7)
    clock.travel_to(datetime(2026, 12, 2, 3, 15, tzinfo=clock.TOKYO))  # 7 days after: not yet
    with db.session() as db_session:
        assert reservation_service.purge_personal_data(db_session=db_session, settings=short) == 0
    clock.travel_to(datetime(2026, 12, 3, 3, 15, tzinfo=clock.TOKYO))
    with db.session() as db_session:
        assert reservation_service.purge_personal_data(db_session=db_session, settings=short) == 1
        assert reservation_service.purge_personal_data(db_session=db_session, settings=short) == 0
    with db.session() as db_session:
        reservation = db_session.get(Reservation, booked.reservation.id)
        assert reservation is not None
        assert reservation.answers_enc is None and reservation.qr_token_enc is None and reservation.line_user_id is None
        assert reservation_service.answers_of(reservation, settings) is None
        assert reservation_service.get_by_token(db_session=db_session, token=token) is None
        assert reservation.visit_day == WEDNESDAY  # the statistics stay


def test_seed_is_idempotent_and_keeps_staff_edits(db: Database) -> None:
    with db.session() as db_session:
        procedure = setup_service.get_procedure(db_session=db_session, procedure_id="juminhyo")
        assert procedure is not None
        procedure.name = "住民票の写し（郵送不可）"
        assert counter_seed.seed(db_session=db_session) == 0
    with db.session() as db_session:
        names = [p.name for p in setup_service.get_all_procedures(db_session=db_session)]
        assert len(names) == 9 and "住民票の写し（郵送不可）" in names
        offices = [o.name for o in setup_service.get_all_offices(db_session=db_session)]
        assert offices == ["本庁 市民課", "牛窓支所", "長船支所"]

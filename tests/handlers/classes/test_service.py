"""Class signup rules on SQLite and PostgreSQL, with real threads and several engines (as several
processes would have): the last places under contention and the waitlist's order, cancels racing
signups and each other, the same person twice, the lottery, attendance, and personal data (encrypted
at rest, purged after the retention period).

"Arrival order" here is the order in which the signups' transactions held the session's row lock
(sessions.lock): one holder at a time, each until it commits, so it is also the order they committed.
A thread notes its signup while it still holds the lock, so the list the threads build is exactly
that order. `created_at` cannot be compared: it is read before waiting for the lock.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import text

from bot import clock, qr
from bot.db import Database
from bot.settings import Settings, load_settings
from handlers.classes.models import Channel, Details, Mode, SessionCreate, Signup, SignupStatus
from handlers.classes.service import lottery, sessions
from handlers.classes.service import signups as signup_service
from handlers.classes.service.errors import AlreadySignedUp, InvalidTransition, SignupClosed
from tests.handlers.classes.conftest import NOW

STARTS = NOW + timedelta(days=14)  # Tuesday 8 December 2026, 10:00
CONFIRMED, WAITLISTED, APPLIED, CANCELLED = (
    SignupStatus.CONFIRMED,
    SignupStatus.WAITLISTED,
    SignupStatus.APPLIED,
    SignupStatus.CANCELLED,
)


@pytest.fixture
def engines(database_url: str) -> Iterator[list[Database]]:
    """Four more engines on the same database: on SQLite they meet at SQLite's own lock, on
    PostgreSQL at the session's row."""
    found = [Database(database_url) for _ in range(4)]
    yield found
    for engine in found:
        engine.dispose()


def new_session(db: Database, *, capacity: int = 5, starts_at: datetime = STARTS, **fields: Any) -> int:
    with db.session() as db_session:
        session_in = SessionCreate(
            title="はじめてのスマホ教室",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            venue="中央公民館",
            capacity=capacity,
            **fields,
        )
        return sessions.create(db_session=db_session, session_in=session_in).id


def person(n: int, **fields: Any) -> Details:
    return Details(name=f"受講者{n}", furigana=f"ジュコウシャ{n}", phone=f"0869{n:06d}", **fields)


def sign_up(
    db: Database,
    settings: Settings,
    session_id: int,
    details: Details,
    *,
    channel: Channel = Channel.PHONE,
    user: str | None = None,
    noted: list[int] | None = None,
) -> Signup:
    """One signup in its own transaction. `noted` gets its id while the session's lock is held."""
    with db.session() as db_session:
        signed = signup_service.create(
            db_session=db_session,
            session_id=session_id,
            details=details,
            channel=channel,
            settings=settings,
            line_user_id=user,
        )
        if noted is not None:
            noted.append(signed.signup.id)  # list.append is atomic; only the lock holder gets here
        return signed.signup


def cancel(db: Database, signup_id: int, *, noted: list[int] | None = None) -> signup_service.Cancelled:
    with db.session() as db_session:
        signup = signup_service.get(db_session=db_session, signup_id=signup_id)
        assert signup is not None
        cancelled = signup_service.cancel(db_session=db_session, signup=signup, reason="test")
        if noted is not None:
            noted.append(signup_id)
        return cancelled


def roster(db: Database, session_id: int) -> list[Signup]:
    with db.session() as db_session:
        return signup_service.for_session(db_session=db_session, session_id=session_id)


def by_status(db: Database, session_id: int) -> dict[str, list[Signup]]:
    """Signups per status, each list in queue order."""
    found: dict[str, list[Signup]] = {s.value: [] for s in SignupStatus}
    for signup in sorted(roster(db, session_id), key=lambda s: s.queue_no):
        found[signup.status].append(signup)
    return found


def race(calls: list[Callable[[], Any]], timeout: float = 120) -> list[Any]:
    """Runs every call in its own thread, all released at once; answers results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    return results


def test_200_concurrent_signups_for_the_last_5_places_keep_capacity_and_arrival_order(
    db: Database, settings: Settings, engines: list[Database]
) -> None:
    session_id = new_session(db, capacity=10)
    for n in range(5):
        sign_up(db, settings, session_id, person(n))
    held: list[int] = []  # the new signups, in the order their transactions held the session's lock

    def attempt(n: int) -> str:
        # Half on LINE (each their own citizen, limits and period checked), half taken by phone.
        on_line = n % 2 == 1
        signup = sign_up(
            engines[n % len(engines)],
            settings,
            session_id,
            person(1000 + n),
            channel=Channel.LINE if on_line else Channel.PHONE,
            user=f"U{n:032x}" if on_line else None,
            noted=held,
        )
        return str(signup.status)

    results = race([partial(attempt, n) for n in range(200)])

    assert Counter(results) == Counter({CONFIRMED: 5, WAITLISTED: 195}), Counter(map(str, results))
    groups = by_status(db, session_id)
    assert (len(groups[CONFIRMED]), len(groups[WAITLISTED])) == (10, 195)
    new = sorted((s for s in roster(db, session_id) if s.id in set(held)), key=lambda s: s.queue_no)
    assert len(new) == len(held) == 200
    # The queue is the order the lock was held (and the transactions committed) ...
    assert [s.id for s in new] == held
    # ... ids were handed out in that order too, and no queue number is taken twice.
    assert sorted(held) == held
    assert len({s.queue_no for s in roster(db, session_id)}) == 205
    # The first five to get in have the places; everyone after waits, in that order.
    assert all(s.status == CONFIRMED for s in new[:5]) and all(s.status == WAITLISTED for s in new[5:])
    with db.session() as db_session:
        positions = [signup_service.waitlist_position(db_session=db_session, signup=s) for s in new[5:]]
        session = sessions.get(db_session=db_session, session_id=session_id)
        assert session is not None
        read = sessions.read(db_session=db_session, session=session)
    assert positions == list(range(1, 196))
    assert (read.confirmed, read.waitlisted, read.places_left) == (10, 195, 0)


def test_cancels_racing_signups_lose_no_place_and_give_none_twice(
    db: Database, settings: Settings, engines: list[Database]
) -> None:
    for round_ in range(12):
        session_id = new_session(db, capacity=4)
        base = round_ * 100
        seated = [sign_up(db, settings, session_id, person(base + n)).id for n in range(4)]
        first_waiting = sign_up(db, settings, session_id, person(base + 4))
        assert first_waiting.status == WAITLISTED
        # Two of the four cancel while three new people sign up, all at once.
        calls: list[Callable[[], Any]] = [partial(cancel, engines[i], seated[i]) for i in range(2)]
        calls += [partial(sign_up, engines[2 + i % 2], settings, session_id, person(base + 5 + i)) for i in range(3)]
        results = race(calls)
        assert not [r for r in results if isinstance(r, Exception)], results

        groups = by_status(db, session_id)
        confirmed, waiting = groups[CONFIRMED], groups[WAITLISTED]
        # Two places came free and four people wanted one: none lost, none given twice.
        assert (len(confirmed), len(waiting)) == (4, 2), (
            f"round {round_}: {[(s.id, s.status) for s in roster(db, session_id)]}"
        )
        promoted = [s.id for r in results[:2] for s in r.promoted]
        seated_at_once = [r.id for r in results[2:] if r.status == CONFIRMED]
        assert len(promoted) + len(seated_at_once) == 2 and len(set(promoted)) == len(promoted)
        # The one who waited first got a place; nobody waiting is ahead of anyone seated.
        assert first_waiting.id in {s.id for s in confirmed}
        assert max(s.queue_no for s in confirmed) < min(s.queue_no for s in waiting)


def test_two_cancels_at_once_promote_two_in_waitlist_order(
    db: Database, settings: Settings, engines: list[Database]
) -> None:
    for round_ in range(8):
        session_id = new_session(db, capacity=3)
        base = round_ * 100
        seated = [sign_up(db, settings, session_id, person(base + n)).id for n in range(3)]
        waiting = [sign_up(db, settings, session_id, person(base + 3 + n)).id for n in range(3)]
        held: list[int] = []
        results = race([partial(cancel, engines[i], seated[i], noted=held) for i in range(2)])
        assert not [r for r in results if isinstance(r, Exception)], results
        promoted_by = {r.signup.id: [s.id for s in r.promoted] for r in results}
        # The cancel that went first promoted the head of the waitlist, the second the next one.
        assert [promoted_by[signup_id] for signup_id in held] == [[waiting[0]], [waiting[1]]]
        groups = by_status(db, session_id)
        assert [s.id for s in groups[CONFIRMED]] == [seated[2], waiting[0], waiting[1]]
        assert [s.id for s in groups[WAITLISTED]] == [waiting[2]]
        assert all(s.promoted_at is not None for s in groups[CONFIRMED][1:])
        with db.session() as db_session:
            assert signup_service.waitlist_position(db_session=db_session, signup=groups[WAITLISTED][0]) == 1

    # A seated person and the head of the waitlist cancel at once: whichever goes first, the next
    # one waiting gets the place.
    for round_ in range(4):
        session_id = new_session(db, capacity=3)
        base = 10_000 + round_ * 100
        seated = [sign_up(db, settings, session_id, person(base + n)).id for n in range(3)]
        waiting = [sign_up(db, settings, session_id, person(base + 3 + n)).id for n in range(3)]
        results = race([partial(cancel, engines[0], seated[0]), partial(cancel, engines[1], waiting[0])])
        assert not [r for r in results if isinstance(r, Exception)], results
        groups = by_status(db, session_id)
        assert [s.id for s in groups[CONFIRMED]] == [seated[1], seated[2], waiting[1]]
        assert [s.id for s in groups[WAITLISTED]] == [waiting[2]]


def test_the_same_person_twice_is_refused_however_written_and_may_sign_up_again_after_cancelling(
    db: Database, settings: Settings, engines: list[Database]
) -> None:
    session_id = new_session(db, capacity=5)
    hanako = Details(name="山田 花子", furigana="やまだ はなこ", phone="090-1234-5678")
    first = sign_up(db, settings, session_id, hanako)
    same_people = [
        Details(name="山田花子", furigana="ヤマダハナコ", phone="09012345678"),
        Details(name="山田 花子", furigana="ﾔﾏﾀﾞ ﾊﾅｺ", phone="０９０ー１２３４ー５６７８"),
        Details(name="やまだ", furigana="ヤマダ　ハナコ", phone="(090) 1234 5678"),
    ]
    for details in same_people:
        with pytest.raises(AlreadySignedUp):
            sign_up(db, settings, session_id, details)
    # Booked by family on LINE this time: still the same person.
    with pytest.raises(AlreadySignedUp):
        sign_up(db, settings, session_id, same_people[0], channel=Channel.FAMILY, user="U" + uuid.uuid4().hex)
    # Another phone number is another person (a namesake).
    assert sign_up(db, settings, session_id, hanako.model_copy(update={"phone": "0869-22-0000"})).status == CONFIRMED
    # Once cancelled, she may sign up again; in another session she always may.
    cancel(db, first.id)
    again = sign_up(db, settings, session_id, same_people[0])
    assert again.status == CONFIRMED and again.id != first.id
    assert sign_up(db, settings, new_session(db), hanako).status == CONFIRMED
    with pytest.raises(AlreadySignedUp):
        sign_up(db, settings, session_id, hanako)

    # Twenty taps for the same person at the same moment: one signup.
    other = new_session(db, capacity=5)
    results = race([partial(sign_up, engines[n % 4], settings, other, same_people[n % 3]) for n in range(20)])
    assert sum(isinstance(r, Signup) for r in results) == 1
    assert sum(isinstance(r, AlreadySignedUp) for r in results) == 19, results
    assert len([s for s in roster(db, other) if s.status != CANCELLED]) == 1


def test_draw_order_is_reproducible_from_the_seed_and_puts_the_priority_group_first() -> None:
    applicants = [(n, n % 5 == 0) for n in range(1, 41)]
    order = lottery.draw_order("seed-1", applicants)
    assert order == lottery.draw_order("seed-1", list(reversed(applicants)))  # the input's order is irrelevant
    assert sorted(order) == list(range(1, 41))
    priority = {n for n, p in applicants if p}
    assert set(order[: len(priority)]) == priority
    assert order != lottery.draw_order("seed-2", applicants)
    assert order != sorted(priority) + sorted(set(order) - priority)  # shuffled within each group


def test_the_lottery_draws_once_seats_capacity_and_the_waitlist_follows_the_draw(
    db: Database, settings: Settings, engines: list[Database]
) -> None:
    session_id = new_session(db, capacity=3, mode=Mode.LOTTERY, priority_age=75)
    ages = ["80", "70", None, "75", "65", None, "60", "u60"]
    applied = [
        sign_up(
            db,
            settings,
            session_id,
            person(n, age_group=age),
            channel=Channel.LINE if n % 2 else Channel.PHONE,
            user=f"U{n:032x}" if n % 2 else None,
        )
        for n, age in enumerate(ages)
    ]
    assert all(s.status == APPLIED for s in applied)
    assert [s.priority for s in applied] == [True, False, False, True, False, False, False, False]
    with db.session() as db_session:
        assert lottery.due(db_session=db_session, now=clock.now()) == []
        session = sessions.get(db_session=db_session, session_id=session_id)
        assert session is not None and session.signup_deadline == STARTS - timedelta(days=7)
    clock.travel_to(STARTS - timedelta(days=7) + timedelta(minutes=1))
    with pytest.raises(SignupClosed):  # applications are closed for citizens
        sign_up(db, settings, session_id, person(50), channel=Channel.LINE, user="U" + uuid.uuid4().hex)
    with db.session() as db_session:
        assert lottery.due(db_session=db_session, now=clock.now()) == [session_id]
        drawn = lottery.draw(db_session=db_session, session_id=session_id, now=clock.now(), seed="fixed-seed")
        assert drawn is not None
        winners, drawn_waiting = [s.id for s in drawn.winners], [s.id for s in drawn.waiting]
    with db.session() as db_session:
        assert lottery.draw(db_session=db_session, session_id=session_id, now=clock.now()) is None
        assert lottery.due(db_session=db_session, now=clock.now()) == []
        session = sessions.get(db_session=db_session, session_id=session_id)
        assert session is not None and session.draw_seed == "fixed-seed" and session.drawn_at is not None

    expected = lottery.draw_order("fixed-seed", [(s.id, s.priority) for s in applied])
    assert winners + drawn_waiting == expected
    assert len(winners) == 3 and set(winners[:2]) == {applied[0].id, applied[3].id}  # 75 and over first
    groups = by_status(db, session_id)
    assert [s.id for s in groups[CONFIRMED]] == winners
    assert [s.id for s in groups[WAITLISTED]] == drawn_waiting
    assert [s.draw_rank for s in groups[CONFIRMED] + groups[WAITLISTED]] == list(range(1, 9))
    # A phone signup after the draw waits behind everyone drawn.
    late = sign_up(db, settings, session_id, person(60))
    assert late.status == WAITLISTED
    with db.session() as db_session:
        assert signup_service.waitlist_position(db_session=db_session, signup=late) == 6
    # A winner cancels: the first of the drawn waitlist gets the place.
    cancelled = cancel(db, winners[1])
    assert [s.id for s in cancelled.promoted] == [drawn_waiting[0]]
    assert [s.id for s in by_status(db, session_id)[WAITLISTED]] == [*drawn_waiting[1:], late.id]

    # Two draws at the same moment: one draws, the other finds it done.
    clock.travel_to(NOW)
    racing = new_session(db, capacity=2, mode=Mode.LOTTERY)
    for n in range(5):
        sign_up(db, settings, racing, person(100 + n))
    clock.travel_to(STARTS - timedelta(days=6))

    def draw(database: Database) -> bool:
        with database.session() as db_session:
            return lottery.draw(db_session=db_session, session_id=racing, now=clock.now()) is not None

    assert sorted(race([partial(draw, engines[n]) for n in range(4)])) == [False, False, False, True]
    assert Counter(str(s.status) for s in roster(db, racing)) == Counter({CONFIRMED: 2, WAITLISTED: 3})


def test_a_session_turned_into_a_lottery_seats_only_the_places_left(db: Database, settings: Settings) -> None:
    session_id = new_session(db, capacity=3)
    seated = sign_up(db, settings, session_id, person(1))
    with db.session() as db_session:
        session = sessions.get(db_session=db_session, session_id=session_id)
        assert session is not None
        session.mode = Mode.LOTTERY
        session.signup_deadline = STARTS - timedelta(days=7)
    for n in range(2, 7):
        assert sign_up(db, settings, session_id, person(n)).status == APPLIED
    clock.travel_to(STARTS - timedelta(days=6))
    with db.session() as db_session:
        drawn = lottery.draw(db_session=db_session, session_id=session_id, now=clock.now())
        assert drawn is not None and (len(drawn.winners), len(drawn.waiting)) == (2, 3)
    groups = by_status(db, session_id)
    assert len(groups[CONFIRMED]) == 3 and seated.id in {s.id for s in groups[CONFIRMED]}


def test_attendance_is_for_confirmed_places_only(db: Database, settings: Settings) -> None:
    session_id = new_session(db, capacity=1)
    seated = sign_up(db, settings, session_id, person(1))
    waiting = sign_up(db, settings, session_id, person(2))
    with db.session() as db_session:
        signup = signup_service.get(db_session=db_session, signup_id=seated.id)
        assert signup is not None
        signup_service.mark_attendance(db_session=db_session, signup=signup, attended=True)
        assert signup.attended_at is not None
        signup_service.mark_attendance(db_session=db_session, signup=signup, attended=False)
        assert signup.attended_at is None
        other = signup_service.get(db_session=db_session, signup_id=waiting.id)
        assert other is not None
        with pytest.raises(InvalidTransition):
            signup_service.mark_attendance(db_session=db_session, signup=other, attended=True)
    cancel(db, waiting.id)
    with db.session() as db_session, pytest.raises(InvalidTransition):
        other = signup_service.get(db_session=db_session, signup_id=waiting.id)
        assert other is not None
        signup_service.mark_attendance(db_session=db_session, signup=other, attended=True)


def test_attendance_cannot_be_ticked_on_a_signup_cancelled_meanwhile(db: Database, settings: Settings) -> None:
    """Staff open the roster; the citizen cancels on LINE; staff tick attendance on what they loaded."""
    if db.dialect == "sqlite":
        pytest.skip("on SQLite a write transaction holds the database from its start: nothing runs meanwhile")
    session_id = new_session(db, capacity=2)
    seated = sign_up(db, settings, session_id, person(1))
    other = Database(db.url)
    try:
        with db.session() as db_session:
            signup = signup_service.get(db_session=db_session, signup_id=seated.id)
            assert signup is not None and signup.status == CONFIRMED
            cancel(other, seated.id)  # another process, committed
            with pytest.raises(InvalidTransition):
                signup_service.mark_attendance(db_session=db_session, signup=signup, attended=True)
    finally:
        other.dispose()
    with db.session() as db_session:
        stored = signup_service.get(db_session=db_session, signup_id=seated.id)
        assert stored is not None and stored.status == CANCELLED and stored.attended_at is None


def test_personal_data_is_encrypted_at_rest_and_purged_after_the_retention_period(
    db: Database, settings: Settings
) -> None:
    session_id = new_session(db, capacity=5)
    user = "U" + uuid.uuid4().hex
    hanako = Details(name="瀬戸内 花子", furigana="セトウチ ハナコ", phone="090-1234-5678", age_group="75")
    with db.session() as db_session:
        participant = signup_service.remember_participant(
            db_session=db_session, line_user_id=user, details=hanako, is_self=True, settings=settings, now=clock.now()
        )
        signed = signup_service.create(
            db_session=db_session,
            session_id=session_id,
            details=hanako,
            channel=Channel.LINE,
            settings=settings,
            line_user_id=user,
            participant=participant,
        )
    token = signed.token
    assert token and qr.TOKEN_PATTERN.fullmatch(token)
    phoned = sign_up(
        db, settings, session_id, Details(name="牛窓 太郎", furigana="ウシマド タロウ", phone="0869-34-5678")
    )
    secrets_ = ("瀬戸内", "花子", "セトウチ", "ハナコ", "090-1234-5678", "09012345678", "牛窓", "0869-34-5678", token)
    with db.session() as db_session:
        for table in ("class_signups", "class_participants"):
            rows = db_session.execute(text(f"SELECT * FROM {table}")).mappings().all()
            stored = " ".join(str(v) for row in rows for v in row.values())
            assert rows and not [s for s in secrets_ if s in stored], table
        signup = signup_service.get(db_session=db_session, signup_id=signed.signup.id)
        assert signup is not None
        assert signup_service.details_of(signup, settings) == hanako
        assert signup_service.token_of(signup, settings) == token
        found = signup_service.get_by_token(db_session=db_session, token=token.lower())
        assert found is not None and found.id == signup.id
    other_key = load_settings(database_url=settings.database_url, secret_key="t" * 40, personal_data_key="")
    with db.session() as db_session, pytest.raises(Exception, match="decrypt"):
        signup = signup_service.get(db_session=db_session, signup_id=signed.signup.id)
        assert signup is not None
        signup_service.details_of(signup, other_key)

    short = load_settings(
        database_url=settings.database_url, secret_key="s" * 40, personal_data_key="", personal_data_retention_days=7
    )
    ends = STARTS + timedelta(hours=2)
    clock.travel_to(ends + timedelta(days=6, hours=23))
    with db.session() as db_session:
        assert signup_service.purge_personal_data(db_session=db_session, settings=short, now=clock.now()) == 0
    clock.travel_to(ends + timedelta(days=7, minutes=1))
    with db.session() as db_session:
        assert signup_service.purge_personal_data(db_session=db_session, settings=short, now=clock.now()) == 2
        assert signup_service.purge_personal_data(db_session=db_session, settings=short, now=clock.now()) == 0
    with db.session() as db_session:
        for signup_id in (signed.signup.id, phoned.id):
            signup = signup_service.get(db_session=db_session, signup_id=signup_id)
            assert signup is not None
            assert (signup.details_enc, signup.qr_token_enc, signup.qr_token_hash, signup.active_key) == (
                None,
                None,
                None,
                None,
            )
            assert signup_service.details_of(signup, settings) is None
            assert signup_service.read(db_session=db_session, signup=signup).details_purged
            assert signup.status == CONFIRMED  # the statistics stay
        assert signup_service.get_by_token(db_session=db_session, token=token) is None
        assert signup_service.participants_of(db_session=db_session, line_user_id=user) == []
        counts = sessions.counts(db_session=db_session, session_ids=[session_id])[session_id]
        assert counts.confirmed == 2


def test_a_purge_keeps_what_upcoming_sessions_still_need(db: Database, settings: Settings) -> None:
    early = new_session(db)
    later = new_session(db, starts_at=STARTS + timedelta(days=30))
    user = "U" + uuid.uuid4().hex
    hanako = person(1)
    ids = []
    with db.session() as db_session:
        participant = signup_service.remember_participant(
            db_session=db_session, line_user_id=user, details=hanako, is_self=True, settings=settings, now=clock.now()
        )
        for session_id in (early, later):
            signed = signup_service.create(
                db_session=db_session,
                session_id=session_id,
                details=hanako,
                channel=Channel.LINE,
                settings=settings,
                line_user_id=user,
                participant=participant,
            )
            ids.append(signed.signup.id)
    short = load_settings(
        database_url=settings.database_url, secret_key="s" * 40, personal_data_key="", personal_data_retention_days=7
    )
    clock.travel_to(STARTS + timedelta(days=8))
    with db.session() as db_session:
        assert signup_service.purge_personal_data(db_session=db_session, settings=short, now=clock.now()) == 1
        gone, kept = (signup_service.get(db_session=db_session, signup_id=i) for i in ids)
        assert gone is not None and kept is not None
        assert signup_service.details_of(gone, settings) is None
        assert signup_service.details_of(kept, settings) == hanako
        assert len(signup_service.participants_of(db_session=db_session, line_user_id=user)) == 1

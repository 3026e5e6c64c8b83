"""The draw for a lottery session, once its deadline has passed: fair, reproducible and recorded.

The order is a pure function of the recorded seed and the applications (by id): anyone can run
`draw_order` again with the seed on the session and get the same order. Applicants in the session's
priority group (e.g. 75歳以上) are drawn first, in a shuffled order of their own; then the others.
The first `capacity` are confirmed, the rest wait in the order drawn.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import affected_rows
from handlers.classes.models import ClassSession, Mode, SessionStatus, Signup, SignupStatus
from handlers.classes.service import sessions


@dataclass
class Drawn:
    session: ClassSession
    winners: list[Signup]
    waiting: list[Signup]


def draw_order(seed: str, applicants: Sequence[tuple[int, bool]]) -> list[int]:
    """Signup ids in the order drawn: (id, in the priority group) pairs in, priority group first."""
    rng = random.Random(seed)
    ordered = sorted(applicants)
    first = [signup_id for signup_id, priority in ordered if priority]
    rest = [signup_id for signup_id, priority in ordered if not priority]
    rng.shuffle(first)
    rng.shuffle(rest)
    return first + rest


def due(*, db_session: Session, now: datetime) -> list[int]:
    """Lottery sessions whose applications have closed and that have not been drawn."""
    return list(
        db_session.scalars(
            select(ClassSession.id).where(
                ClassSession.mode == Mode.LOTTERY,
                ClassSession.drawn_at.is_(None),
                ClassSession.status == SessionStatus.OPEN,
                ClassSession.signup_deadline.is_not(None),
                ClassSession.signup_deadline <= now,
            )
        )
    )


def draw(*, db_session: Session, session_id: int, now: datetime, seed: str | None = None) -> Drawn | None:
    """Draws once: the conditional UPDATE that records the seed is both the lock and the "once"
    (None when it was drawn already, or is not a lottery)."""
    seed = seed or secrets.token_hex(16)
    claimed = db_session.execute(
        update(ClassSession)
        .where(ClassSession.id == session_id, ClassSession.mode == Mode.LOTTERY, ClassSession.drawn_at.is_(None))
        .values(drawn_at=now, draw_seed=seed, seq=ClassSession.seq + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if affected_rows(claimed) == 0:
        return None
    session = db_session.get(ClassSession, session_id, populate_existing=True)
    assert session is not None
    applications = {
        s.id: s
        for s in db_session.scalars(
            select(Signup).where(Signup.session_id == session_id, Signup.status == SignupStatus.APPLIED)
        )
    }
    order = draw_order(seed, [(s.id, s.priority) for s in applications.values()])
    # Places someone already holds (a first-come session turned into a lottery) are not drawn again.
    places = sessions.counts_of(db_session=db_session, session=session).places_left(session)
    winners: list[Signup] = []
    waiting: list[Signup] = []
    for rank, signup_id in enumerate(order, start=1):
        signup = applications[signup_id]
        signup.draw_rank = rank
        signup.queue_no = rank  # the waitlist's order is the draw's (later signups come after: seq > rank)
        signup.updated_at = now
        if len(winners) < places:
            signup.status = SignupStatus.CONFIRMED
            winners.append(signup)
        else:
            signup.status = SignupStatus.WAITLISTED
            waiting.append(signup)
    db_session.flush()
    return Drawn(session, winners, waiting)

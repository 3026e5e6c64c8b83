"""Signing in and out: staff sessions and login throttling.

A session is a random 32-byte token in the `madoguchi_session` cookie; the database keeps only
its SHA-256 digest, with the last time it was used (idle timeout) and its CSRF token.

Throttling, per account name and per address: each failure makes the next answer wait longer
(0.5 s, 1 s, 2 s, ...), and the failure that reaches the limit locks the name (or the address)
for a while. Unknown names are treated exactly like real ones, so the answers tell nothing about
which accounts exist. The lock is logged and audited. Attempts on one name are taken one at a
time (see `login`), so parallel attempts cannot check more passwords than the limit allows.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from admin import audit, users
from admin.config import AdminConfig
from admin.models import Actor, LoginAttempt, StaffSession, StaffUser
from bot import clock
from bot.db import Database

log = logging.getLogger("madoguchi.admin.login")

SESSION_COOKIE = "madoguchi_session"
LOGIN_ATTEMPT_RETENTION = timedelta(days=90)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass
class LoginResult:
    user: StaffUser | None = None
    session: StaffSession | None = None
    token: str | None = None
    locked_until: datetime | None = None
    delay_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.token is not None


def _latest(db_session: Session, column: object, *conditions: object) -> datetime | None:
    return db_session.scalar(select(func.max(column)).where(*conditions))  # type: ignore[arg-type]


def _later(*moments: datetime | None) -> datetime:
    return max(m for m in moments if m is not None)


def lock_state(
    *, db_session: Session, name: str, ip: str, user: StaffUser | None, config: AdminConfig
) -> datetime | None:
    """Until when this name or this address may not sign in (None: it may)."""
    now = clock.now()
    name_conditions = [LoginAttempt.name == name]
    if user is not None and user.unlocked_at is not None:
        name_conditions.append(LoginAttempt.at > user.unlocked_at)
    name_lock = _latest(db_session, LoginAttempt.locks_name_until, *name_conditions)
    ip_lock = _latest(db_session, LoginAttempt.locks_ip_until, LoginAttempt.ip == ip)
    locks = [lock for lock in (name_lock, ip_lock) if lock is not None and lock > now]
    return max(locks) if locks else None


def _failures_since_reset(
    *, db_session: Session, name: str, ip: str, user: StaffUser | None, config: AdminConfig
) -> tuple[int, int]:
    """Recent failures for the name (since its last success, unlock or lock) and for the address."""
    now = clock.now()
    window_start = now - timedelta(minutes=config.login_window_minutes)
    name_reset = _later(
        window_start,
        _latest(db_session, LoginAttempt.at, LoginAttempt.name == name, LoginAttempt.succeeded.is_(True)),
        # A lock that has run out starts the count afresh (one lifted early by an admin: unlocked_at).
        _latest(
            db_session, LoginAttempt.locks_name_until, LoginAttempt.name == name, LoginAttempt.locks_name_until <= now
        ),
        user.unlocked_at if user is not None else None,
    )
    ip_reset = _later(
        window_start,
        _latest(db_session, LoginAttempt.locks_ip_until, LoginAttempt.ip == ip, LoginAttempt.locks_ip_until <= now),
    )
    failed = LoginAttempt.succeeded.is_(False)
    name_failures = db_session.scalar(
        select(func.count()).where(LoginAttempt.name == name, failed, LoginAttempt.at > name_reset)
    )
    ip_failures = db_session.scalar(
        select(func.count()).where(LoginAttempt.ip == ip, failed, LoginAttempt.at > ip_reset)
    )
    return int(name_failures or 0), int(ip_failures or 0)


def failure_delay(failures: int, config: AdminConfig) -> float:
    if failures <= 0 or config.login_delay_seconds <= 0:
        return 0.0
    return min(config.login_delay_seconds * 2 ** (failures - 1), config.login_delay_max_seconds)


class _AccountQueue:
    """One login attempt per account name at a time among this process's threads (the waiting
    holds no database connection and no transaction). An entry lives while someone holds or
    waits for it, so names sprayed by an attacker leave nothing behind."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock, holders = self._entries.setdefault(name, (threading.Lock(), [0]))
            holders[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                holders[0] -= 1
                if holders[0] == 0:
                    del self._entries[name]


_account_queue = _AccountQueue()


def _advisory_key(name: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit key) that stands for one account name."""
    return int.from_bytes(hashlib.sha256(f"madoguchi.login:{name}".encode()).digest()[:8], "big", signed=True)


@dataclass(frozen=True)
class _Account:
    """What checking a password needs, read in one short transaction."""

    user_id: int | None
    # The hash to check against (None: unknown name or inactive account; the dummy is checked).
    password_hash: str | None
    locked_until: datetime | None


def _read_account(*, db_session: Session, name: str, ip: str, config: AdminConfig) -> _Account:
    user = users.get_by_name(db_session=db_session, name=name) if name else None
    return _Account(
        user_id=user.id if user is not None else None,
        password_hash=user.password_hash if user is not None and user.is_active else None,
        locked_until=lock_state(db_session=db_session, name=name, ip=ip, user=user, config=config),
    )


def _refused(name: str, ip: str, locked_until: datetime) -> LoginResult:
    # Not recorded: tries during a lock neither extend it nor fill the table.
    log.warning("staff login refused while locked: name=%r ip=%s until=%s", name, ip, locked_until.isoformat())
    return LoginResult(locked_until=locked_until)


def login(
    *,
    db: Database,
    name: str,
    password: str,
    ip: str,
    user_agent: str | None,
    config: AdminConfig,
) -> LoginResult:
    """Checks the password under the throttle; on success starts a session (the token is in the result).

    Attempts on one account name are taken one at a time, from the lock check to the recorded
    outcome, so however many arrive together at most `login_max_failures` passwords are checked
    before the lock: among this process's threads by an in-process queue, and on PostgreSQL
    across processes by an advisory lock held by the attempt's transaction. On SQLite the password
    is checked with no transaction open: argon2 never holds the one write lock that LINE's
    acknowledgements wait for (SQLite runs as one process, so the in-process queue is enough).
    """
    name = name.strip()[:64]
    ip = (ip or "unknown")[:64]
    # A locked name or address is refused at once, without queueing behind the attempts on it.
    with db.session() as db_session:
        locked_until = _read_account(db_session=db_session, name=name, ip=ip, config=config).locked_until
    if locked_until is not None:
        return _refused(name, ip, locked_until)
    with _account_queue.hold(name):
        if db.dialect == "postgresql":
            with db.session() as db_session:
                db_session.execute(select(func.pg_advisory_xact_lock(_advisory_key(name))))
                account = _read_account(db_session=db_session, name=name, ip=ip, config=config)
                if account.locked_until is not None:
                    return _refused(name, ip, account.locked_until)
                ok = users.verify_password(account.password_hash, password)
                return _record(
                    db_session=db_session,
                    account=account,
                    ok=ok,
                    name=name,
                    password=password,
                    ip=ip,
                    user_agent=user_agent,
                    config=config,
                )
        with db.session() as db_session:
            account = _read_account(db_session=db_session, name=name, ip=ip, config=config)
        if account.locked_until is not None:
            return _refused(name, ip, account.locked_until)
        ok = users.verify_password(account.password_hash, password)
        with db.session() as db_session:
            return _record(
                db_session=db_session,
                account=account,
                ok=ok,
                name=name,
                password=password,
                ip=ip,
                user_agent=user_agent,
                config=config,
            )


def _record(
    *,
    db_session: Session,
    account: _Account,
    ok: bool,
    name: str,
    password: str,
    ip: str,
    user_agent: str | None,
    config: AdminConfig,
) -> LoginResult:
    """The attempt's outcome: a session on success; on failure, the count and perhaps a lock."""
    now = clock.now()
    user = db_session.get(StaffUser, account.user_id) if account.user_id is not None else None
    if ok and (user is None or not user.is_active or user.password_hash != account.password_hash):
        ok = False  # changed while the password was being checked (deactivated, new password)
    attempt = LoginAttempt(at=now, name=name, ip=ip, succeeded=ok)
    db_session.add(attempt)
    db_session.flush()

    if ok and user is not None:
        users.rehash_if_needed(user=user, password=password)
        user.last_login_at = now
        staff_session, token = start(db_session=db_session, user=user, ip=ip, user_agent=user_agent)
        purge(db_session=db_session, config=config)
        audit.record(
            db_session=db_session,
            actor=Actor(id=user.id, name=user.name, role=user.role, ip=ip),
            action="login",
            target_type="staff_user",
            target_id=user.id,
        )
        return LoginResult(user=user, session=staff_session, token=token)

    name_failures, ip_failures = _failures_since_reset(
        db_session=db_session, name=name, ip=ip, user=user, config=config
    )
    log.info("staff login failed: name=%r ip=%s (failure %d for the name)", name, ip, name_failures)
    lock_until = now + timedelta(minutes=config.login_lock_minutes)
    locked_what = []
    if name_failures >= config.login_max_failures:
        attempt.locks_name_until = lock_until
        locked_what.append("name")
    if ip_failures >= config.login_ip_max_failures:
        attempt.locks_ip_until = lock_until
        locked_what.append("ip")
    if locked_what:
        db_session.flush()
        log.warning(
            "staff login locked (%s) after repeated failures: name=%r ip=%s failures=%d/%d until=%s",
            "+".join(locked_what),
            name,
            ip,
            name_failures,
            ip_failures,
            lock_until.isoformat(),
        )
        audit.record(
            db_session=db_session,
            actor=None,
            action="login.locked",
            target_type="staff_user",
            target_id=name or None,
            ip=ip,
            after={
                "locked": locked_what,
                "name_failures": name_failures,
                "ip_failures": ip_failures,
                "until": lock_until,
            },
            summary=f"{name} / {ip}",
        )
        return LoginResult(locked_until=lock_until, delay_seconds=failure_delay(name_failures, config))
    return LoginResult(delay_seconds=failure_delay(max(name_failures, 1), config))


def start(*, db_session: Session, user: StaffUser, ip: str | None, user_agent: str | None) -> tuple[StaffSession, str]:
    """A new session (never a reused one: a session token planted before login is worthless)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    staff_session = StaffSession(
        token_hash=digest(token),
        staff_user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        ip=(ip or None) and ip[:64],
        user_agent=(user_agent or None) and user_agent[:300],
    )
    db_session.add(staff_session)
    db_session.flush()
    return staff_session, token


@dataclass
class SessionCheck:
    session: StaffSession | None
    user: StaffUser | None
    expired: bool = False


def check(*, db_session: Session, token: str | None, config: AdminConfig) -> SessionCheck:
    """The live session for a cookie, touching it; an idle or too old one is ended (expired=True)."""
    if not token:
        return SessionCheck(None, None)
    staff_session = db_session.scalars(
        select(StaffSession).where(StaffSession.token_hash == digest(token))
    ).one_or_none()
    if staff_session is None:
        return SessionCheck(None, None)
    now = clock.now()
    idle = now - staff_session.last_seen_at > timedelta(minutes=config.session_idle_minutes)
    too_old = now - staff_session.created_at > timedelta(hours=config.session_max_hours)
    user = db_session.get(StaffUser, staff_session.staff_user_id)
    if idle or too_old or user is None or not user.is_active:
        db_session.delete(staff_session)
        db_session.flush()
        return SessionCheck(None, None, expired=idle or too_old)
    # Touch at most every 15 s: the idle clock needs no finer grain, the database fewer writes.
    if now - staff_session.last_seen_at > timedelta(seconds=15):
        staff_session.last_seen_at = now
        db_session.flush()
    return SessionCheck(staff_session, user)


def end(*, db_session: Session, token: str | None) -> StaffUser | None:
    """Logs out: the session row goes; answers whose it was."""
    if not token:
        return None
    staff_session = db_session.scalars(
        select(StaffSession).where(StaffSession.token_hash == digest(token))
    ).one_or_none()
    if staff_session is None:
        return None
    user = db_session.get(StaffUser, staff_session.staff_user_id)
    db_session.delete(staff_session)
    db_session.flush()
    return user


def get_csrf(*, db_session: Session, token: str | None) -> str | None:
    if not token:
        return None
    return db_session.scalar(select(StaffSession.csrf_token).where(StaffSession.token_hash == digest(token)))


def purge(*, db_session: Session, config: AdminConfig) -> None:
    """Drops sessions past their idle or absolute limit and login attempts past retention."""
    now = clock.now()
    db_session.execute(
        delete(StaffSession).where(
            (StaffSession.last_seen_at < now - timedelta(minutes=config.session_idle_minutes))
            | (StaffSession.created_at < now - timedelta(hours=config.session_max_hours))
        )
    )
    db_session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - LOGIN_ATTEMPT_RETENTION))
    db_session.flush()

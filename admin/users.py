"""Staff accounts: create, change, passwords (argon2), the demo login."""

from __future__ import annotations

import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from admin import audit
from admin.models import (
    PASSWORD_MIN_LENGTH,
    Actor,
    StaffRole,
    StaffSession,
    StaffUser,
    StaffUserCreate,
    StaffUserRead,
    StaffUserUpdate,
)
from bot import clock

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

DEMO_USER = "demo"

# argon2 is made to be dear; at most this many run at once (half the cores), so that a flood of
# login attempts queues here instead of taking every core from the webhook and the processor.
_hashing = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))


class UserExists(Exception):
    """A staff account with this name already exists."""


class PasswordTooShort(ValueError):
    def __init__(self) -> None:
        super().__init__(f"password must be at least {PASSWORD_MIN_LENGTH} characters")


class LastAdmin(Exception):
    """The change would leave no active administrator."""


def use_hasher(hasher: PasswordHasher) -> None:
    """Swaps the argon2 parameters (the test suite uses cheap ones; production keeps the defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordTooShort()
    with _hashing:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is an account (pass None for an unknown name)."""
    try:
        with _hashing:
            _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def rehash_if_needed(*, user: StaffUser, password: str) -> None:
    """Upgrades the stored hash after a successful login when argon2's parameters have grown."""
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)


def get(*, db_session: Session, staff_user_id: int) -> StaffUser | None:
    return db_session.get(StaffUser, staff_user_id)


def get_by_name(*, db_session: Session, name: str) -> StaffUser | None:
    return db_session.scalars(select(StaffUser).where(StaffUser.name == name)).one_or_none()


def get_all(*, db_session: Session) -> list[StaffUser]:
    return list(db_session.scalars(select(StaffUser).order_by(StaffUser.name)))


def create(*, db_session: Session, user_in: StaffUserCreate, actor: Actor) -> StaffUser:
    if get_by_name(db_session=db_session, name=user_in.name) is not None:
        raise UserExists(user_in.name)
    now = clock.now()
    user = StaffUser(
        name=user_in.name,
        display_name=user_in.display_name,
        role=user_in.role,
        password_hash=hash_password(user_in.password),
        is_active=True,
        created_at=now,
        updated_at=now,
        password_changed_at=now,
    )
    db_session.add(user)
    db_session.flush()
    audit.record(
        db_session=db_session,
        actor=actor,
        action="user.create",
        target_type="staff_user",
        target_id=user.id,
        after=StaffUserRead.model_validate(user),
        summary=user.name,
    )
    return user


def _active_admins_besides(*, db_session: Session, user: StaffUser) -> int:
    query = select(func.count()).where(
        StaffUser.role == StaffRole.ADMIN, StaffUser.is_active.is_(True), StaffUser.id != user.id
    )
    return int(db_session.scalar(query) or 0)


def update(*, db_session: Session, user: StaffUser, user_in: StaffUserUpdate, actor: Actor) -> StaffUser:
    changes = user_in.model_dump(exclude_unset=True)
    before = StaffUserRead.model_validate(user)
    stays_admin = changes.get("role", user.role) == StaffRole.ADMIN and changes.get("is_active", user.is_active)
    if (
        user.role == StaffRole.ADMIN
        and user.is_active
        and not stays_admin
        and _active_admins_besides(db_session=db_session, user=user) == 0
    ):
        raise LastAdmin(user.name)
    for field, value in changes.items():
        setattr(user, field, value)
    user.updated_at = clock.now()
    if changes.get("is_active") is False:
        db_session.execute(delete(StaffSession).where(StaffSession.staff_user_id == user.id))
    db_session.flush()
    after = StaffUserRead.model_validate(user)
    if after != before:
        audit.record(
            db_session=db_session,
            actor=actor,
            action="user.update",
            target_type="staff_user",
            target_id=user.id,
            before=before,
            after=after,
            summary=user.name,
        )
    return user


def set_password(*, db_session: Session, user: StaffUser, password: str, actor: Actor) -> StaffUser:
    """New password; every session of the account ends (a stolen session dies with the old password)."""
    user.password_hash = hash_password(password)
    now = clock.now()
    user.password_changed_at = now
    user.updated_at = now
    db_session.execute(delete(StaffSession).where(StaffSession.staff_user_id == user.id))
    db_session.flush()
    audit.record(
        db_session=db_session,
        actor=actor,
        action="user.password",
        target_type="staff_user",
        target_id=user.id,
        summary=user.name,
    )
    return user


def unlock(*, db_session: Session, user: StaffUser, actor: Actor) -> StaffUser:
    """Earlier failed logins stop counting towards the account's lock."""
    user.unlocked_at = clock.now()
    db_session.flush()
    audit.record(
        db_session=db_session,
        actor=actor,
        action="user.unlock",
        target_type="staff_user",
        target_id=user.id,
        summary=user.name,
    )
    return user


def new_password() -> str:
    """A random password that is easy to type: 16 characters without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def ensure_demo_user(*, db_session: Session, password: str | None = None) -> tuple[str, str]:
    """Creates (or resets) the demo administrator with `password` (the one kept in ./var by `madoguchi
    demo`), or a fresh random one; answers (name, password)."""
    password = password or new_password()
    actor = Actor.system()
    user = get_by_name(db_session=db_session, name=DEMO_USER)
    if user is None:
        create(
            db_session=db_session,
            user_in=StaffUserCreate(name=DEMO_USER, role=StaffRole.ADMIN, password=password, display_name="デモ職員"),
            actor=actor,
        )
        return DEMO_USER, password
    update(db_session=db_session, user=user, user_in=StaffUserUpdate(role=StaffRole.ADMIN, is_active=True), actor=actor)
    set_password(db_session=db_session, user=user, password=password, actor=actor)
    unlock(db_session=db_session, user=user, actor=actor)
    return DEMO_USER, password

"""Staff API tokens for /api/v1: shown once when made, stored as a SHA-256 digest, revocable.

A token acts as its staff member, with that member's current role; a deactivated member's
tokens stop working at once.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor, ApiToken, ApiTokenCreate, ApiTokenRead, StaffUser
from admin.sessions import digest
from bot import clock

TOKEN_PREFIX = "mdg_"


class StaffUserNotFound(Exception):
    pass


def get(*, db_session: Session, api_token_id: int) -> ApiToken | None:
    return db_session.get(ApiToken, api_token_id)


def get_all(*, db_session: Session, include_revoked: bool = True) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(db_session.scalars(query))


def create(*, db_session: Session, token_in: ApiTokenCreate, actor: Actor) -> tuple[ApiToken, str]:
    """Answers the row and the token itself, which exists nowhere else afterwards."""
    user = db_session.get(StaffUser, token_in.staff_user_id)
    if user is None:
        raise StaffUserNotFound(token_in.staff_user_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken(
        staff_user_id=user.id,
        name=token_in.name,
        token_hash=digest(secret),
        token_prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_at=clock.now(),
        created_by=actor.name[:64],
    )
    db_session.add(api_token)
    db_session.flush()
    audit.record(
        db_session=db_session,
        actor=actor,
        action="token.create",
        target_type="api_token",
        target_id=api_token.id,
        after=ApiTokenRead.model_validate(api_token),
        summary=f"{user.name}: {api_token.name}",
    )
    return api_token, secret


def revoke(*, db_session: Session, api_token: ApiToken, actor: Actor) -> ApiToken:
    if api_token.revoked_at is not None:
        return api_token
    before = ApiTokenRead.model_validate(api_token)
    api_token.revoked_at = clock.now()
    db_session.flush()
    audit.record(
        db_session=db_session,
        actor=actor,
        action="token.revoke",
        target_type="api_token",
        target_id=api_token.id,
        before=before,
        after=ApiTokenRead.model_validate(api_token),
        summary=api_token.name,
    )
    return api_token


def authenticate(*, db_session: Session, secret: str) -> tuple[ApiToken, StaffUser] | None:
    """The live token and its active staff member, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    api_token = db_session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(secret))).one_or_none()
    if api_token is None or api_token.revoked_at is not None:
        return None
    user = db_session.get(StaffUser, api_token.staff_user_id)
    if user is None or not user.is_active:
        return None
    now = clock.now()
    if api_token.last_used_at is None or now - api_token.last_used_at > timedelta(minutes=1):
        api_token.last_used_at = now
        db_session.flush()
    return api_token, user

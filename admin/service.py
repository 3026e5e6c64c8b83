"""What code outside admin/ calls (the demo seeding, the command line).

The services themselves live by subject: users, sessions, tokens, audit.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import tokens, users
from admin.models import Actor, ApiTokenCreate, StaffRole, StaffUser, StaffUserCreate
from admin.users import ensure_demo_user

__all__ = ["create_token_for", "create_user", "ensure_demo_user"]


class StaffUserNotFound(Exception):
    pass


def create_user(
    *, db_session: Session, name: str, role: StaffRole | str, password: str, actor: Actor | None = None
) -> StaffUser:
    """Creates a staff account (raises users.UserExists, pydantic.ValidationError for a bad name or password)."""
    user_in = StaffUserCreate(name=name, role=StaffRole(role), password=password)
    return users.create(db_session=db_session, user_in=user_in, actor=actor or Actor.command_line())


def create_token_for(*, db_session: Session, name: str, label: str, actor: Actor | None = None) -> str:
    """Creates an API token for the staff member called `name`; answers the token (shown once)."""
    user = users.get_by_name(db_session=db_session, name=name)
    if user is None:
        raise StaffUserNotFound(name)
    _, secret = tokens.create(
        db_session=db_session,
        token_in=ApiTokenCreate(staff_user_id=user.id, name=label),
        actor=actor or Actor.command_line(),
    )
    return secret

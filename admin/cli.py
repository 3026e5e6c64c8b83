"""`madoguchi admin ...`: staff accounts and API tokens from the command line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from admin.models import PASSWORD_MIN_LENGTH, StaffRole

if TYPE_CHECKING:
    from bot.db import Database


def _database() -> Database:
    from bot.db import Database
    from bot.settings import ConfigError, get_settings

    try:
        return Database(get_settings().database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < PASSWORD_MIN_LENGTH:
        raise click.ClickException(f"the password must be at least {PASSWORD_MIN_LENGTH} characters")
    return password


@click.group("admin")
def admin_group() -> None:
    """Staff accounts and API tokens for the admin UI and /api/v1."""


@admin_group.command("create-user")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in StaffRole]),
    help="admin, counter, broadcaster or viewer",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_user(name: str, role: str, password_stdin: bool) -> None:
    """Create a staff account (prompts for the password)."""
    from admin import service, users

    password = _read_password(password_stdin)
    db = _database()
    try:
        with db.session() as db_session:
            service.create_user(db_session=db_session, name=name, role=role, password=password)
    except users.UserExists:
        raise click.ClickException(f"a staff user named {name!r} already exists") from None
    except ValidationError:
        raise click.ClickException("the name may contain only letters, digits, '.', '_' and '-' (max 64)") from None
    finally:
        db.dispose()
    click.echo(f"created staff user {name} ({role})")


@admin_group.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password(name: str, password_stdin: bool) -> None:
    """Set a staff member's password, end their sessions and lift a login lock (recovery)."""
    from admin import users
    from admin.models import Actor

    password = _read_password(password_stdin)
    db = _database()
    try:
        with db.session() as db_session:
            user = users.get_by_name(db_session=db_session, name=name)
            if user is None:
                raise click.ClickException(f"no staff user named {name!r}")
            actor = Actor.command_line()
            users.set_password(db_session=db_session, user=user, password=password, actor=actor)
            users.unlock(db_session=db_session, user=user, actor=actor)
    finally:
        db.dispose()
    click.echo(f"password set for {name}")


@admin_group.command("create-token")
@click.option("--user", "user_name", required=True, help="The staff member the token acts as.")
@click.option("--name", "label", default="cli", show_default=True, help="What the token is for.")
def create_token(user_name: str, label: str) -> None:
    """Create an API token for /api/v1 and print it (this once only)."""
    from admin import service

    db = _database()
    try:
        with db.session() as db_session:
            secret = service.create_token_for(db_session=db_session, name=user_name, label=label[:100] or "cli")
    except service.StaffUserNotFound:
        raise click.ClickException(f"no staff user named {user_name!r}") from None
    finally:
        db.dispose()
    click.echo(secret)
    click.echo("(store it now: it is not shown again)", err=True)

"""Staff admin test helpers: accounts for every role, signed-in HTTP clients, API tokens."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from admin.models import Actor, StaffRole
from admin.service import create_token_for, create_user
from bot import citizens as citizen_service
from bot import clock
from bot.inbox import InboxEvent, InboxStatus
from tests.support import LiveApp

PASSWORD = "correct-horse-battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class SignedIn:
    """A staff member with a browser-like session (cookie jar) and an API token."""

    name: str
    role: StaffRole
    client: httpx.Client
    token: str

    @property
    def csrf(self) -> str:
        return page_csrf(self.client.get("/admin/"))

    def post(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        """A form post with this session's CSRF token, as the page's own form would send it."""
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})})

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=str(self.client.base_url), headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )


def page_csrf(response: httpx.Response) -> str:
    match = CSRF_INPUT.search(response.text)
    assert match, f"no CSRF field on {response.request.url} ({response.status_code})"
    return match.group(1)


def add_staff(app: LiveApp, name: str, role: StaffRole | str, password: str = PASSWORD) -> None:
    with app.db.session() as db_session:
        create_user(db_session=db_session, name=name, role=role, password=password, actor=Actor.system())


def new_token(app: LiveApp, name: str) -> str:
    with app.db.session() as db_session:
        return create_token_for(db_session=db_session, name=name, label="test", actor=Actor.system())


def login_response(client: httpx.Client, name: str, password: str, *, next_url: str = "/admin/") -> httpx.Response:
    form = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"name": name, "password": password, "csrf_token": page_csrf(form), "next": next_url},
    )


def sign_in(app: LiveApp, name: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=app.base_url, follow_redirects=False, timeout=10)
    response = login_response(client, name, password)
    assert response.status_code == 303, response.text
    return client


def add_citizen(app: LiveApp, name: str, *, blocked: bool = False) -> str:
    line_user_id = "U" + uuid.uuid4().hex
    with app.db.session() as db_session:
        citizen_service.follow(
            db_session=db_session,
            line_user_id=line_user_id,
            profile=citizen_service.CitizenProfile(display_name=name),
        )
        if blocked:
            citizen_service.block(db_session=db_session, line_user_id=line_user_id)
    return line_user_id


def add_dead_letter(app: LiveApp, error: str = "ValueError: flow bug") -> int:
    now = clock.now()
    with app.db.session() as db_session:
        event = InboxEvent(
            event_key=uuid.uuid4().hex,
            event_type="message",
            chat_id=None,  # no chat: nothing else waits on it
            user_id=None,
            mode="standby",  # processing it again does nothing visible
            is_redelivery=False,
            event_time=now - timedelta(minutes=30),
            received_at=now - timedelta(minutes=30),
            payload={"type": "message", "mode": "standby", "timestamp": 0, "message": {"type": "text", "text": "x"}},
            status=InboxStatus.DEAD,
            attempts=5,
            next_attempt_at=now,
            last_error=error,
            processed_at=now,
        )
        db_session.add(event)
        db_session.flush()
        return event.id


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """argon2 at production cost takes ~0.2 s a hash; these tests hash hundreds of times."""
    from argon2 import PasswordHasher

    from admin import users

    previous = users._hasher
    users.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    users.use_hasher(previous)


@pytest.fixture
def admin_app(app: LiveApp) -> LiveApp:
    """The live app with the failed-login delay off (the lock itself stays on)."""
    app.app.state.admin_config.login_delay_seconds = 0
    return app


@pytest.fixture
def staff(admin_app: LiveApp) -> Iterator[dict[StaffRole, SignedIn]]:
    """One signed-in staff member per role, each with an API token."""
    people: dict[StaffRole, SignedIn] = {}
    for role in StaffRole:
        name = f"{role.value}-user"
        add_staff(admin_app, name, role)
        people[role] = SignedIn(name=name, role=role, client=sign_in(admin_app, name), token=new_token(admin_app, name))
    yield people
    for person in people.values():
        person.client.close()

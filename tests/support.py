"""Test support: fresh migrated databases on SQLite and PostgreSQL, and a live app on a real port.

PostgreSQL: each test gets its own database, cloned from a template migrated once per run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import psycopg
import uvicorn
from fastapi import FastAPI

from bot.app import create_app
from bot.capability import Capabilities
from bot.db import Database
from bot.messages import WORD_JOINER
from bot.migrate import upgrade
from bot.settings import Settings, load_settings

POSTGRES_URL = os.environ.get("MADOGUCHI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_unreachable_reason() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
    return None


def _admin_url(database: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{database}"


class DatabaseFactory:
    """Hands out fresh, migrated databases; remembers what to clean up."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite_template: Path | None = None
        self._pg_template: str | None = None
        self._pg_created: list[str] = []

    def sqlite(self) -> str:
        if self._sqlite_template is None:
            self._sqlite_template = self.workdir / "template.db"
            upgrade(f"sqlite:///{self._sqlite_template}")
        target = self.workdir / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self._sqlite_template, target)
        return f"sqlite:///{target}"

    def postgresql(self) -> str:
        if self._pg_template is None:
            name = f"madoguchi_tmpl_{os.getpid()}"
            self._execute(f'DROP DATABASE IF EXISTS "{name}"')
            self._execute(f'CREATE DATABASE "{name}"')
            upgrade(_admin_url(name))
            self._pg_template = name
            self._pg_created.append(name)
        name = f"madoguchi_t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_template}"')
        self._pg_created.append(name)
        return _admin_url(name)

    def drop(self, url: str) -> None:
        if url.startswith("postgresql"):
            name = url.rsplit("/", 1)[-1]
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if name in self._pg_created:
                self._pg_created.remove(name)
        else:
            Path(url.split("///", 1)[-1]).unlink(missing_ok=True)

    def close(self) -> None:
        for name in reversed(self._pg_created):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def _execute(sql: str) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_app(app: FastAPI, port: int) -> Iterator[None]:
    """Any ASGI app on 127.0.0.1:port in a background thread, for as long as the block runs."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_settings(database_url: str, port: int, **overrides: Any) -> Settings:
    base = f"http://127.0.0.1:{port}"
    values: dict[str, Any] = {
        "database_url": database_url,
        "line_channel_secret": "test-channel-secret",
        "line_channel_access_token": "test-access-token",
        "line_api_base_url": f"{base}/sandbox/line",
        "line_data_api_base_url": f"{base}/sandbox/line",
        "public_base_url": base,
        "secret_key": secrets.token_urlsafe(32),
        "sandbox_enabled": True,
        "demo_mode": False,
        "worker_poll_seconds": 0.05,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class LiveApp:
    app: FastAPI
    settings: Settings
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def sandbox(self) -> Any:
        return self.app.state.sandbox

    @property
    def db(self) -> Database:
        return self.app.state.db

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_live_app(settings: Settings, port: int, capabilities: Capabilities | None = None) -> LiveApp:
    app = create_app(settings, capabilities=capabilities)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return LiveApp(app=app, settings=settings, base_url=f"http://127.0.0.1:{port}", server=server, thread=thread)


@contextmanager
def live_app(database_url: str, capabilities: Capabilities | None = None, **overrides: Any) -> Iterator[LiveApp]:
    """The product on a free port; with `capabilities`, only those (default: bot/capabilities.py's list)."""
    port = free_port()
    running = start_live_app(test_settings(database_url, port, **overrides), port, capabilities)
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def worker_process(settings: Settings) -> Iterator[None]:
    """`madoguchi worker`'s loop in a thread with its own event loop (as a separate process would)."""
    from bot.worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(run_worker(settings, stop)), daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        assert not thread.is_alive(), "the worker did not stop"


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    import base64
    import hashlib
    import hmac

    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"content-type": "application/json", "x-line-signature": signature}


def post_webhook(
    running: LiveApp, events: list[dict[str, Any]], *, secret: str | None = None, headers: dict[str, str] | None = None
) -> Any:
    """Sends a signed webhook body to /callback over real HTTP; answers the httpx response."""
    import json

    import httpx

    body = json.dumps({"destination": "U" + "0" * 32, "events": events}, ensure_ascii=False).encode()
    sent_headers = signed_headers(secret or running.settings.line_channel_secret, body)
    sent_headers.update(headers or {})
    return httpx.post(f"{running.base_url}/callback", content=body, headers=sent_headers, timeout=10)


def wait_until(predicate: Any, *, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def inbox_statuses(running: LiveApp) -> dict[str, int]:
    from bot import inbox as inbox_service

    with running.db.session() as db_session:
        return inbox_service.count_by_status(db_session=db_session)


def settled(running: LiveApp) -> bool:
    """Nothing left to process or send."""
    from bot import inbox as inbox_service
    from bot import outbox as outbox_service

    with running.db.session() as db_session:
        inbox = inbox_service.count_by_status(db_session=db_session)
        outbox = outbox_service.count_by_status(db_session=db_session)
    return inbox["pending"] == 0 and inbox["processing"] == 0 and outbox["pending"] == 0 and outbox["sending"] == 0


def texts(deliveries: list[Any]) -> list[str]:
    """Every text a citizen saw in these deliveries (text messages and Flex alt texts), as `message_text`."""
    return [message_text(m) for delivery in deliveries for m in delivery.messages if m.get("type") in ("text", "flex")]


# --- chatting as a citizen through the LINE sandbox ----------------------------------------------
# `say` and `tap` answer the LAST message of the bot's answer (one LINE message, as JSON);
# `say_all`, `tap_all` and `send_location_all` answer EVERY message of it (the reply and any pushes
# after it), in order. Each waits until the answer has come and nothing is left to process or send,
# so what comes next in a test (another message, a jump of the clock) meets a settled app.


def new_citizen(app: LiveApp, name: str = "瀬戸内 花子") -> str:
    """A LINE user the sandbox knows (with a profile), who has not written yet."""
    user_id = "U" + uuid.uuid4().hex
    app.sandbox.add_user(user_id, name)
    return user_id


def _answer(app: LiveApp, user: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [event]).status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user)[before:], what="the bot's answer")
    wait_until(lambda: settled(app), what="the answer settled")
    return [without_joiners(m) for delivery in app.sandbox.deliveries(to=user)[before:] for m in delivery.messages]


def without_joiners(node: Any) -> Any:
    """A copy of a message's JSON without the invisible word joiners the bot puts in phone numbers to
    keep them on one line (bot.messages.keep_phone_numbers_together): what the citizen reads, to
    compare with `t(...)` and data. tests/bot/test_phone_numbers.py checks the joiners themselves."""
    if isinstance(node, str):
        return node.replace(WORD_JOINER, "")
    if isinstance(node, list):
        return [without_joiners(item) for item in node]
    if isinstance(node, dict):
        return {key: without_joiners(value) for key, value in node.items()}
    return node


def say_all(app: LiveApp, user: str, text: str) -> list[dict[str, Any]]:
    """Sends a text as the citizen; answers every message of the bot's answer."""
    return _answer(app, user, app.sandbox.make_event("text", user, text=text))


def tap_all(app: LiveApp, user: str, data: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Taps a postback button with this data (a date picker: with params); answers every message."""
    kwargs: dict[str, Any] = {"data": data}
    if params:
        kwargs["params"] = params
    return _answer(app, user, app.sandbox.make_event("postback", user, **kwargs))


def send_location_all(app: LiveApp, user: str, lat: float, lon: float, title: str = "現在地") -> list[dict[str, Any]]:
    """Sends a location as the citizen; answers every message of the bot's answer."""
    event = app.sandbox.make_event("location", user, latitude=lat, longitude=lon, title=title, address="")
    return _answer(app, user, event)


def say(app: LiveApp, user: str, text: str) -> dict[str, Any]:
    """Sends a text as the citizen; answers the last message of the bot's answer."""
    return say_all(app, user, text)[-1]


def tap(app: LiveApp, user: str, data: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    """Taps a postback button; answers the last message of the bot's answer."""
    return tap_all(app, user, data, params)[-1]


def quick_replies(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The actions of a message's quick reply buttons."""
    return [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]


def fields(action: dict[str, Any]) -> dict[str, str]:
    """A postback action's data, as a dict."""
    return {k: v[0] for k, v in parse_qs(action.get("data", "")).items()}


def button(message: dict[str, Any], label_start: str) -> dict[str, Any]:
    """The quick reply or Flex footer button whose label starts with `label_start`."""
    actions = quick_replies(message)
    if message.get("type") == "flex":
        footer = (message["contents"].get("footer") or {}).get("contents", [])
        actions += [b["action"] for b in footer]
    found = [a for a in actions if a["label"].startswith(label_start)]
    assert found, f"no button {label_start!r} in {[a['label'] for a in actions]}"
    return found[0]


def message_text(message: dict[str, Any]) -> str:
    """A text message's text, or a Flex message's alt text, without the word joiners that keep phone
    numbers on one line (bot.messages.keep_phone_numbers_together), so it compares with `t(...)`."""
    return (message.get("text") or message.get("altText") or "").replace(WORD_JOINER, "")

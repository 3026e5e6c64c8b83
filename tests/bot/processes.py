"""Real `madoguchi` processes for the tests that kill them: a LINE sandbox that outlives them (in the
test process, on its own port), the environment they run with, and starting, killing and waiting."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from bot.sandbox import SandboxPlatform, create_sandbox_router
from tests.support import free_port, serve_app

ROOT = Path(__file__).resolve().parents[2]
MADOGUCHI = str(Path(sys.executable).parent / "madoguchi")
SECRET = "test-channel-secret"
TOKEN = "test-access-token"


@dataclass
class Sandbox:
    """LINE, standing apart from the bot's processes: it keeps its records when they are killed."""

    platform: SandboxPlatform
    url: str
    bot_url: str
    http: httpx.Client

    def new_user(self) -> str:
        user = "U" + uuid.uuid4().hex
        self.platform.add_user(user, "テスト 利用者")
        return user

    def deliver(self, events: list[dict[str, Any]], *, patience: float = 120.0) -> None:
        """POSTs the events to the bot as LINE does, and again (a redelivery, same webhookEventIds)
        until the bot answers 200: while it is down or restarting, LINE keeps trying."""
        deadline = time.monotonic() + patience
        while True:
            body = self.platform.webhook_body(events)
            headers = {"Content-Type": "application/json", "X-Line-Signature": self.platform.sign(body)}
            try:
                if self.http.post(f"{self.bot_url}/callback", content=body, headers=headers).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the bot did not take the webhook"
            time.sleep(0.2)
            events = self.platform.redeliver(events)


class _CutsAreMeant(logging.Filter):
    """uvicorn logs an error for each connection the sandbox cuts on purpose (drop_after_accepting)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


@contextmanager
def sandbox(bot_port: int) -> Iterator[Sandbox]:
    port = free_port()
    bot_url = f"http://127.0.0.1:{bot_port}"
    platform = SandboxPlatform(channel_secret=SECRET, access_token=TOKEN, webhook_url=f"{bot_url}/callback")
    app = FastAPI()
    app.include_router(create_sandbox_router(platform))
    quiet = _CutsAreMeant()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    try:
        with serve_app(app, port), httpx.Client(timeout=5) as http:
            yield Sandbox(platform, f"http://127.0.0.1:{port}", bot_url, http)
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)


def bot_env(database_url: str, line: Sandbox, **settings: str) -> dict[str, str]:
    """What `madoguchi serve` and `madoguchi worker` run with: LINE is the sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINE_", "MADOGUCHI_"))}
    env.update(
        DATABASE_URL=database_url,
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        LINE_API_BASE_URL=f"{line.url}/sandbox/line",
        LINE_DATA_API_BASE_URL=f"{line.url}/sandbox/line",
        LINE_TIMEOUT_SECONDS="5",
        PUBLIC_BASE_URL="https://madoguchi.test",
        SECRET_KEY=secrets.token_urlsafe(32),
        SCHEDULER_ENABLED="false",
        LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


@dataclass
class Processes:
    """The `madoguchi` processes a test started; each one's output goes to a log file of its own."""

    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{args[0]}-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen([MADOGUCHI, *args], env=self.env, cwd=ROOT, stdout=out, stderr=out)
        self.started.append(process)
        return process

    def output(self, tail: int | None = 3000) -> str:
        """What the processes wrote (the end of each log, or all of it)."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-(tail or 0) :]}" for log in sorted(self.logs.iterdir())
        )

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    logs.mkdir(parents=True, exist_ok=True)
    running = Processes(env, logs)
    try:
        yield running
    finally:
        running.stop_all()


def kill(process: subprocess.Popen[bytes]) -> None:
    """kill -9: no clean-up of any kind."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(
    predicate: Any, *, timeout: float, what: str, interval: float = 0.2, running: Processes | None = None
) -> Any:
    """Waits until `predicate()` is true and answers it; on time-out the processes' logs say why."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}\n{running.output() if running else ''}"
            )
        time.sleep(interval)


def healthz(base_url: str) -> tuple[int, dict[str, Any]] | None:
    """/healthz's status and body, or None while nothing answers."""
    try:
        response = httpx.get(f"{base_url}/healthz", timeout=5)
    except httpx.HTTPError:
        return None
    return response.status_code, response.json()


def query(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def settled(database_url: str) -> bool:
    """Nothing left to process or send."""
    inbox = query(database_url, "SELECT count(*) FROM inbox_events WHERE status IN ('pending', 'processing')")
    outbox = query(database_url, "SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'sending')")
    return inbox[0][0] == 0 and outbox[0][0] == 0


def process_state(pid: int) -> str | None:
    """The kernel's state letter for the process (Z: a zombie nobody reaped), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None

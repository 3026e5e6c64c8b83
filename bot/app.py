"""The app factory: one FastAPI app serving the webhook, health, the admin UI and (demo, tests)
the LINE sandbox, with the inbox processor running in the background unless a worker does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import update

from bot import capabilities as capability_list
from bot import health, qr_media, webhook
from bot.body_limit import BodyLimit
from bot.capability import Capabilities
from bot.db import Database
from bot.inbox import InboxEvent, InboxStatus
from bot.inbox_writer import InboxWriter
from bot.line_client import LineClient
from bot.outbox import OutboxMessage, OutboxStatus
from bot.processor import InboxProcessor
from bot.runtime import configure_process
from bot.settings import Settings, get_settings
from bot.warmup import freeze_heap

log = logging.getLogger(__name__)

# The sandbox stands in for LINE, which takes rich menu images and content up to 10 MB.
SANDBOX_BODY_BYTES = 12_000_000


def release_leases(db: Database) -> None:
    """Single-process mode (SQLite): whatever was in flight when we last stopped is ours again now."""
    with db.session() as db_session:
        db_session.execute(
            update(InboxEvent).where(InboxEvent.status == InboxStatus.PROCESSING).values(status=InboxStatus.PENDING)
        )
        db_session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENDING)
            .values(status=OutboxStatus.PENDING, ambiguous_attempt=True)
        )


def create_app(
    settings: Settings | None = None,
    startup_hooks: Sequence[Callable[[FastAPI], Coroutine[Any, Any, None]]] = (),
    capabilities: Capabilities | None = None,
) -> FastAPI:
    """The app; `startup_hooks` run as background tasks once the app has started. Its capabilities are
    the list in bot/capabilities.py unless given."""
    settings = settings or get_settings()
    capabilities = capabilities or capability_list.load()
    configure_process(settings)
    db = Database(settings.database_url)
    scheduler_module = capability_list.scheduler()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = LineClient(settings)
        app.state.line_client = client
        stop = asyncio.Event()
        task = None
        beating = None
        sending = None
        if settings.process_inbox_in_web:
            if db.dialect == "sqlite":
                release_leases(db)
            processor = InboxProcessor(db, settings, client, capabilities)
            app.state.processor = processor
            task = asyncio.create_task(processor.run_forever(stop), name="inbox-processor")
            app.state.processor_task = task
            # This process drains the inbox: it says so (for web processes that do not, see bot.health).
            heartbeat = health.Heartbeat(db, settings, "web")
            app.state.heartbeat_id = heartbeat.id
            beating = asyncio.create_task(heartbeat.run(stop, alive=lambda: not task.done()), name="heartbeat")
            # The broadcasts' send jobs go out from wherever the outbox does.
            sending = asyncio.create_task(
                capability_list.broadcast_sender().run(db, settings, client, stop), name="broadcast-sender"
            )
        else:
            freeze_heap()  # the processor's warm-up does it when it runs here
        for hook in startup_hooks:
            asyncio.get_running_loop().create_task(hook(app))
        # The capabilities' jobs (reminders, purges; in the database, safe in every process).
        app.state.scheduler = scheduler_module.start(db, settings, capabilities.jobs)
        try:
            yield
        finally:
            scheduler_module.stop(app.state.scheduler)
            stop.set()  # the processor wakes on it
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=10)
            if beating is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(beating, timeout=5)
            if sending is not None:
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(sending, timeout=15)
            await client.close()
            db.dispose()

    app = FastAPI(
        title="madoguchi",
        version="0.1.0",
        lifespan=lifespan,
        # No docs page: Swagger UI would load scripts from a CDN into a page beside the staff admin.
        # The schema itself is served, for API clients and tooling.
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
        # No OpenTelemetry: nothing here exports it, and looking for providers costs every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.capabilities = capabilities
    app.state.db = db
    # The webhook's own writer and thread budget: processing can never take what acknowledges LINE.
    app.state.inbox_writer = InboxWriter(db, retention_days=settings.message_log_retention_days)
    app.state.processor = None
    app.state.processor_task = None
    app.state.heartbeat_id = None
    app.state.sandbox = None
    app.include_router(webhook.router)
    app.include_router(qr_media.router)
    for capability in capabilities:
        if capability.public is not None:
            app.include_router(capability.public())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """503 when the database is unreachable, nobody drains the inbox, or events wait too long."""
        processing: asyncio.Task[None] | None = app.state.processor_task
        status, body = await asyncio.to_thread(
            health.verdict,
            db,
            settings,
            drains_here=processing is not None and not processing.done(),
            own_heartbeat=app.state.heartbeat_id,
        )
        return JSONResponse(body, status_code=status)

    if settings.sandbox_enabled:
        from bot.sandbox import SandboxPlatform, create_sandbox_router

        platform = SandboxPlatform(
            channel_secret=settings.line_channel_secret,
            access_token=settings.line_channel_access_token,
            webhook_url=f"{settings.public_base_url}/callback",
            allow_http_images=True,
        )
        app.state.sandbox = platform
        app.include_router(create_sandbox_router(platform))
        if settings.demo_mode:
            from bot.demo import restore_sandbox_citizens

            restore_sandbox_citizens(platform, db)

    capability_list.staff_ui().register(app, capabilities)
    # Outermost: a body over its limit is refused while it is read, before any route holds it.
    limits = {"/callback": webhook.MAX_BODY_BYTES}
    if settings.sandbox_enabled:
        limits["/sandbox/"] = SANDBOX_BODY_BYTES
    for capability in capabilities:
        limits.update(capability.body_limits)
    app.add_middleware(BodyLimit, limits=limits)
    return app

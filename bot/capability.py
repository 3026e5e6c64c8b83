"""How a capability plugs in: one `Capability` declaration per package (handlers/<cap>/capability.py).

A capability declares, once, everything the platform needs from it: its conversation (and where it
sits in the routing order: the order of the list in bot/capabilities.py), the event kinds it answers,
the intents it owns, its tables, its staff screens, its public routes, its CLI group, its scheduled
jobs, its demo data and its warm-up. The app, the worker, the CLI, the admin and the dispatcher learn
capabilities from `Capabilities` only, built from that one list.

What lives behind the web or the command line (admin screens, routers, click groups) is declared as
a loader, so a worker or a CLI command does not import web code it does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.orm import Session

from bot.flow import Flow, Step
from bot.settings import Settings

if TYPE_CHECKING:
    import click
    from fastapi import APIRouter
    from linebot.v3.messaging import QuickReplyItem


@dataclass(frozen=True)
class Job:
    """A scheduled job: `func` ("module:function", no arguments) runs on `trigger` with `schedule(settings)`.

    Every process with a scheduler runs the standing jobs, so a job must be safe to run twice (a
    unique marker, a conditional UPDATE): nothing relies on the scheduler for "once".
    """

    id: str
    func: str
    name: str
    trigger: Literal["interval", "cron"]
    schedule: Callable[[Settings], Mapping[str, Any]]


@dataclass(frozen=True)
class HistoryRow:
    """One thing a citizen did with a capability, as the citizen's page in the admin lists it."""

    href: str
    text: str
    when: datetime
    what: str
    status: str


@dataclass(frozen=True)
class CitizenHistory:
    """A capability's part of a citizen's page: a heading, what to say when empty, and the rows."""

    key: str
    heading: str
    empty: str
    rows: Sequence[HistoryRow]


@dataclass(frozen=True)
class Capability:
    name: str
    # Its conversations; their entry points are tried in the order of the capability list, then of this.
    flows: Sequence[Flow] = ()
    # Event kinds that are not part of a conversation ("follow", "message.sticker", ...).
    events: Mapping[str, Step] = field(default_factory=dict)
    # What answers when nothing else does (one capability, the welcome desk, declares it).
    fallback: Step | None = None
    # The NLU intents this capability answers: no other capability's stand-in answers them.
    intents: frozenset[str] = frozenset()
    # Modules that define its tables (imported for migrations and the drift test).
    models: Sequence[str] = ()
    # Its admin sections and dashboard panels (admin.nav.Section / DashboardPanel), built per app.
    admin: Callable[[], Sequence[Any]] | None = None
    # Routes outside /admin and /api/v1 (e.g. the QR images LINE loads).
    public: Callable[[], APIRouter] | None = None
    # Its live QR tokens: whether a token's SHA-256 digest is one of them (bot/qr_media.py serves the image).
    qr_tokens: Callable[[Session, str], bool] | None = None
    # What a citizen did with it (bookings, signups, threads), newest first, for the citizen's admin page.
    citizen_history: Callable[[Session, str], CitizenHistory] | None = None
    # Request-body limits (bytes) for its paths that take uploads, e.g. {"/admin/gis/layers": 21_000_000};
    # every other path takes at most 1 MB (bot/body_limit.py).
    body_limits: Mapping[str, int] = field(default_factory=dict)
    # Its `madoguchi <name>` command group.
    cli: Callable[[], click.Command] | None = None
    jobs: Sequence[Job] = ()
    # Demo data (`madoguchi demo`): idempotent, keeps staff edits; runs in its own transaction.
    seed: Callable[[Session], None] | None = None
    # Loads what the first citizen's message would load (caches), before the heap is frozen.
    warmup: Callable[[Session], None] | None = None
    # Buttons it adds under a FAQ answer, given the entry's id (申請・通報's 「LINEで報告する」 under
    # the wildlife entry): the NLU's `faq/<id>` leading to what the capability does.
    faq_buttons: Callable[[Session, str], Sequence[QuickReplyItem]] | None = None


@dataclass(frozen=True)
class Capabilities:
    """The capabilities of one app, in routing order."""

    items: tuple[Capability, ...]

    def __iter__(self) -> Iterator[Capability]:
        return iter(self.items)

    @cached_property
    def flows(self) -> tuple[Flow, ...]:
        """Every flow in routing order: the early ones (Flow.early) first, then by the capability list."""
        ordered = [flow for c in self.items for flow in c.flows]
        return tuple(sorted(ordered, key=lambda flow: not flow.early))

    @cached_property
    def early_flows(self) -> tuple[Flow, ...]:
        return tuple(flow for flow in self.flows if flow.early)

    @cached_property
    def flows_by_name(self) -> dict[str, Flow]:
        return {flow.name: flow for flow in self.flows}

    @cached_property
    def event_routes(self) -> dict[str, Step]:
        routes: dict[str, Step] = {}
        for capability in self.items:
            for kind, step in capability.events.items():
                routes.setdefault(kind, step)
        return routes

    @cached_property
    def taken_kinds(self) -> frozenset[str]:
        """Event kinds some flow's open conversation takes before the event routes (Flow.takes)."""
        return frozenset().union(*(flow.takes for flow in self.flows))

    @cached_property
    def fallback(self) -> Step | None:
        return next((c.fallback for c in self.items if c.fallback is not None), None)

    @cached_property
    def owned_intents(self) -> frozenset[str]:
        return frozenset().union(*(c.intents for c in self.items))

    @cached_property
    def jobs(self) -> tuple[Job, ...]:
        return tuple(job for c in self.items for job in c.jobs)

    @cached_property
    def model_modules(self) -> tuple[str, ...]:
        return tuple(module for c in self.items for module in c.models)

    def faq_buttons(self, db_session: Session, faq_id: str) -> list[QuickReplyItem]:
        """What the capabilities add under the answer of FAQ entry `faq_id`, in the list's order."""
        return [item for c in self.items if c.faq_buttons is not None for item in c.faq_buttons(db_session, faq_id)]

    def named(self, name: str) -> Capability | None:
        return next((c for c in self.items if c.name == name), None)

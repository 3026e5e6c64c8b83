"""The capability list: the one place that names the capabilities, in routing order.

The app, the worker, the CLI, the admin and the dispatcher iterate what `load()` answers; adding a
capability is one package (handlers/<name>/capability.py declaring `CAPABILITY`) and one line here.
The list is of module names, loaded by name: capabilities and the staff UI import the platform
(bot/), never the reverse, so the packages import in one direction only.

Order matters: an event goes to the first capability whose flow's entry points match it. Specific
flows come first; `faq` takes questions and unsure text; `welcome` answers what nobody claims.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from bot.capability import Capabilities, Capability

CAPABILITIES: tuple[str, ...] = (
    "handlers.reservations",
    "handlers.classes",
    "handlers.handoff",
    "handlers.broadcasts",
    # Forms before garbage, GIS and the FAQ: 「イノシシが畑に出た」 is a report, not a question about it.
    "handlers.forms",
    # Garbage before GIS: 「ごみの日の通知」 is about garbage even where the words look like a place question.
    "handlers.garbage",
    "handlers.gis",
    "handlers.faq",
    "handlers.welcome",
)

# The shells the platform runs capabilities in, loaded by name for the same reason.
STAFF_UI = "admin"  # admin.register(app, capabilities): /admin and /api/v1
SCHEDULER = "notifications.scheduler"  # start(db, settings, jobs) / stop(scheduler)
BROADCAST_SENDER = "notifications.sender"  # run(db, settings, client, stop): the send jobs' chunks
CORE_MODELS = (
    "bot.inbox",
    "bot.outbox",
    "bot.citizens",
    "bot.conversation",
    "bot.health",
    "bot.transcript",
    "admin.models",
    "notifications.models",
)


@cache
def load(names: tuple[str, ...] = CAPABILITIES) -> Capabilities:
    """The capabilities named, in that order (each package's `capability.CAPABILITY`)."""
    items: list[Capability] = []
    for name in names:
        capability = importlib.import_module(f"{name}.capability").CAPABILITY
        if not isinstance(capability, Capability):
            raise TypeError(f"{name}.capability.CAPABILITY is not a Capability")
        items.append(capability)
    return Capabilities(tuple(items))


def load_models(capabilities: Capabilities | None = None) -> None:
    """Imports every module that defines tables, so Base.metadata knows the whole schema."""
    for module in (*CORE_MODELS, *(capabilities or load()).model_modules):
        importlib.import_module(module)


def staff_ui() -> ModuleType:
    """The staff UI package: register(app, capabilities), ensure_demo_user(db_session=...), command_group()."""
    return importlib.import_module(STAFF_UI)


def scheduler() -> ModuleType:
    """The scheduler module: start(db, settings, jobs) and stop(scheduler)."""
    return importlib.import_module(SCHEDULER)


def broadcast_sender() -> ModuleType:
    """The broadcast engine's sending loop: run(db, settings, client, stop), beside the outbox's delivery."""
    return importlib.import_module(BROADCAST_SENDER)

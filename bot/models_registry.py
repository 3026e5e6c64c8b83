"""Imports every module that defines tables, so Base.metadata knows the whole schema.

Add a capability's models module here when it gets one (migrations and tests rely on it).
"""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "bot.inbox",
    "bot.outbox",
    "bot.citizens",
    "bot.conversation",
    "admin.models",
    "handlers.faq.models",
    "handlers.handoff.models",
    "handlers.gis.models",
    "handlers.reservations.models",
)


def load_all() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)

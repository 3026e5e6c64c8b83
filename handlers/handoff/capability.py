"""「職員と話したい」: a request for a person, with the office's phone number and hours."""

from __future__ import annotations

from bot.capability import Capability
from handlers.handoff import flow

CAPABILITY = Capability(
    name="handoff",
    flows=(flow.FLOW,),
    intents=frozenset({"handoff"}),
    models=("handlers.handoff.models",),
)

"""「職員と話したい」: a request for a person, with the office's phone number and hours."""

from __future__ import annotations

from bot.capability import Capability, Job
from handlers.handoff import flow

CAPABILITY = Capability(
    name="handoff",
    flows=(flow.FLOW,),
    intents=frozenset({"handoff"}),
    models=("handlers.handoff.models",),
    jobs=(
        Job(
            id="handoff:retention",
            func="handlers.handoff.jobs:purge_requests",
            name="職員への取り次ぎ依頼の削除",
            trigger="cron",
            schedule=lambda settings: {"hour": 3, "minute": 25},
        ),
    ),
)

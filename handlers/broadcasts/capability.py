"""お知らせ配信: citizens choose topics (配信設定), members of verified groups join with a code, and
staff compose, approve and schedule broadcasts that the delivery engine (notifications/) sends."""

from __future__ import annotations

from bot.capability import Capability

CAPABILITY = Capability(
    name="broadcasts",
    models=("handlers.broadcasts.models",),
)

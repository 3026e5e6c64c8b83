"""(being built)"""

from __future__ import annotations

from bot.flow import Flow

FLOW = Flow(name="broadcast_settings", entry_points=[])

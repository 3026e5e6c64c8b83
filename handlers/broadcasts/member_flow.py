"""(being built)"""

from __future__ import annotations

from bot.flow import Flow

FLOW = Flow(name="member_code", entry_points=[])

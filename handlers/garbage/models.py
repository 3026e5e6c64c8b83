"""Garbage days: the collection calendar (rules per district and kind, closures) and each citizen's
district and reminder choice.

The tables keep the names they were created with under 地図情報 (gis_*): the schema is unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime


class GarbageRule(Base):
    """When one kind of garbage is collected in one district (or, for `closed`, when nothing is)."""

    __tablename__ = "gis_garbage_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    district: Mapped[str] = mapped_column(String(32), index=True)  # "*" for every district
    category: Mapped[str] = mapped_column(String(64))
    # {"weekdays": [0, 3]} | {"nth": [[1, 2], [3, 2]]} (第1・第3水曜) | {"dates": ["2026-12-29"]}
    # | {"closed": [["12-31", "01-03"]], "label": "年末年始"}
    pattern: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    keywords: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(Text, default="")


class GarbagePreference(Base):
    """A citizen's district (asked once, changeable) and the evening-before reminder.

    The district is the citizen's own answer to 「どの地区ですか」: other capabilities may read it
    through `handlers.garbage.service.get_district`.
    """

    __tablename__ = "gis_garbage_preferences"

    line_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    district: Mapped[str] = mapped_column(String(32))
    reminder: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # The Tokyo date of the collection day last reminded about: one reminder per citizen per day.
    last_reminded_for: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

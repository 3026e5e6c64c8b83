"""Which engine answers `parse` (one per process, built on first use)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Protocol

from nlu.keywords import KeywordEngine
from nlu.result import ParseResult


class Engine(Protocol):
    name: str

    def parse(self, text: str, reference_time: datetime | None = None) -> ParseResult: ...


@cache
def get_engine() -> Engine:
    return KeywordEngine()


def parse(text: str, reference_time: datetime | None = None) -> ParseResult:
    return get_engine().parse(text, reference_time)

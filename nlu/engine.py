"""Which engine answers `parse`: the embedded engine (default) or Rasa (NLU_BACKEND=rasa with
RASA_URL), which falls back to the embedded engine. One of each per process, built on first use.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Protocol

from nlu.embedded import EmbeddedEngine
from nlu.result import ParseResult


class Engine(Protocol):
    name: str

    def parse(self, text: str, reference_time: datetime | None = None) -> ParseResult: ...


_lock = threading.Lock()
_embedded: EmbeddedEngine | None = None
_engine: Engine | None = None


def get_embedded() -> EmbeddedEngine:
    """The embedded engine: it also analyses text for FAQ retrieval, whatever the backend."""
    global _embedded
    if _embedded is None:
        with _lock:
            if _embedded is None:
                from bot.settings import get_settings

                _embedded = EmbeddedEngine(cache_dir=Path(get_settings().nlu_cache_dir))
    return _embedded


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        embedded = get_embedded()
        with _lock:
            if _engine is None:
                from bot.settings import get_settings

                settings = get_settings()
                if settings.nlu_backend == "rasa" and settings.rasa_url:
                    from nlu.rasa_backend import RasaEngine

                    _engine = RasaEngine(settings.rasa_url, timeout=settings.rasa_timeout_seconds, fallback=embedded)
                else:
                    _engine = embedded
    return _engine


def use_engine(engine: Engine | None, embedded: EmbeddedEngine | None = None) -> None:
    """Replaces the process's engines (tests, the CLI); None: build from settings on next use."""
    global _engine, _embedded
    with _lock:
        _engine = engine
        if embedded is not None or engine is None:
            _embedded = embedded


def parse(text: str, reference_time: datetime | None = None) -> ParseResult:
    return get_engine().parse(text, reference_time)

"""Which engine answers `parse`: the embedded engine (default) or Rasa (NLU_BACKEND=rasa with
RASA_URL), which falls back to the embedded engine. One of each per process, built on first use
from the configuration the app passes in (`configure`); nlu/ reads no settings of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from nlu.embedded import EmbeddedEngine
from nlu.result import ParseResult


class Engine(Protocol):
    name: str

    def parse(self, text: str, reference_time: datetime | None = None) -> ParseResult: ...


@dataclass(frozen=True)
class EngineConfig:
    cache_dir: str = "var/nlu"
    backend: str = "embedded"
    rasa_url: str | None = None
    rasa_timeout_seconds: float = 2.0


_lock = threading.Lock()
_config = EngineConfig()
_embedded: EmbeddedEngine | None = None
_engine: Engine | None = None


def configure(config: EngineConfig) -> None:
    """The app's NLU settings; engines built for another configuration are built again on next use."""
    global _config, _engine, _embedded
    with _lock:
        if config == _config:
            return
        if config.cache_dir != _config.cache_dir:
            _embedded = None
        _config, _engine = config, None


def get_embedded() -> EmbeddedEngine:
    """The embedded engine: it also analyses text for FAQ retrieval, whatever the backend."""
    global _embedded
    if _embedded is None:
        with _lock:
            if _embedded is None:
                _embedded = EmbeddedEngine(cache_dir=Path(_config.cache_dir))
    return _embedded


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        embedded = get_embedded()
        with _lock:
            if _engine is None:
                if _config.backend == "rasa" and _config.rasa_url:
                    from nlu.rasa_backend import RasaEngine

                    _engine = RasaEngine(_config.rasa_url, timeout=_config.rasa_timeout_seconds, fallback=embedded)
                else:
                    _engine = embedded
    return _engine


def use_engine(engine: Engine | None, embedded: EmbeddedEngine | None = None) -> None:
    """Replaces the process's engines (tests, the CLI); None: build from the configuration on next use."""
    global _engine, _embedded
    with _lock:
        _engine = engine
        if embedded is not None or engine is None:
            _embedded = embedded


def parse(text: str, reference_time: datetime | None = None) -> ParseResult:
    return get_engine().parse(text, reference_time)

"""What a process is configured with, from the app's own settings object (never a cached global read
of the environment): the city's facts in the message catalog, the NLU engine, and the one clock as
the NLU's "now". The app factory, the worker and the CLI call it with the settings they run on.
"""

from __future__ import annotations

from bot import catalog, clock
from bot.settings import Settings
from nlu import dates
from nlu import engine as nlu_engine


def configure_process(settings: Settings) -> None:
    catalog.use_settings(settings)
    nlu_engine.configure(
        nlu_engine.EngineConfig(
            cache_dir=settings.nlu_cache_dir,
            backend=settings.nlu_backend,
            rasa_url=settings.rasa_url,
            rasa_timeout_seconds=settings.rasa_timeout_seconds,
        )
    )
    dates.use_clock(clock.now)

"""Process warm-up: load what the first citizen's message would load, then hide it from the
garbage collector.

Without this the first message after a start waits for the NLU model, and every full collection
walks the model, the dictionaries and the libraries again: measured at 140-190 ms a pause under
load in the web process, which is what LINE's slowest acknowledgements were made of.
"""

from __future__ import annotations

import gc
import logging

from bot.capability import Capabilities
from bot.db import Database

log = logging.getLogger(__name__)


def warm_up(db: Database, capabilities: Capabilities) -> None:
    """Loads the NLU engine and what each capability caches (e.g. the FAQ index) for the process's life."""
    from nlu import engine

    try:
        engine.parse("こんにちは")
        for capability in capabilities:
            if capability.warmup is not None:
                with db.session() as db_session:
                    capability.warmup(db_session)
    except Exception:
        # A cold start is slower, not broken: the first event loads what is missing.
        log.exception("warm-up failed; continuing cold")
    freeze_heap()


def freeze_heap() -> None:
    """Moves every object alive now out of the collector's generations: long-lived objects are
    never walked again, so a full collection costs what the requests in flight allocated."""
    gc.collect()
    gc.freeze()

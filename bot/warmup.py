"""Process warm-up: load what the first citizen's message would load, then hide it from the
garbage collector.

Without this the first message after a start waits for the NLU model, and every full collection
walks the model, the dictionaries and the libraries again: measured at 140-190 ms a pause under
load in the web process, which is what LINE's slowest acknowledgements were made of.
"""

from __future__ import annotations

import gc
import logging

from bot.db import Database

log = logging.getLogger(__name__)


def warm_up(db: Database) -> None:
    """Loads the NLU engine and the FAQ index (both cached for the process's life)."""
    from handlers.faq import service as faq_service
    from nlu import engine

    try:
        engine.parse("こんにちは")
        with db.session() as db_session:
            faq_service.get_index(db_session=db_session)
    except Exception:
        # A cold start is slower, not broken: the first event loads what is missing.
        log.exception("warm-up failed; continuing cold")
    freeze_heap()


def freeze_heap() -> None:
    """Moves every object alive now out of the collector's generations: long-lived objects are
    never walked again, so a full collection costs what the requests in flight allocated."""
    gc.collect()
    gc.freeze()

"""Japanese understanding. `parse()` answers in Rasa's parse format whatever engine is behind it:
the embedded engine (default, in-process) or a Rasa server (NLU_BACKEND=rasa). FAQ retrieval
(nlu.faq) shares the embedded engine's analysis. Nothing here touches the database.
"""

from __future__ import annotations

from nlu.engine import get_embedded, get_engine, parse, use_engine
from nlu.result import Entity, FaqCandidate, FaqResult, ParseResult

__all__ = [
    "Entity",
    "FaqCandidate",
    "FaqResult",
    "ParseResult",
    "get_embedded",
    "get_engine",
    "parse",
    "use_engine",
]

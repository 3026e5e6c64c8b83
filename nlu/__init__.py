"""Japanese understanding. `parse()` answers in Rasa's parse format whatever engine is behind it.

Until the trained engine lands, a keyword engine stands behind the same interface.
"""

from __future__ import annotations

from nlu.engine import get_engine, parse
from nlu.result import Entity, ParseResult

__all__ = ["Entity", "ParseResult", "get_engine", "parse"]

"""SudachiPy, wrapped: tokens with their dictionary (normalised) form, reading and part of speech.

Sudachi's normalised form folds spelling variants (申込/申し込み, 引越し/引っ越し, ｽﾏﾎ/スマホ) and
its reading lets kana-only messages meet kanji ones. One dictionary per process (memory-mapped);
one tokenizer per thread, because a Sudachi tokenizer must not be shared between threads.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

_local = threading.local()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Token:
    surface: str
    normal: str
    reading: str
    pos: str
    start: int
    end: int


@cache
def _dictionary() -> Any:
    from sudachipy import Dictionary

    return Dictionary(dict="core")


def _tokenizer() -> Any:
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import SplitMode

        with _lock:
            tokenizer = _dictionary().create(mode=SplitMode.C)
        _local.tokenizer = tokenizer
    return tokenizer


# Lone surrogates (JSON may carry "\ud800") cannot cross into Sudachi: a space of the same length
# keeps every offset.
_SURROGATES = re.compile("[\ud800-\udfff]")


def tokenize(text: str) -> list[Token]:
    text = _SURROGATES.sub(" ", text)
    if not text.strip():
        return []
    tokens = []
    for m in _tokenizer().tokenize(text):
        surface = m.surface()
        if not surface.strip():
            continue
        reading = m.reading_form()
        if not reading or reading == "キゴウ":
            reading = surface
        tokens.append(Token(surface, m.normalized_form(), reading, m.part_of_speech()[0], m.begin(), m.end()))
    return tokens


def warm_up() -> None:
    tokenize("準備")

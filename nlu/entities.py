"""Entities from lookup tables and synonyms (procedure, district, facility_type, hazard), plus
dates and times (nlu.dates). Matching runs on the normalised text with katakana folded to
hiragana, longest match first; offsets are mapped back to the citizen's original text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nlu.dates import find_dates
from nlu.normalize import Normalised, normalise, to_hiragana
from nlu.result import Entity
from nlu.tokenizer import Token
from nlu.training_data import TrainingData

LOOKUP_ENTITIES = ("procedure", "district", "facility_type", "hazard")


@dataclass(frozen=True)
class Gazetteer:
    """Surface form (normalised, hiragana-folded) -> (entity, canonical value)."""

    entries: dict[str, tuple[str, str]]
    longest: int

    @classmethod
    def from_training(cls, data: TrainingData) -> Gazetteer:
        entries: dict[str, tuple[str, str]] = {}
        for entity, surfaces in data.lookups.items():
            if entity not in LOOKUP_ENTITIES:
                continue
            for surface in surfaces:
                value = data.synonyms.get(surface, surface)
                key = to_hiragana(normalise(surface))
                if key:
                    entries.setdefault(key, (entity, value))
        longest = max((len(k) for k in entries), default=0)
        return cls(entries, longest)

    def find(self, folded: str) -> list[tuple[str, str, int, int]]:
        """(entity, value, start, end) in `folded` (normalised + hiragana), longest first, no overlaps."""
        found: list[tuple[str, str, int, int]] = []
        position, length = 0, len(folded)
        while position < length:
            for size in range(min(self.longest, length - position), 0, -1):
                hit = self.entries.get(folded[position : position + size])
                if hit is not None:
                    found.append((hit[0], hit[1], position, position + size))
                    position += size
                    break
            else:
                position += 1
        return found


def extract(
    normalised: Normalised,
    folded: str,
    gazetteer: Gazetteer,
    reference_time: datetime | None,
    tokens: Sequence[Token] | None = None,
) -> list[Entity]:
    """Every entity in the text, with start/end in the original text (`tokens`: the normalised
    text's, when already made)."""
    entities: list[Entity] = []
    for entity, value, start, end in gazetteer.find(folded):
        first, last = normalised.span(start, end)
        entities.append(Entity(entity=entity, value=value, start=first, end=last, extractor="madoguchi.lookup"))
    for found in find_dates(normalised.text, reference_time, tokens):
        first, last = normalised.span(found.start, found.end)
        entities.append(
            Entity(entity=found.entity, value=found.value, start=first, end=last, extractor="madoguchi.dates")
        )
    entities.sort(key=lambda e: (e.start, e.end))
    return entities

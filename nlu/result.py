"""The parse result, shaped like Rasa's `/model/parse` answer, and the FAQ answer's shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# At or above this confidence the bot acts on the intent; below, the text goes to FAQ retrieval.
CONFIDENT = 0.5


class Entity(BaseModel):
    entity: str
    value: str
    start: int
    end: int
    extractor: str = "madoguchi"


class IntentScore(BaseModel):
    name: str
    confidence: float


class ParseResult(BaseModel):
    text: str
    intent: IntentScore
    intent_ranking: list[IntentScore] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)

    @property
    def intent_name(self) -> str | None:
        """The intent when we are confident enough to act on it."""
        return self.intent.name if self.intent.confidence >= CONFIDENT else None

    @property
    def confident(self) -> bool:
        return self.intent.confidence >= CONFIDENT

    def entity(self, name: str) -> str | None:
        return next((e.value for e in self.entities if e.entity == name), None)

    def entity_values(self, name: str) -> list[str]:
        return [e.value for e in self.entities if e.entity == name]

    def to_rasa(self) -> dict[str, Any]:
        return self.model_dump()


class FaqCandidate(BaseModel):
    faq_id: str
    score: float


class FaqResult(BaseModel):
    """`faq_id` is the best match (None when nothing matches at all); `candidates` follow it."""

    text: str
    faq_id: str | None
    score: float
    candidates: list[FaqCandidate] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()

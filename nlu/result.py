"""The parse result, shaped like Rasa's `/model/parse` answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

CONFIDENT = 0.6


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

    def entity(self, name: str) -> str | None:
        return next((e.value for e in self.entities if e.entity == name), None)

    def to_rasa(self) -> dict[str, Any]:
        return self.model_dump()

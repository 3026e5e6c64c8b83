"""The Rasa backend: a Rasa server's `/model/parse`, mapped to the same ParseResult.

Rasa answers intents and the entities its pipeline extracts; dates and times are resolved here
(ISO dates against the reference time), since Rasa without Duckling only marks the words. When
Rasa is down, slow (RASA_TIMEOUT_SECONDS) or answers nonsense, the embedded engine answers and the
failure is logged; after a failure Rasa is left alone for a short while, so a dead server does
not add its timeout to every citizen's message.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

import httpx

from nlu.embedded import EmbeddedEngine
from nlu.result import CONFIDENT, Entity, IntentScore, ParseResult

log = logging.getLogger(__name__)

FALLBACK_NAME = "nlu_fallback"
RETRY_AFTER_SECONDS = 30.0


class RasaUnavailable(Exception):
    pass


class RasaEngine:
    name = "rasa"

    def __init__(self, url: str, *, timeout: float, fallback: EmbeddedEngine) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.fallback = fallback
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), trust_env=False)
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.fallbacks = 0

    def parse(self, text: str, reference_time: datetime | None = None) -> ParseResult:
        if time.monotonic() < self._down_until:
            self.fallbacks += 1
            return self.fallback.parse(text, reference_time)
        try:
            answer = self.call(text)
            return self.to_result(text, answer, reference_time)
        except Exception as exc:
            with self._lock:
                self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
                self.fallbacks += 1
            log.warning(
                "Rasa at %s failed (%s: %s); the embedded engine answers for the next %.0f s",
                self.url,
                type(exc).__name__,
                exc,
                RETRY_AFTER_SECONDS,
            )
            return self.fallback.parse(text, reference_time)

    def call(self, text: str) -> dict[str, Any]:
        response = self._client.post(f"{self.url}/model/parse", json={"text": text})
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict) or not isinstance(answer.get("intent"), dict):
            raise RasaUnavailable(f"unexpected answer: {str(answer)[:200]}")
        return answer

    def to_result(self, text: str, answer: dict[str, Any], reference_time: datetime | None) -> ParseResult:
        ranking = [
            IntentScore(name=str(item["name"]), confidence=float(item.get("confidence") or 0.0))
            for item in answer.get("intent_ranking") or []
            if isinstance(item, dict) and item.get("name") and item["name"] != FALLBACK_NAME
        ]
        top = answer["intent"]
        if top.get("name") and top["name"] != FALLBACK_NAME:
            intent = IntentScore(name=str(top["name"]), confidence=float(top.get("confidence") or 0.0))
        elif ranking:
            # Rasa's FallbackClassifier fired: keep its best guess, with a confidence under our bar.
            intent = IntentScore(name=ranking[0].name, confidence=min(ranking[0].confidence, CONFIDENT - 0.01))
        else:
            intent = IntentScore(name="out_of_scope", confidence=0.0)
        if not ranking or ranking[0].name != intent.name:
            ranking = [intent, *[r for r in ranking if r.name != intent.name]]
        return ParseResult(
            text=text, intent=intent, intent_ranking=ranking[:10], entities=self._entities(text, answer, reference_time)
        )

    def _entities(self, text: str, answer: dict[str, Any], reference_time: datetime | None) -> list[Entity]:
        # Dates and times: our resolver (ISO values); everything else: what Rasa found.
        ours = self.fallback.analyse(text, reference_time).entities
        entities = [e for e in ours if e.entity in ("date", "time")]
        seen = {(e.entity, e.start, e.end) for e in entities}
        for item in answer.get("entities") or []:
            if not isinstance(item, dict) or item.get("entity") in ("date", "time", None):
                continue
            try:
                entity = Entity(
                    entity=str(item["entity"]),
                    value=str(item.get("value", "")),
                    start=int(item["start"]),
                    end=int(item["end"]),
                    extractor=str(item.get("extractor") or "rasa"),
                )
            except (KeyError, TypeError, ValueError):
                continue
            if (entity.entity, entity.start, entity.end) not in seen:
                seen.add((entity.entity, entity.start, entity.end))
                entities.append(entity)
        return sorted(entities, key=lambda e: (e.start, e.end))

    def close(self) -> None:
        self._client.close()

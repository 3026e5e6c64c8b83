"""What the platform remembers, as plain records: users, deliveries, reply tokens, accepted retry keys,
injected faults and rate-limit buckets."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.ids import epoch_seconds


@dataclass(frozen=True)
class Delivery:
    """One accepted send request. `to` lists the chats it was addressed to (reply: the token's chat;
    broadcast/narrowcast: the followers at the time); `blocked` is the subset that had not added or had
    blocked the account: LINE answers 200 for them too, but nobody sees the message."""

    seq: int
    endpoint: str
    to: list[str]
    messages: list[dict[str, Any]]
    request_id: str
    retry_key: str | None
    at: float
    blocked: list[str] = field(default_factory=list)
    notification_disabled: bool = False
    sent_message_ids: list[str] = field(default_factory=list)
    aggregation_units: list[str] = field(default_factory=list)  # customAggregationUnits, for insight


@dataclass
class SandboxUser:
    user_id: str
    display_name: str
    picture_url: str | None = None
    status_message: str | None = None
    language: str = "ja"
    followed: bool = True
    blocked: bool = False  # unfollowed (blocked) the account; cleared by the next follow
    created_at: float = field(default_factory=epoch_seconds)

    def profile(self) -> dict[str, Any]:
        body: dict[str, Any] = {"userId": self.user_id, "displayName": self.display_name}
        if self.picture_url:
            body["pictureUrl"] = self.picture_url
        body["language"] = self.language
        if self.status_message:
            body["statusMessage"] = self.status_message
        return body

    def summary(self) -> dict[str, Any]:
        return {**self.profile(), "followed": self.followed, "blocked": self.blocked}


@dataclass
class ReplyToken:
    chat_id: str
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class AcceptedKey:
    request_id: str
    sent_messages: list[dict[str, Any]] | None
    accepted_at: float


@dataclass
class TokenBucket:
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        capacity = max(1.0, self.rate)
        # max(0, ...): a clock that travels back in a test must not drain the bucket.
        self.tokens = min(capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class Fault:
    """An injected answer: for the next `remaining` calls, or for every call until `until` (clock seconds)."""

    status: int
    body: dict[str, Any]
    remaining: int
    until: float | None = None


@dataclass
class RandomFaults:
    """Faults that strike at random: each call answers `status` with its probability (in the order
    given), from a generator seeded for repeatable runs."""

    rng: random.Random
    odds: list[tuple[int, float]]

    def draw(self) -> int | None:
        roll = self.rng.random()
        for status, probability in self.odds:
            if roll < probability:
                return status
            roll -= probability
        return None

"""The small machinery every conversation is written with (after python-telegram-bot's
ConversationHandler): a Flow has entry points, named states and fallbacks; each is a list of
routes, and within a list the first route that matches wins.

A step is a plain function `step(turn) -> next state`. It runs inside the event's database
transaction (in a worker thread, so the event loop stays free to acknowledge webhooks); the
messages it `say`s are written to the outbox in that same transaction and sent after commit.
Return a state name to wait there, `None` to stay where we are (ask again), `END` to finish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from linebot.v3.messaging import Message
from sqlalchemy.orm import Session

from bot import clock
from bot.citizens import CitizenProfile
from bot.events import Event, Location, Postback
from bot.settings import Settings
from nlu import ParseResult
from nlu import parse as nlu_parse

if TYPE_CHECKING:
    from bot.capability import Capabilities


class _End(str):
    pass


END: Final = _End("__end__")

StepResult = str | None
Step = Callable[["Turn"], StepResult]


@dataclass
class Turn:
    """One incoming event as a flow sees it, plus what the bot will answer."""

    db_session: Session
    event: Event
    settings: Settings
    # The app's capabilities (routing order, which intents are owned).
    capabilities: Capabilities
    data: dict[str, Any] = field(default_factory=dict)
    replies: list[Message] = field(default_factory=list)
    flow_name: str | None = None
    state: str | None = None
    # LINE's profile of the citizen, fetched before the transaction for follow events only.
    profile: CitizenProfile | None = None

    @property
    def chat_id(self) -> str | None:
        return self.event.chat_id

    @property
    def user_id(self) -> str | None:
        return self.event.user_id

    @property
    def now(self) -> datetime:
        return clock.now()

    @property
    def text(self) -> str | None:
        return self.event.text

    @property
    def location(self) -> Location | None:
        return self.event.location

    @property
    def postback(self) -> Postback | None:
        return self.event.postback

    @cached_property
    def postback_fields(self) -> dict[str, str]:
        return self.postback.fields if self.postback else {}

    @property
    def action(self) -> str | None:
        return self.postback_fields.get("action")

    @cached_property
    def nlu(self) -> ParseResult | None:
        text = self.text
        if text is None or not text.strip() or len(text) > self.settings.max_text_length:
            return None
        return nlu_parse(text, self.event.timestamp)

    @property
    def intent(self) -> str | None:
        """The citizen's intent: from a menu postback (`action=intent&name=…`) or from their words."""
        if self.action == "intent":
            return self.postback_fields.get("name") or None
        return self.nlu.intent_name if self.nlu else None

    def say(self, *messages: Message) -> None:
        self.replies.extend(messages)


Matcher = Callable[[Turn], bool]


@dataclass(frozen=True)
class Route:
    matcher: Matcher
    step: Step
    label: str


def on_intent(name: str, step: Step) -> Route:
    return Route(lambda turn: turn.intent == name, step, f"intent:{name}")


def on_postback(action: str, step: Step) -> Route:
    return Route(lambda turn: turn.action == action, step, f"postback:{action}")


def on_text(step: Step) -> Route:
    return Route(lambda turn: turn.text is not None, step, "text")


def on_location(step: Step) -> Route:
    return Route(lambda turn: turn.location is not None, step, "location")


def on_any(step: Step) -> Route:
    return Route(lambda turn: True, step, "any")


@dataclass(frozen=True)
class Flow:
    name: str
    entry_points: list[Route]
    states: dict[str, list[Route]] = field(default_factory=dict)
    fallbacks: list[Route] = field(default_factory=list)
    timeout: timedelta = timedelta(minutes=15)
    # Event kinds beyond text, location and postback that an open conversation of this flow takes
    # before anyone else (e.g. the staff inbox keeps the images and stickers a citizen sends).
    takes: frozenset[str] = frozenset()
    # Tried before every other flow and before an open conversation's own routes: for input of an
    # exact shape nothing else may read (a registration code), which the NLU could mistake for an intent.
    early: bool = False

    def routes_for(self, state: str) -> list[Route]:
        return [*self.states.get(state, []), *self.fallbacks]


def first_match(routes: list[Route], turn: Turn) -> Route | None:
    return next((route for route in routes if route.matcher(turn)), None)

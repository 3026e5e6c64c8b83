"""Routing, in one visible table: event kinds, then the citizen's open conversation, then the entry
points of every flow (postback actions and intents), then the friendly fallback.
"""

from __future__ import annotations

import logging

from bot import conversation as conversation_service
from bot.flow import END, Flow, Route, Step, Turn, first_match
from handlers.faq import flow as faq
from handlers.gis import flow as gis
from handlers.handoff import flow as handoff
from handlers.reservations import flow as reservations
from handlers.welcome import flow as welcome

log = logging.getLogger(__name__)

# Capability flows, most specific first; welcome last (it answers what no capability claims).
# faq sits just before welcome: it takes `faq` and unsure text, and answers from the FAQ what a
# capability not built yet would have answered.
FLOWS: tuple[Flow, ...] = (reservations.FLOW, handoff.FLOW, gis.FLOW, faq.FLOW, welcome.FLOW)
FLOWS_BY_NAME = {flow.name: flow for flow in FLOWS}

# Events that are not part of a conversation.
EVENT_ROUTES: dict[str, Step] = {
    "follow": welcome.follow,
    "unfollow": welcome.unfollow,
    "join": welcome.join,
    "message.sticker": welcome.sticker,
    "message.image": welcome.media,
    "message.video": welcome.media,
    "message.audio": welcome.media,
    "message.file": welcome.media,
    "message.other": welcome.media,
}

# Kinds that enter conversations; every other kind (leave, unsend, memberLeft, beacon, ...) needs
# no answer and is recorded only.
CONVERSATIONAL = {"message.text", "message.location", "postback"}


def dispatch(turn: Turn) -> None:
    """Runs the one step that answers this event; its messages are left in `turn.replies`."""
    event = turn.event
    if not event.is_one_to_one:
        # Groups and rooms: a note when we are added, silence otherwise (we serve citizens 1:1).
        if event.kind == "join":
            welcome.join(turn)
        return
    kind = event.kind
    if kind in EVENT_ROUTES:
        EVENT_ROUTES[kind](turn)
        return
    if kind not in CONVERSATIONAL:
        return
    chat_id = event.chat_id
    assert chat_id is not None
    open_conversation = conversation_service.get_active(db_session=turn.db_session, chat_id=chat_id)
    if open_conversation is not None:
        flow = FLOWS_BY_NAME.get(open_conversation.flow)
        if flow is None:
            conversation_service.end(db_session=turn.db_session, chat_id=chat_id)
        else:
            turn.data = dict(open_conversation.data or {})
            route = first_match(flow.routes_for(open_conversation.state), turn)
            if route is not None:
                _run(flow, route, turn, state=open_conversation.state)
                return
    for flow in FLOWS:
        route = first_match(flow.entry_points, turn)
        if route is not None:
            # Starting something new closes whatever was open.
            if open_conversation is not None:
                conversation_service.end(db_session=turn.db_session, chat_id=chat_id)
            turn.data = {}
            _run(flow, route, turn, state=None)
            return
    welcome.fallback(turn)


def _run(flow: Flow, route: Route, turn: Turn, *, state: str | None) -> None:
    turn.flow_name, turn.state = flow.name, state
    log.debug("%s -> %s.%s", turn.event.kind, flow.name, route.label)
    result = route.step(turn)
    chat_id = turn.chat_id
    assert chat_id is not None
    if result is END or (result is None and state is None):
        if state is not None:  # only an open conversation has anything to end
            conversation_service.end(db_session=turn.db_session, chat_id=chat_id)
    else:
        conversation_service.save(
            db_session=turn.db_session,
            chat_id=chat_id,
            flow=flow.name,
            state=result if result is not None else state,
            data=turn.data,  # type: ignore[arg-type]
            timeout=flow.timeout,
        )

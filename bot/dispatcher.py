"""Routing: event kinds, then the entry points of the early flows (exact shapes such as a registration
code, Flow.early), then the citizen's open conversation, then the entry points of every flow
(postback actions and intents) in the order of the capability list (bot/capabilities.py), then the
friendly fallback. What each capability answers is declared in its capability.py.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

from bot import conversation as conversation_service
from bot.conversation import Conversation
from bot.flow import END, Flow, Route, Turn, first_match

log = logging.getLogger(__name__)

# Kinds that enter conversations; every other kind (leave, unsend, memberLeft, beacon, ...) needs
# no answer and is recorded only.
CONVERSATIONAL = {"message.text", "message.location", "postback"}


def dispatch(turn: Turn) -> None:
    """Runs the one step that answers this event; its messages are left in `turn.replies`."""
    event = turn.event
    capabilities = turn.capabilities
    kind = event.kind
    if not event.is_one_to_one:
        # Groups and rooms: a note when we are added, silence otherwise (we serve citizens 1:1).
        if kind == "join" and "join" in capabilities.event_routes:
            capabilities.event_routes["join"](turn)
        return
    chat_id = event.chat_id
    assert chat_id is not None
    open_conversation = None
    if kind in CONVERSATIONAL or kind in capabilities.taken_kinds:
        open_conversation = conversation_service.get_active(db_session=turn.db_session, chat_id=chat_id)
    open_flow = capabilities.flows_by_name.get(open_conversation.flow) if open_conversation else None
    taken = open_flow is not None and kind in open_flow.takes
    if kind in capabilities.event_routes and not taken:
        capabilities.event_routes[kind](turn)
        return
    if kind not in CONVERSATIONAL and not taken:
        return
    if _start(capabilities.early_flows, turn, open_conversation):
        return
    if open_conversation is not None:
        flow = open_flow
        if flow is None:
            conversation_service.end(db_session=turn.db_session, chat_id=chat_id)
        else:
            # A deep copy: a step that changes a nested answer in place must still count as a change
            # (the JSON column compares the old value with the new one, and they would be one object).
            turn.data = copy.deepcopy(open_conversation.data or {})
            route = first_match(flow.routes_for(open_conversation.state), turn)
            if route is not None:
                _run(flow, route, turn, state=open_conversation.state)
                return
    if _start(capabilities.flows, turn, open_conversation):
        return
    if capabilities.fallback is not None:
        capabilities.fallback(turn)


def _start(flows: Sequence[Flow], turn: Turn, open_conversation: Conversation | None) -> bool:
    """Runs the first flow whose entry point matches; starting something new closes whatever was open."""
    for flow in flows:
        route = first_match(flow.entry_points, turn)
        if route is not None:
            if open_conversation is not None:
                assert turn.chat_id is not None
                conversation_service.end(db_session=turn.db_session, chat_id=turn.chat_id)
            turn.data = {}
            _run(flow, route, turn, state=None)
            return True
    return False


def _run(flow: Flow, route: Route, turn: Turn, *, state: str | None) -> None:
    turn.flow_name, turn.state = flow.name, state
    log.debug("%s -> %s.%s", turn.event.kind, flow.name, route.label)
    result = route.step(turn)
    chat_id = turn.chat_id
    assert chat_id is not None
    next_state = state if result is None else result
    if result is END or next_state is None:
        if state is not None:  # only an open conversation has anything to end
            conversation_service.end(db_session=turn.db_session, chat_id=chat_id)
    else:
        conversation_service.save(
            db_session=turn.db_session,
            chat_id=chat_id,
            flow=flow.name,
            state=next_state,
            data=turn.data,
            timeout=flow.timeout,
        )

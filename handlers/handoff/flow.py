"""Handoff: "I want to talk to a person". One step: record the request for staff and tell the
citizen the office's phone number and hours, saying plainly when it is closed right now."""

from __future__ import annotations

from bot.catalog import t
from bot.flow import END, Flow, StepResult, Turn, on_intent
from bot.messages import text as text_message
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffRequestCreate, HandoffSource


def request_person(turn: Turn) -> StepResult:
    """Records the request (one open request per citizen) and answers with hours and phone."""
    if turn.user_id is None:
        return END
    hours = handoff_service.OfficeHours.from_settings(turn.settings)
    now = turn.now
    office_open = handoff_service.is_open(now, hours)
    _, created = handoff_service.request_person(
        db_session=turn.db_session,
        handoff_in=HandoffRequestCreate(
            line_user_id=turn.user_id,
            message=turn.text,
            source=HandoffSource.TEXT if turn.text is not None else HandoffSource.MENU,
        ),
        office_open=office_open,
    )
    if not created:
        turn.say(text_message(t("handoff.already")))
    elif office_open:
        turn.say(text_message(t("handoff.received_open")))
    else:
        opening = handoff_service.next_opening(now, hours)
        weekday = t("handoff.weekdays")[opening.weekday()]
        next_open = t(
            "handoff.next_open",
            month=opening.month,
            day=opening.day,
            weekday=weekday,
            time=f"{opening.hour}:{opening.minute:02d}",
        )
        turn.say(text_message(t("handoff.received_closed", next_open=next_open)))
    return END


FLOW = Flow(name="handoff", entry_points=[on_intent("handoff", request_person)])

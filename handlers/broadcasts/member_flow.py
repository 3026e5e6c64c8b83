"""A member of a verified group (愛育委員 …) sends the registration code from their slip, and joins
the group on LINE. One step, no state: the entry point claims only a text shaped like a code
(AB7K-3QX9-M2PD, forgiving spaces, hyphens, 「ー」, full-width and lower case: service/groups.py
`looks_like_code`), so everyday messages never end up here.

The answers (catalog.yml, member_groups): registered (and to which group), already registered,
code already used, expired (ask the office for a new one), not found, and, after too many wrong
codes, when to try again."""

from __future__ import annotations

from datetime import datetime

from bot import clock
from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn
from bot.messages import text as text_message
from handlers.broadcasts.service import groups as group_service
from handlers.broadcasts.service.groups import Outcome


def sends_a_code(turn: Turn) -> bool:
    return turn.postback is None and group_service.looks_like_code(turn.text)


def _when(moment: datetime, now: datetime) -> str:
    local, today = moment.astimezone(clock.TOKYO), now.astimezone(clock.TOKYO).date()
    time = f"{local.hour}時{local.minute:02d}分"
    return time if local.date() == today else f"{local.month}月{local.day}日 {time}"


def register(turn: Turn) -> StepResult:
    """Links the sender to the roster entry of the code, or says kindly why not."""
    if turn.user_id is None or turn.text is None:
        return END
    redeemed = group_service.redeem(
        db_session=turn.db_session, line_user_id=turn.user_id, text=turn.text, settings=turn.settings
    )
    group = redeemed.group.name if redeemed.group else ""
    if redeemed.outcome == Outcome.LOCKED:
        assert redeemed.locked_until is not None
        answer = t("member_groups.locked", until=_when(redeemed.locked_until, turn.now))
    elif redeemed.outcome in (Outcome.LINKED, Outcome.ALREADY_MEMBER):
        answer = t(f"member_groups.{redeemed.outcome.value}", group=group)
    else:
        answer = t(f"member_groups.{redeemed.outcome.value}")
    turn.say(text_message(answer))
    return END


# Early: a code is an exact shape no other flow reads, but the NLU reads a few random codes as an
# intent of a capability routed before this one (bot/flow.py Flow.early).
FLOW = Flow(name="member_code", entry_points=[Route(sends_a_code, register, "text:member_code")], early=True)

"""Whether a member's registration code reaches the member groups' conversation at all. The
dispatcher tries each capability's entry points in the order of bot/capabilities.py, and
`handlers.broadcasts` comes after reservations, classes and handoff: the NLU reads about 3% of random
codes as one of their intents (mostly reservation_check), so those codes get 「いま、ご予約はありません」
instead of being registered. Strict xfail until broadcasts (or its member_code flow) is routed before
them; then this passes, and the mark must go."""

from __future__ import annotations

from functools import cache

import pytest

from bot.capabilities import load
from handlers.broadcasts.service import groups
from nlu import parse


@cache
def earlier_intents() -> frozenset[str]:
    """The intents of the capabilities routed before broadcasts."""
    out: set[str] = set()
    for capability in load():
        if capability.name == "broadcasts":
            return frozenset(out)
        out |= capability.intents
    return frozenset(out)


def taken_before_members(text: str) -> bool:
    """True when an earlier capability's intent entry point would take this text first."""
    return parse(text).intent_name in earlier_intents()


@pytest.mark.xfail(
    strict=True,
    reason="handlers.broadcasts is routed after reservations/classes/handoff (bot/capabilities.py): "
    "about 3% of codes are read as their intents",
)
def test_every_code_reaches_the_member_groups_conversation() -> None:
    codes = [groups.format_code(groups.new_code()) for _ in range(300)]
    assert [c for c in codes if taken_before_members(c)] == []

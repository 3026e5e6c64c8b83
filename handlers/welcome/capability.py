"""The welcome desk: follow/unfollow, greetings, the menu, stickers and media, and the kind answer
when nothing else understood (last in the list: it answers what no capability claims)."""

from __future__ import annotations

from bot.capability import Capability
from handlers.welcome import flow

CAPABILITY = Capability(
    name="welcome",
    flows=(flow.FLOW,),
    events={
        "follow": flow.follow,
        "unfollow": flow.unfollow,
        "join": flow.join,
        "message.sticker": flow.sticker,
        "message.image": flow.media,
        "message.video": flow.media,
        "message.audio": flow.media,
        "message.file": flow.media,
        "message.other": flow.media,
    },
    fallback=flow.fallback,
    intents=frozenset({"greet", "thanks", "help"}),
)

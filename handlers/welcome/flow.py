"""The welcome desk: follow/unfollow, greetings, the menu, and honest answers for what is not built yet."""

from __future__ import annotations

from bot import citizens as citizen_service
from bot import conversation as conversation_service
from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent
from bot.messages import menu_text
from bot.messages import text as text_message

# What citizens may ask for that a capability of the list may not provide in this deployment: asked
# for while no capability owns the intent, they get an honest "not yet" with the office's phone
# number. Adding the capability (one line in bot/capabilities.py) is all it takes to answer them.
PLANNED_FEATURES: dict[str, str] = {
    "class_info": "スマホ教室の案内",
    "class_signup": "スマホ教室の申し込み",
    "class_cancel": "スマホ教室の取り消し",
    "subscribe": "お知らせの配信設定",
    "unsubscribe": "お知らせの配信停止",
}


def follow(turn: Turn) -> StepResult:
    """Registers (or re-activates) the citizen and greets them with the menu."""
    if turn.user_id is None:
        return END
    known = citizen_service.get_by_line_user_id(db_session=turn.db_session, line_user_id=turn.user_id)
    returning = turn.event.is_unblock or (known is not None and not known.is_reachable)
    citizen_service.follow(db_session=turn.db_session, line_user_id=turn.user_id, profile=turn.profile)
    if returning:
        turn.say(menu_text(t("welcome.follow_again")))
    else:
        name = turn.profile.display_name if turn.profile and turn.profile.display_name else None
        turn.say(menu_text(t("welcome.follow", name=f"{name}さん、" if name else "")))
    return END


def unfollow(turn: Turn) -> StepResult:
    """Marks the citizen as blocked (nothing is pushed to them) and drops any open conversation."""
    if turn.user_id is not None:
        citizen_service.block(db_session=turn.db_session, line_user_id=turn.user_id)
        conversation_service.end(db_session=turn.db_session, chat_id=turn.user_id)
    return END


def join(turn: Turn) -> StepResult:
    """Added to a group or room: one polite note that we serve citizens one to one."""
    turn.say(text_message(t("welcome.group_join")))
    return END


def sticker(turn: Turn) -> StepResult:
    turn.say(menu_text(t("welcome.sticker")))
    return END


def media(turn: Turn) -> StepResult:
    turn.say(menu_text(t("welcome.media")))
    return END


def greet(turn: Turn) -> StepResult:
    turn.say(menu_text(t("welcome.greet")))
    return END


def thanks(turn: Turn) -> StepResult:
    turn.say(menu_text(t("welcome.thanks")))
    return END


def show_help(turn: Turn) -> StepResult:
    turn.say(menu_text(t("welcome.help")))
    return END


def asks_for_missing_feature(turn: Turn) -> bool:
    intent = turn.intent
    return intent in PLANNED_FEATURES and intent not in turn.capabilities.owned_intents


def not_yet_available(turn: Turn) -> StepResult:
    feature = PLANNED_FEATURES.get(turn.intent or "", "この機能")
    turn.say(menu_text(t("welcome.not_ready", feature=feature)))
    return END


def fallback(turn: Turn) -> StepResult:
    """Nothing understood: say so kindly and offer the menu. Never an echo."""
    text = turn.text
    if text is not None and len(text) > turn.settings.max_text_length:
        turn.say(menu_text(t("welcome.too_long")))
    elif text is not None and not text.strip():
        turn.say(menu_text(t("welcome.empty")))
    elif turn.postback is not None and turn.action not in (None, "intent"):
        # A button from an old message whose conversation has ended.
        turn.say(menu_text(t("welcome.expired")))
    else:
        turn.say(menu_text(t("welcome.fallback")))
    return END


FLOW = Flow(
    name="welcome",
    entry_points=[
        on_intent("greet", greet),
        on_intent("thanks", thanks),
        on_intent("help", show_help),
        Route(asks_for_missing_feature, not_yet_available, "intent:planned-feature"),
    ],
)

"""配信設定 on LINE: which news a citizen receives, and their district.

Three ways in:
- 「配信設定」 (the menu, or words the NLU reads as subscribe/unsubscribe without a clear choice): the
  card of toggles (settings_cards.py). Each tap answers with the card again, saying what changed.
- 友だち追加: the welcome desk's greeting, then the same card once, with 「あとで」. A `default_on` topic
  (防災) is switched on in that message, which says so; one tap turns it off. Not asked again.
- Words: 「防災の情報だけほしい」「子育てのお知らせはいらない」「配信停止」 are read by
  service.read_text (withdrawal and negation win over topic words; the NLU's intent only brings the
  text here). What changed is said in one sentence above the card; unclear words get the card.

A postback names a topic key and the state asked for: it only ever changes the sender's own
choices, and a key that is unknown or retired changes nothing. 「ごみの通知をやめる」 stays the
garbage flow's (its evening reminder).
"""

from __future__ import annotations

from enum import StrEnum

from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_postback
from bot.messages import menu_text
from handlers.broadcasts import settings_cards as cards
from handlers.broadcasts.models import Topic
from handlers.broadcasts.service import topics as topic_service
from handlers.garbage import flow as garbage_flow
from handlers.gis.service import places as place_service
from handlers.welcome import flow as welcome_flow

INTENTS = ("subscribe", "unsubscribe")
# Words about news whose intent the NLU reads as another request this sure are that request's.
OTHER_REQUEST_CONFIDENCE = 0.6
FAQ_CONFIDENCE = 0.85


class State(StrEnum):
    DISTRICT = "district"  # asked for the citizen's district


def _names(topics: list[str]) -> str:
    return t("broadcast_settings.topic_separator").join(topics)


def _show(turn: Turn, note: str, *, first_time: bool = False) -> None:
    """The card with the citizen's choices as they are now, under `note`."""
    assert turn.user_id is not None
    topics = topic_service.get_all(db_session=turn.db_session)
    chosen = topic_service.chosen_keys(db_session=turn.db_session, line_user_id=turn.user_id)
    district = topic_service.get_district(db_session=turn.db_session, line_user_id=turn.user_id)
    turn.say(cards.settings_card(topics, chosen, district, note=note, first_time=first_time))


def _answered(turn: Turn) -> None:
    assert turn.user_id is not None
    topic_service.mark_answered(db_session=turn.db_session, line_user_id=turn.user_id)


# --- 友だち追加 --------------------------------------------------------------------------------------


def follow(turn: Turn) -> StepResult:
    """The welcome desk's greeting, then (once per citizen) the short question: the topics and the
    district, with the default topics switched on and named, and 「あとで」."""
    if turn.user_id is None:
        return END
    # LINE marks an unblock: a returning friend gets no default topic switched on (only a new one).
    new_friend = not turn.event.is_unblock
    welcome_flow.follow(turn)
    if not topic_service.get_all(db_session=turn.db_session):
        return END  # nothing to offer yet: ask when there is (asked_at stays empty)
    defaults = topic_service.welcome_new_friend(
        db_session=turn.db_session, line_user_id=turn.user_id, apply_defaults=new_friend
    )
    if defaults is None:
        return END
    note = t("broadcast_settings.ask")
    if defaults:
        note += "\n" + t("broadcast_settings.ask_default", topics=_names([d.name for d in defaults]))
    note += "\n" + t("broadcast_settings.ask_later")
    _show(turn, note, first_time=True)
    return END


def later(turn: Turn) -> StepResult:
    """「あとで」: nothing changes (a default topic stays on, and we say so); not asked again."""
    if turn.user_id is None:
        return END
    _answered(turn)
    chosen = topic_service.chosen_keys(db_session=turn.db_session, line_user_id=turn.user_id)
    on = [topic.name for topic in topic_service.get_all(db_session=turn.db_session) if topic.key in chosen]
    if on:
        turn.say(menu_text(t("broadcast_settings.later_default", topics=_names(on))))
    else:
        turn.say(menu_text(t("broadcast_settings.later")))
    return END


def done(turn: Turn) -> StepResult:
    """「これで決定」: a kind closing line with the menu."""
    if turn.user_id is not None:
        _answered(turn)
    turn.say(menu_text(t("broadcast_settings.done")))
    return END


# --- the card's buttons ---------------------------------------------------------------------------


def show(turn: Turn) -> StepResult:
    """「配信設定」: the card of toggles."""
    if turn.user_id is None:
        return END
    _show(turn, t("broadcast_settings.choose"))
    return END


def toggle(turn: Turn) -> StepResult:
    """A topic's button: switches that topic of the sender's own choices to the state the button named."""
    if turn.user_id is None:
        return END
    key = turn.postback_fields.get("key", "")
    on = turn.postback_fields.get("on")
    topic = next((x for x in topic_service.get_all(db_session=turn.db_session) if x.key == key), None)
    if topic is None or on not in ("0", "1"):
        _show(turn, t("broadcast_settings.unknown_topic"))
        return END
    _answered(turn)
    if on == "1":
        change = topic_service.subscribe(db_session=turn.db_session, line_user_id=turn.user_id, topic_keys={key})
    else:
        change = topic_service.unsubscribe(db_session=turn.db_session, line_user_id=turn.user_id, topic_keys={key})
    _show(turn, _said(change, "on" if on == "1" else "off", [topic]))
    return END


def all_off(turn: Turn) -> StepResult:
    """「すべて停止」."""
    if turn.user_id is None:
        return END
    _answered(turn)
    change = topic_service.unsubscribe_all(db_session=turn.db_session, line_user_id=turn.user_id)
    _show(turn, t("broadcast_settings.all_off" if change.changed else "broadcast_settings.all_off_already"))
    return END


# --- the district -----------------------------------------------------------------------------------


def ask_district(turn: Turn) -> StepResult:
    """「地区を選ぶ／変更」: the districts as buttons; a 大字 typed instead is understood too."""
    turn.say(cards.district_question(topic_service.district_choices(db_session=turn.db_session)))
    return State.DISTRICT


def pick_district(turn: Turn) -> StepResult:
    """A district button: remembered for the whole bot (the garbage days use it too); the card again."""
    district = turn.postback_fields.get("district", "")
    return _district_chosen(turn, district)


def district_named(turn: Turn) -> bool:
    return turn.text is not None and place_service.resolve_place(turn.text) is not None


def district_text(turn: Turn) -> StepResult:
    place = place_service.resolve_place(turn.text)
    return _district_chosen(turn, place.district if place is not None else "")


def _district_chosen(turn: Turn, district: str) -> StepResult:
    if turn.user_id is None:
        return END
    if not topic_service.set_district(db_session=turn.db_session, line_user_id=turn.user_id, district=district):
        turn.say(cards.district_question(topic_service.district_choices(db_session=turn.db_session)))
        return None
    _answered(turn)
    _show(turn, t("broadcast_settings.district_saved", district=district))
    return END


# --- words ------------------------------------------------------------------------------------------


def _topics(turn: Turn) -> list[Topic]:
    return topic_service.get_all(db_session=turn.db_session)


def asks_about_choices(turn: Turn) -> bool:
    """subscribe/unsubscribe (the menu button, or words), or words that plainly choose news
    (「子どもの情報もほしい」), except the garbage reminder's own words."""
    if garbage_flow.garbage_reminder_words(turn):
        return False
    if turn.intent in INTENTS:
        return True
    if turn.text is None or turn.postback is not None or len(turn.text) > turn.settings.max_text_length:
        return False
    nlu = turn.nlu
    if nlu is not None and nlu.intent_name is not None:
        # 「避難所の情報を教えてください」 asks for shelters, 「予防接種の情報を知りたい」 the FAQ: a clear
        # request of another kind is not a choice of news, whatever words it shares with one.
        other = nlu.intent_name not in ("faq", "out_of_scope") and nlu.intent.confidence >= OTHER_REQUEST_CONFIDENCE
        if other or (nlu.intent_name == "faq" and nlu.intent.confidence >= FAQ_CONFIDENCE):
            return False
    # The words first: most messages are not about news, and need no look at the topics.
    return topic_service.mentions_delivery(turn.text) and topic_service.speaks_of_choices(turn.text, _topics(turn))


def choose_in_words(turn: Turn) -> StepResult:
    """Reads the words (not the NLU's direction), changes what they ask, says what changed in one
    sentence and shows the card. Unclear words: the card."""
    if turn.user_id is None:
        return END
    topics = _topics(turn)
    if turn.text is None or turn.postback is not None:
        return show(turn)
    reading = topic_service.read_text(turn.text, topics)
    if reading.action == "show":
        return show(turn)
    _answered(turn)
    change = topic_service.apply_reading(db_session=turn.db_session, line_user_id=turn.user_id, reading=reading)
    named = [topic for topic in topics if topic.key in reading.keys]
    _show(turn, _said(change, reading.action, named))
    return END


def _said(change: topic_service.Change, action: str, named: list[Topic]) -> str:
    """One short sentence: what changed (or that it already was so)."""
    if action == "all_off":
        return t("broadcast_settings.all_off" if change.changed else "broadcast_settings.all_off_already")
    if action == "all_on":
        return t("broadcast_settings.all_on")
    if action == "only":
        return t("broadcast_settings.only", topics=_names([x.name for x in named]))
    if change.turned_on and change.turned_off:
        return t("broadcast_settings.turned_both", on=_names(change.turned_on), off=_names(change.turned_off))
    if change.turned_on:
        return t("broadcast_settings.turned_on", topics=_names(change.turned_on))
    if change.turned_off:
        return t("broadcast_settings.turned_off", topics=_names(change.turned_off))
    names = _names([x.name for x in named])
    if action == "off":
        return t("broadcast_settings.already_off", topics=names)
    if action == "on":
        return t("broadcast_settings.already_on", topics=names)
    return t("broadcast_settings.choose")


FLOW = Flow(
    name="broadcast_settings",
    entry_points=[
        on_postback(cards.TOPIC, toggle),
        on_postback(cards.ALL_OFF, all_off),
        on_postback(cards.DISTRICT, ask_district),
        on_postback(cards.DISTRICT_SET, pick_district),
        on_postback(cards.LATER, later),
        on_postback(cards.DONE, done),
        on_postback(cards.SHOW, show),
        Route(asks_about_choices, choose_in_words, "text:choices"),
    ],
    states={
        State.DISTRICT: [
            on_postback(cards.DISTRICT_SET, pick_district),
            Route(district_named, district_text, "text:district"),
        ],
    },
)

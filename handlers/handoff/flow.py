"""Handoff: 「職員と話したい」. The request becomes a thread in the staff inbox (with the recent
conversation with the bot), the citizen is told the office's hours and phone number (saying plainly
when it is closed right now), and the bot then stays quiet for them: what they write (text, images,
stickers, places) goes to the thread, with one short note that staff will answer. 「メニュー」 or
「ボットに戻る」 (or a menu button) brings the bot back; so do staff closing the thread and, after
HANDOFF_WAIT_MINUTES without a staff reply, the hand-back job (notify.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent
from bot.messages import menu_text
from bot.messages import text as text_message
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffRequest, HandoffRequestCreate, HandoffSource, MessageKind, Sender
from nlu.normalize import normalise

BACK_TO_BOT_WORDS = {"メニュー", "ボットに戻る", "ボットにもどる", "終了", "おわり", "終わり", "もういいです"}
# Besides text, locations and postbacks: what a citizen sends that goes to the thread while waiting.
TAKES = frozenset({"message.image", "message.sticker", "message.video", "message.audio", "message.file"})


def request_person(turn: Turn) -> StepResult:
    """Records the request (one open thread per citizen), answers with hours and phone, and waits
    for staff (the bot keeps quiet)."""
    if turn.user_id is None:
        return END
    hours = handoff_service.OfficeHours.from_settings(turn.settings)
    now = turn.now
    office_open = handoff_service.is_open(now, hours)
    request, created = handoff_service.request_person(
        db_session=turn.db_session,
        handoff_in=HandoffRequestCreate(
            line_user_id=turn.user_id,
            message=turn.text,
            source=HandoffSource.TEXT if turn.text is not None else HandoffSource.MENU,
        ),
        office_open=office_open,
        settings=turn.settings,
    )
    if created and turn.text:
        handoff_service.add_message(
            db_session=turn.db_session, settings=turn.settings, request=request, sender=Sender.CITIZEN, text=turn.text
        )
    if not created:
        answer = t("handoff.already")
    elif office_open:
        answer = t("handoff.received_open")
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
        answer = t("handoff.received_closed", next_open=next_open)
    turn.say(text_message(answer + "\n\n" + t("handoff.waiting")))
    # The first message after this gets a short note that staff will read it; the next ones, none.
    turn.data = {"request": request.id, "noted": False}
    request.waiting_until = now + timedelta(minutes=turn.settings.handoff_wait_minutes)
    request.handed_back_at = None
    return handoff_service.WITH_STAFF


def _says_back_to_bot(turn: Turn) -> bool:
    return turn.text is not None and normalise(turn.text).replace(" ", "") in BACK_TO_BOT_WORDS


def _for_the_thread(turn: Turn) -> bool:
    """Everything the citizen sends while waiting, except a menu button (that brings the bot back)."""
    return turn.action != "intent"


def back_to_bot(turn: Turn) -> StepResult:
    request = _thread(turn)
    if request is not None:
        request.waiting_until = None
    turn.say(menu_text(t("handoff.back_to_bot")))
    return END


def _thread(turn: Turn) -> HandoffRequest | None:
    request = None
    if turn.user_id is not None:
        request = handoff_service.get_open_by_citizen(db_session=turn.db_session, line_user_id=turn.user_id)
    return request


def to_thread(turn: Turn) -> StepResult:
    """What the citizen sends goes to the thread; the first time, one short note says staff will answer."""
    request = _thread(turn)
    if request is None:  # staff closed it meanwhile: a new request, or the bot answers again
        if turn.intent == "handoff":
            return request_person(turn)
        turn.say(menu_text(t("handoff.closed_meanwhile")))
        return END
    event = turn.event
    kind, text = MessageKind.TEXT, turn.text
    if event.kind == "message.image":
        kind, text = MessageKind.IMAGE, None
    elif event.kind == "message.sticker":
        kind, text = MessageKind.STICKER, "（スタンプ）"
    elif turn.location is not None:
        location = turn.location
        kind, text = (
            MessageKind.LOCATION,
            f"（位置情報）{location.address or ''} {location.latitude},{location.longitude}",
        )
    elif turn.postback is not None:
        text = "（ボタンを押しました）"
    elif text is None:
        text = "（動画・音声・ファイル：LINEでは受け取れません）"
    handoff_service.add_message(
        db_session=turn.db_session,
        settings=turn.settings,
        request=request,
        sender=Sender.CITIZEN,
        text=text,
        kind=kind,
        line_message_id=event.message_id if kind == MessageKind.IMAGE else None,
    )
    if not turn.data.get("noted"):
        turn.data["noted"] = True
        turn.say(text_message(t("handoff.noted")))
    return None


FLOW = Flow(
    name=handoff_service.FLOW_NAME,
    entry_points=[on_intent("handoff", request_person)],
    states={
        handoff_service.WITH_STAFF: [
            Route(_says_back_to_bot, back_to_bot, "text:back_to_bot"),
            Route(_for_the_thread, to_thread, "any:to_thread"),
        ]
    },
    timeout=handoff_service.QUIET_CAP,
    takes=TAKES,
)

"""What a citizen sees of classes, built once for the flow and for notifications: the sessions as a
carousel (places left in plain words), the confirmation, the signup card with its QR code, and
「マイスマホ教室」. Large print (bot/messages.card); every sentence from the catalog (classes.*)."""

from __future__ import annotations

from collections.abc import Sequence

from linebot.v3.messaging import FlexBubble, FlexImage, Message, QuickReplyItem

from bot import clock
from bot.catalog import t
from bot.messages import card, carousel, flex, image, postback_action, postback_item
from bot.settings import Settings
from handlers.classes.models import AGE_GROUPS, NEEDS, ClassSession, Details, Level, Mode, PhoneKind, Signup
from handlers.classes.service.sessions import Counts
from handlers.reservations.cards import day_text, qr_url, time_text


def when_text(session: ClassSession) -> str:
    day = day_text(session.starts_at.astimezone(clock.TOKYO).date())
    return f"{day} {time_text(session.starts_at)}〜{time_text(session.ends_at)}"


def places_text(session: ClassSession, count: Counts) -> str:
    if session.mode == Mode.LOTTERY and session.drawn_at is None:
        return t("classes.places_lottery", applied=count.applied, capacity=session.capacity)
    left = count.places_left(session)
    if left > 0 and count.waitlisted == 0:
        return t("classes.places_left", left=left, capacity=session.capacity)
    return t("classes.places_full", waiting=count.waitlisted)


def phones_text(session: ClassSession) -> str:
    return "、".join(PhoneKind(p).label for p in session.phones) or "—"


def level_text(session: ClassSession) -> str:
    return Level(session.level).label


def session_bubble(session: ClassSession, count: Counts) -> FlexBubble:
    rows = [
        (t("classes.label_when"), when_text(session)),
        (t("classes.label_venue"), session.venue),
        (t("classes.label_level"), level_text(session)),
        (t("classes.label_places"), places_text(session, count)),
        (t("classes.label_bring"), session.bring or "—"),
        (t("classes.label_phones"), phones_text(session)),
    ]
    buttons = [
        postback_action(t("classes.button_signup"), "cls_pick", display=t("classes.button_signup"), id=session.id)
    ]
    if session.latitude is not None and session.longitude is not None:
        buttons.append(
            postback_action(t("classes.button_map"), "cls_map", display=t("classes.button_map"), id=session.id)
        )
    return card(session.title, rows, note=session.description or None, buttons=buttons)


def sessions_message(items: Sequence[tuple[ClassSession, Counts]], quick: Sequence[QuickReplyItem] = ()) -> Message:
    bubbles = [session_bubble(session, count) for session, count in items]
    return flex(t("classes.list_alt", count=len(items)), carousel(bubbles), quick)


def details_rows(details: Details) -> list[tuple[str, str]]:
    rows = [
        (t("classes.label_name"), details.name),
        (t("classes.label_furigana"), details.furigana or "—"),
        (t("classes.label_phone"), details.phone or "—"),
        (t("classes.label_phone_type"), details.phone_type.label if details.phone_type else "—"),
        (t("classes.label_age"), AGE_GROUPS[details.age_group][0] if details.age_group else t("classes.not_given")),
        (t("classes.label_needs"), "、".join(NEEDS[n] for n in details.needs) or t("classes.no_needs")),
    ]
    return rows


def confirmation(session: ClassSession, details: Details, nonce: str, *, lottery: bool) -> Message:
    rows = [(t("classes.label_class"), session.title), (t("classes.label_when"), when_text(session))]
    rows += [(t("classes.label_venue"), session.venue), *details_rows(details)]
    bubble = card(
        t("classes.confirm_title"),
        rows,
        note=t("classes.confirm_note_lottery") if lottery else t("classes.confirm_note"),
        buttons=[
            postback_action(t("classes.button_apply"), "cls_confirm", display=t("classes.button_apply"), k=nonce),
            postback_action(t("common.back"), "cls_back", display=t("common.back")),
            postback_action(t("common.quit"), "cls_quit", display=t("common.quit")),
        ],
    )
    return flex(t("classes.confirm_alt"), bubble)


def status_text(signup: Signup, position: int | None) -> str:
    if signup.status == "waitlisted":
        return t("classes.status_waitlisted", position=position or "—")
    return t(f"classes.status_{signup.status}")


def signup_messages(
    settings: Settings,
    session: ClassSession,
    signup: Signup,
    name: str,
    token: str | None,
    *,
    lead: str,
    position: int | None = None,
) -> list[Message]:
    """The signup as a card; with the QR code (on top, and as an image to enlarge) once confirmed."""
    confirmed = signup.status == "confirmed" and token is not None
    hero = (
        FlexImage(url=qr_url(settings, token, "original"), size="full", aspectRatio="1:1", aspectMode="fit")
        if confirmed and token
        else None
    )
    rows = [
        (t("classes.label_class"), session.title),
        (t("classes.label_when"), when_text(session)),
        (t("classes.label_venue"), session.venue),
        (t("classes.label_participant"), name or "—"),
        (t("classes.label_status"), status_text(signup, position)),
        (t("classes.label_bring"), session.bring or "—"),
    ]
    buttons = [postback_action(t("classes.button_mine"), "cls_mine", display=t("classes.button_mine"))]
    if signup.promoted_at is not None and signup.status == "confirmed":
        buttons.insert(
            0,
            postback_action(
                t("classes.button_decline"), "cls_decline", display=t("classes.button_decline"), id=signup.id
            ),
        )
    bubble = card(lead, rows, note=t("classes.card_note") if confirmed else None, buttons=buttons, hero=hero)
    messages: list[Message] = [flex(t("classes.card_alt", title=session.title, when=when_text(session)), bubble)]
    if confirmed and token:
        messages.append(image(qr_url(settings, token, "original"), qr_url(settings, token, "preview")))
    return messages


def mine_message(items: Sequence[tuple[Signup, ClassSession, str, int | None]]) -> Message:
    """「マイスマホ教室」: one bubble per signup (mine and my family's): show the QR, cancel."""
    bubbles: list[FlexBubble] = []
    for signup, session, name, position in items:
        buttons = []
        if signup.status == "confirmed":
            buttons.append(
                postback_action(
                    t("classes.button_show_qr"), "cls_show", display=t("classes.button_show_qr"), id=signup.id
                )
            )
        buttons.append(
            postback_action(t("classes.button_cancel"), "cls_cancel", display=t("classes.button_cancel"), id=signup.id)
        )
        rows = [
            (t("classes.label_when"), when_text(session)),
            (t("classes.label_venue"), session.venue),
            (t("classes.label_participant"), name or "—"),
            (t("classes.label_status"), status_text(signup, position)),
        ]
        bubbles.append(card(session.title, rows, buttons=buttons))
    return flex(t("classes.mine_alt", count=len(items)), carousel(bubbles))


def mine_item() -> QuickReplyItem:
    return postback_item(t("classes.button_mine"), "cls_mine", display=t("classes.button_mine"))


def show_qr_item(signup: Signup) -> QuickReplyItem:
    return postback_item(t("classes.button_show_qr"), "cls_show", display=t("classes.button_show_qr"), id=signup.id)

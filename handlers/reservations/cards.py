"""What a citizen sees of a booking, built once for the flow and for notifications: the booked card
with its QR code, the list of bookings, the confirmation card, the reminder text.

Built from bot/messages.py's builders; every sentence comes from the catalog (reservations.*).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from linebot.v3.messaging import FlexBubble, FlexImage, Message

from bot import clock
from bot.catalog import t
from bot.messages import card, carousel, flex, image, intent_item, postback_action
from bot.settings import Settings
from handlers.reservations import forms
from handlers.reservations.models import Office, Procedure, Reservation


def day_text(day: date) -> str:
    weekday = t("reservations.weekdays")[day.weekday()]
    return t("reservations.date_format", month=day.month, day=day.day, weekday=weekday)


def time_text(moment: datetime) -> str:
    local = moment.astimezone(clock.TOKYO)
    return f"{local.hour}:{local.minute:02d}"


def when_text(moment: datetime) -> str:
    return f"{day_text(moment.astimezone(clock.TOKYO).date())} {time_text(moment)}"


def documents_text(procedure: Procedure) -> str:
    return "、".join(procedure.documents) or "—"


def qr_url(settings: Settings, token: str, size: str) -> str:
    return f"{settings.public_base_url}/media/qr/{token}.png?size={size}"


def _rows(reservation: Reservation, procedure: Procedure, office: Office) -> list[tuple[str, str]]:
    return [
        (t("reservations.label_procedure"), procedure.name),
        (t("reservations.label_office"), office.name),
        (t("reservations.label_date"), day_text(reservation.visit_day)),
        (t("reservations.label_time"), time_text(reservation.starts_at)),
        (t("reservations.label_number"), t("reservations.number", id=reservation.id)),
    ]


def booked_messages(
    settings: Settings,
    reservation: Reservation,
    procedure: Procedure,
    office: Office,
    token: str | None,
    *,
    shown_again: bool = False,
    lead: str | None = None,
) -> list[Message]:
    """The booking as a card (QR code on top, 持ち物 below) and the QR code as an image to enlarge:
    「ご予約を承りました」 when it was just made; its details when it is `shown_again` (titled `lead`)."""
    hero = (
        FlexImage(url=qr_url(settings, token, "original"), size="full", aspectRatio="1:1", aspectMode="fit")
        if token
        else None
    )
    rows = [*_rows(reservation, procedure, office), (t("reservations.label_documents"), documents_text(procedure))]
    bubble = card(
        lead or t("reservations.shown_title" if shown_again else "reservations.booked_title"),
        rows,
        note=t("reservations.booked_note") if token else t("reservations.qr_missing"),
        buttons=[
            postback_action(
                t("reservations.button_check"), "intent", display=t("menu.reservation_check"), name="reservation_check"
            )
        ],
        hero=hero,
    )
    alt = t(
        "reservations.shown_alt" if shown_again else "reservations.booked_alt",
        date=day_text(reservation.visit_day),
        time=time_text(reservation.starts_at),
        office=office.name,
    )
    messages: list[Message] = [flex(alt, bubble)]
    if token:
        messages.append(image(qr_url(settings, token, "original"), qr_url(settings, token, "preview")))
    return messages


def booking_list(items: Sequence[tuple[Reservation, Procedure, Office]]) -> Message:
    """Upcoming bookings, one bubble each, with: show the QR again / change date and time / cancel."""
    bubbles: list[FlexBubble] = []
    for reservation, procedure, office in items:
        bubbles.append(
            card(
                procedure.name,
                _rows(reservation, procedure, office)[1:],
                buttons=[
                    postback_action(
                        t("reservations.button_show_qr"),
                        "rsv_show",
                        display=t("reservations.button_show_qr"),
                        id=reservation.id,
                    ),
                    postback_action(
                        t("reservations.button_change"),
                        "rsv_change",
                        display=t("reservations.button_change"),
                        id=reservation.id,
                    ),
                    postback_action(
                        t("reservations.button_cancel"),
                        "rsv_cancel",
                        display=t("reservations.button_cancel"),
                        id=reservation.id,
                    ),
                ],
            )
        )
    return flex(t("reservations.list_alt", count=len(items)), carousel(bubbles), [intent_item("reservation_make")])


def confirmation(
    *,
    procedure: Procedure,
    office: Office,
    starts_at: datetime,
    answers: dict[str, str],
    nonce: str,
) -> Message:
    rows = [
        (t("reservations.label_procedure"), procedure.name),
        (t("reservations.label_office"), office.name),
        (t("reservations.label_date"), day_text(starts_at.astimezone(clock.TOKYO).date())),
        (t("reservations.label_time"), time_text(starts_at)),
    ]
    for key in procedure.fields:
        if key in answers:
            rows.append((t(f"reservations.fields.{key}.label"), forms.display(forms.FIELDS[key], answers[key])))
    rows.append((t("reservations.label_documents"), documents_text(procedure)))
    bubble = card(
        t("reservations.confirm_title"),
        rows,
        note=t("reservations.confirm_note"),
        buttons=[
            postback_action(
                t("reservations.button_book"), "rsv_confirm", display=t("reservations.button_book"), k=nonce
            ),
            postback_action(t("reservations.button_back"), "rsv_back", display=t("reservations.button_back")),
            postback_action(t("reservations.button_quit"), "rsv_quit", display=t("reservations.button_quit")),
        ],
    )
    return flex(t("reservations.confirm_alt"), bubble)


def reminder_text(kind: str, reservation: Reservation, procedure: Procedure, office: Office) -> str:
    return t(
        f"reservations.reminder_{kind}",
        date=day_text(reservation.visit_day),
        time=time_text(reservation.starts_at),
        office=office.name,
        procedure=procedure.name,
        documents=documents_text(procedure),
    )

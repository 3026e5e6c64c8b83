"""What each step of a class signup asks, with its buttons (quick replies); every question offers
戻る and やめる. The answers so far are kept encrypted in the conversation (scratch_details)."""

from __future__ import annotations

import secrets
from typing import Any

from linebot.v3.messaging import QuickReplyItem

from bot import personal_data
from bot.catalog import t
from bot.flow import StepResult, Turn
from bot.messages import postback_item
from bot.messages import text as text_message
from handlers.classes import cards
from handlers.classes.models import AGE_GROUPS, NEEDS, ClassSession, Details, Participant, PhoneKind
from handlers.classes.service import sessions
from handlers.classes.service import signups as signup_service
from handlers.classes.states import State


def navigation() -> list[QuickReplyItem]:
    return [
        postback_item(t("common.back"), "cls_back", display=t("common.back")),
        postback_item(t("common.quit"), "cls_quit", display=t("common.quit")),
    ]


# The answers so far (personal data: encrypted even in the conversation's own row) ----------------


def answers(turn: Turn) -> dict[str, Any]:
    raw = personal_data.decrypt_json(turn.data.get("d"), turn.settings)
    out: dict[str, Any] = dict(raw)
    if "needs" in out:
        out["needs"] = [n for n in str(out["needs"]).split(",") if n]
    return out


def store(turn: Turn, values: dict[str, Any]) -> None:
    flat = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in values.items()}
    turn.data["d"] = personal_data.encrypt_json(flat, turn.settings)


def details(turn: Turn) -> Details:
    values = answers(turn)
    return Details(
        name=values.get("name", ""),
        furigana=values.get("furigana", ""),
        phone=values.get("phone", ""),
        phone_type=values.get("phone_type") or None,
        age_group=values.get("age_group") or None,
        needs=values.get("needs", []),
    )


def use_participant(turn: Turn, participant: Participant) -> None:
    """A remembered participant's details fill every question."""
    known = signup_service.participant_details(participant, turn.settings)
    if known is None:
        return
    store(
        turn,
        {
            "name": known.name,
            "furigana": known.furigana,
            "phone": known.phone,
            "phone_type": known.phone_type.value if known.phone_type else "",
            "age_group": known.age_group or "",
            "needs": known.needs,
        },
    )
    turn.data["pid"] = participant.id
    turn.data["needs_done"] = True


# The questions ----------------------------------------------------------------------------------


def ask_who(turn: Turn, session: ClassSession) -> StepResult:
    """「自分」 or 「家族など、ほかの方」, and everyone signed up before (one tap, details remembered)."""
    items = [
        postback_item(t("classes.who_self"), "cls_who", display=t("classes.who_self"), who="self"),
        postback_item(t("classes.who_other"), "cls_who", display=t("classes.who_other"), who="other"),
    ]
    assert turn.user_id is not None
    for participant in signup_service.participants_of(db_session=turn.db_session, line_user_id=turn.user_id)[:8]:
        known = signup_service.participant_details(participant, turn.settings)
        if known is not None:
            label = t("classes.who_known", name=known.name)
            items.insert(0, postback_item(label, "cls_who", display=label, who="p", id=participant.id))
    lead = t("classes.ask_who", title=session.title, when=cards.when_text(session))
    turn.say(text_message(lead, items + navigation()))
    return State.WHO


def ask_text(turn: Turn, key: str, state: State, *, lead: str | None = None) -> StepResult:
    question = t(f"classes.ask_{key}_other" if turn.data.get("who") == "other" else f"classes.ask_{key}")
    turn.say(text_message(f"{lead}\n{question}" if lead else question, navigation()))
    return state


def ask_phone_type(turn: Turn) -> StepResult:
    items = [
        postback_item(kind.label, "cls_phone", display=kind.label, v=kind.value)
        for kind in (PhoneKind.IPHONE, PhoneKind.ANDROID)
    ]
    items.append(postback_item(t("classes.phone_none"), "cls_phone", display=t("classes.phone_none"), v="loaner"))
    turn.say(text_message(t("classes.ask_phone_type"), items + navigation()))
    return State.PHONE_TYPE


def ask_age(turn: Turn) -> StepResult:
    items = [postback_item(label, "cls_age", display=label, v=key) for key, (label, _) in AGE_GROUPS.items()]
    items.append(postback_item(t("classes.skip"), "cls_age", display=t("classes.skip"), v="skip"))
    turn.say(text_message(t("classes.ask_age"), items + navigation()))
    return State.AGE


def ask_needs(turn: Turn, *, more: bool = False) -> StepResult:
    chosen = answers(turn).get("needs", [])
    items = [
        postback_item(label, "cls_need", display=label, v=key) for key, label in NEEDS.items() if key not in chosen
    ]
    done = t("classes.needs_done") if more else t("classes.no_needs")
    items.append(postback_item(done, "cls_need", display=done, v="done"))
    question = (
        t("classes.ask_more_needs", chosen="、".join(NEEDS[n] for n in chosen)) if more else t("classes.ask_needs")
    )
    turn.say(text_message(question, items + navigation()))
    return State.NEEDS


def show_confirmation(turn: Turn, session: ClassSession) -> StepResult:
    """Everything on one card, with 「申し込む」 (a new key each time it is shown)."""
    nonce = secrets.token_hex(16)
    turn.data["nonce"] = nonce
    turn.say(cards.confirmation(session, details(turn), nonce, lottery=sessions.takes_applications(session)))
    return State.CONFIRM

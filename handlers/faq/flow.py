"""FAQ answers: a question in, the answer out (with 役に立った / 役に立たなかった), or 「もしかして…」
candidates when we are not sure, or an honest "we cannot answer that yet" that is recorded for staff.

Which text comes here: text the NLU labels `faq` or cannot label confidently; after the menu's
「よくある質問」 button, any question; and a question for information (where is the shelter, when is
the office open) whose capability is not built yet, when the FAQ has a confident answer for it.
`out_of_scope` gets a kind "not something the city can help with here".

Answers are easier to read on a phone in short paragraphs: an answer staff wrote as one block is
shown a sentence to a paragraph; one staff broke into lines (or bullets) is shown as they wrote it.
The entry's official page, when it has one, closes the answer.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_postback
from bot.messages import menu_text, moving_items, postback_item
from bot.messages import text as text_message
from handlers.faq import service as faq_service
from handlers.faq.models import FAQ_ID_PATTERN, FaqEntry
from nlu.faq import Decision, decide, suggestions
from nlu.moving import says_move_without_direction
from nlu.result import FaqResult

# Questions for information: while no capability of this deployment owns the intent, a confident FAQ
# answer is better than "準備中". Requests to do something (book, sign up, cancel, subscribe) are
# never answered from the FAQ: its text would describe a service the citizen cannot use here yet.
INFORMATION_INTENTS = frozenset({"shelter_search", "facility_search", "aed_search", "garbage_day", "class_info"})


# The seed's three moving entries, by direction: a move that does not say which is asked about.
MOVING_ENTRIES = {"into": "tennyu_todoke", "out": "tenshutsu_todoke", "within": "tenkyo_todoke"}


class State(StrEnum):
    QUESTION = "question"  # the menu's 「よくある質問」 was tapped: waiting for the question
    PICK = "pick"  # 「もしかして…」 candidates shown: waiting for a choice


def _question_text(turn: Turn) -> str | None:
    return turn.text if turn.nlu is not None else None


def _faq_result(turn: Turn) -> FaqResult:
    """Retrieval for this turn's text (the index remembers recent questions, so asking twice is free)."""
    return faq_service.ask(db_session=turn.db_session, text=turn.text or "")


def asks_question(turn: Turn) -> bool:
    """Text labelled `faq`, or text the NLU is not confident about."""
    if _question_text(turn) is None or turn.postback is not None:
        return False
    assert turn.nlu is not None
    return turn.nlu.intent_name in (None, "faq")


def answerable_for_unbuilt_capability(turn: Turn) -> bool:
    """A question for information no earlier flow claimed (not built yet) that the FAQ answers well."""
    if _question_text(turn) is None or turn.postback is not None:
        return False
    assert turn.nlu is not None
    intent = turn.nlu.intent_name
    if intent not in INFORMATION_INTENTS or intent in turn.capabilities.owned_intents:
        return False
    return decide(_faq_result(turn)) is Decision.ANSWER


def question_after_prompt(turn: Turn) -> bool:
    """After 「よくある質問」: the question, unless it is clearly something else we should route."""
    if _question_text(turn) is None:
        return False
    assert turn.nlu is not None
    if turn.nlu.intent_name in (None, "faq", "out_of_scope"):
        return True
    return decide(_faq_result(turn)) is not Decision.UNKNOWN


# Steps ------------------------------------------------------------------------------------------


MAX_BUTTONS = 12  # LINE shows at most 13 quick replies


def prompt_question(turn: Turn) -> StepResult:
    """The menu's 「よくある質問」: the question in the citizen's own words, or (for those who would
    rather not type) the topics as buttons, then that topic's questions."""
    categories = list(dict.fromkeys(e.category for e in faq_service.get_all(db_session=turn.db_session) if e.category))
    items = [postback_item(c, "faq_cat", display=c, c=c) for c in categories[:MAX_BUTTONS]]
    turn.say(text_message(t("faq.prompt_with_topics") if items else t("faq.prompt"), items))
    return State.QUESTION


def show_category(turn: Turn) -> StepResult:
    """A topic button: its questions, numbered, each a button that shows the answer."""
    category = turn.postback_fields.get("c", "")
    entries = [e for e in faq_service.get_all(db_session=turn.db_session) if e.category == category][:MAX_BUTTONS]
    if not entries:
        turn.say(menu_text(t("faq.gone")))
        return END
    choices = "\n".join(t("faq.choice", number=i, question=e.question) for i, e in enumerate(entries, start=1))
    items = [
        postback_item(t("faq.choice", number=i, question=e.question), "faq", display=e.question, id=e.id)
        for i, e in enumerate(entries, start=1)
    ]
    turn.say(text_message(t("faq.topic", category=category, choices=choices), items))
    return END


def answer_question(turn: Turn) -> StepResult:
    """Answers, offers candidates (stores the question for 「どれでもない」), or records it as unanswered."""
    question = turn.text or ""
    if says_move_without_direction(question) and _ask_which_move(turn):
        turn.data = {"question": question[: faq_service.MAX_STORED_QUESTION]}
        return State.PICK
    result = _faq_result(turn)
    decision = decide(result)
    if decision is Decision.ANSWER:
        entry = faq_service.get_active(db_session=turn.db_session, faq_id=result.faq_id or "")
        if entry is not None:
            _say_answer(turn, entry)
            return END
    if decision is not Decision.UNKNOWN:
        entries = [faq_service.get_active(db_session=turn.db_session, faq_id=i) for i in suggestions(result)]
        shown = [e for e in entries if e is not None]
        if shown:
            _say_candidates(turn, shown)
            turn.data = {"question": question[: faq_service.MAX_STORED_QUESTION]}
            return State.PICK
    faq_service.record_unanswered(db_session=turn.db_session, text=question, result=result)
    turn.say(menu_text(t("faq.unknown")))
    return END


def show_chosen(turn: Turn) -> StepResult:
    """A 「もしかして…」 button: the chosen entry's answer (checked: it must exist and be active)."""
    faq_id = turn.postback_fields.get("id", "")
    entry = faq_service.get_active(db_session=turn.db_session, faq_id=faq_id) if _valid_id(faq_id) else None
    if entry is None:
        turn.say(menu_text(t("faq.gone")))
        return END
    _say_answer(turn, entry)
    return END


def none_of_these(turn: Turn) -> StepResult:
    """「どれでもない」: the question counts as unanswered; the citizen gets the honest answer."""
    question = str(turn.data.get("question") or "")
    if question:
        faq_service.record_unanswered(db_session=turn.db_session, text=question)
    turn.say(menu_text(t("faq.unknown")))
    return END


def record_feedback(turn: Turn) -> StepResult:
    """役に立った / 役に立たなかった under an answer: stored per entry and citizen."""
    faq_id = turn.postback_fields.get("id", "")
    helpful = turn.postback_fields.get("helpful")
    if not _valid_id(faq_id) or helpful not in ("1", "0") or turn.user_id is None:
        turn.say(menu_text(t("faq.gone")))
        return END
    try:
        faq_service.record_feedback(
            db_session=turn.db_session, faq_id=faq_id, line_user_id=turn.user_id, helpful=helpful == "1"
        )
    except faq_service.FaqNotFound:
        turn.say(menu_text(t("faq.gone")))
        return END
    if helpful == "1":
        turn.say(text_message(t("faq.thanks_helpful")))
    else:
        turn.say(menu_text(t("faq.thanks_not_helpful")))
    return END


def out_of_scope(turn: Turn) -> StepResult:
    """Weather, stocks, chit-chat: kindly say what this account is for."""
    turn.say(menu_text(t("faq.out_of_scope")))
    return END


def _valid_id(faq_id: str) -> bool:
    return bool(re.fullmatch(FAQ_ID_PATTERN, faq_id))


# Answer layout ------------------------------------------------------------------------------------

_OPENING = "「『（(【［[〈《"
_CLOSING = "」』）)】］]〉》"
_SENTENCE_END = "。！？!?"


def sentences(text: str) -> list[str]:
    """The text's sentences, each ending at 。！？ outside brackets (「…。」 stays whole)."""
    found: list[str] = []
    current: list[str] = []
    depth = 0
    for index, char in enumerate(text):
        current.append(char)
        if char in _OPENING:
            depth += 1
        elif char in _CLOSING:
            depth = max(0, depth - 1)
        elif char in _SENTENCE_END and depth == 0:
            following = text[index + 1 : index + 2]
            if following and following in _SENTENCE_END:
                continue  # 「！？」: one end
            found.append("".join(current).strip())
            current = []
    rest = "".join(current).strip()
    if rest:
        found.append(rest)
    return [s for s in found if s]


def readable(answer: str) -> str:
    """The answer in short paragraphs: staff's own line breaks kept; one block, a sentence each."""
    text = answer.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" in text:
        lines = [line.rstrip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return "\n\n".join(sentences(text))


def answer_text(entry: FaqEntry) -> str:
    """What the citizen reads: the question, the answer in paragraphs, the official page if any."""
    body = readable(entry.answer)
    if entry.url:
        body += "\n\n" + t("faq.link", url=entry.url)
    return t("faq.answer", question=entry.question, answer=body)


def _say_answer(turn: Turn, entry: FaqEntry) -> None:
    """The answer, what other capabilities offer for it (「LINEで報告する」), then 役に立った？"""
    turn.say(
        text_message(
            answer_text(entry),
            [
                *turn.capabilities.faq_buttons(turn.db_session, entry.id),
                postback_item(
                    t("faq.helpful_button"), "faq_feedback", display=t("faq.helpful_button"), id=entry.id, helpful=1
                ),
                postback_item(
                    t("faq.not_helpful_button"),
                    "faq_feedback",
                    display=t("faq.not_helpful_button"),
                    id=entry.id,
                    helpful=0,
                ),
            ],
        )
    )


def _ask_which_move(turn: Turn) -> bool:
    """「来月引っ越す」: into, out of, or within the city? False when those entries are not all active."""
    active = {way: faq_service.get_active(db_session=turn.db_session, faq_id=i) for way, i in MOVING_ENTRIES.items()}
    items = moving_items({way: e.id if e else None for way, e in active.items()}, "faq")
    if items is None:
        return False
    items.append(postback_item(t("faq.none_button"), "faq_none", display=t("faq.none_display")))
    turn.say(text_message(t("faq.which_move"), items))
    return True


def _say_candidates(turn: Turn, entries: list[FaqEntry]) -> None:
    choices = "\n".join(t("faq.choice", number=i, question=e.question) for i, e in enumerate(entries, start=1))
    items = [
        postback_item(t("faq.choice", number=i, question=e.question), "faq", display=e.question, id=e.id)
        for i, e in enumerate(entries, start=1)
    ]
    items.append(postback_item(t("faq.none_button"), "faq_none", display=t("faq.none_display")))
    turn.say(text_message(t("faq.suggest", choices=choices), items))


FLOW = Flow(
    name="faq",
    entry_points=[
        on_postback("faq", show_chosen),
        on_postback("faq_none", none_of_these),
        on_postback("faq_feedback", record_feedback),
        on_postback("faq_cat", show_category),
        Route(asks_question, answer_question, "text:faq-or-unsure"),
        Route(answerable_for_unbuilt_capability, answer_question, "text:faq-for-unbuilt-capability"),
        on_intent("faq", prompt_question),
        on_intent("out_of_scope", out_of_scope),
    ],
    states={
        State.QUESTION: [Route(question_after_prompt, answer_question, "text:question")],
        State.PICK: [on_postback("faq", show_chosen), on_postback("faq_none", none_of_these)],
    },
)

"""申請・通報 in chat: a form one question at a time, then a confirmation card, then a 受付番号.

Started by a menu button (the list of forms), a form's start words in a message that reports rather
than asks (「イノシシが畑に出た」; 「イノシシの補助金はありますか？」 is a question for the FAQ), or a
button under a status push. Each question offers buttons where there are choices, the camera and
camera roll for photos (skippable when optional), the location button and the districts for places
(a 大字 may be typed: nobody needs GPS). 戻る and やめる work at every step, typed or tapped.

The conversation keeps the version it started with: staff publishing a change meanwhile does not
change the questions under the citizen. Answers are read by handlers/forms/answers.py (the booking
form's cleaners). 「私の申請・通報」 lists the citizen's cases with their status.

Conversation data: v (version id), q (the question asked), a (answers so far), path (the questions
answered, for 戻る), photos ({question: [photo tokens]}), place ({name, lat, lng}), picked (choices
ticked so far), n (the confirmation card's nonce).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from linebot.v3.messaging import (
    CameraAction,
    CameraRollAction,
    FlexBox,
    FlexBubble,
    FlexComponent,
    FlexImage,
    Message,
    QuickReplyItem,
)

from bot import clock
from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_postback
from bot.messages import (
    card,
    clip,
    date_picker_item,
    flex,
    location_item,
    main_menu_items,
    menu_text,
    message_item,
    postback_action,
    postback_item,
)
from bot.messages import text as text_message
from bot.settings import Settings
from handlers.forms import answers as form_answers
from handlers.forms import service as forms_service
from handlers.forms.definition import NO, YES, DateRange, FormDefinition, Kind, Question
from handlers.forms.models import FormVersion
from handlers.gis.service import places
from handlers.gis.service import search as place_search
from handlers.reservations.flow import BACK_WORDS, QUIT_WORDS
from handlers.reservations.forms import asks_something
from nlu.normalize import normalise
from nlu.tokenizer import Token, tokenize

ASK = "ask"  # waiting for the answer to question `q`
CONFIRM = "confirm"  # the card: 送信する, 戻る or やめる
ASIDE = "aside"  # a question was typed at a question: 続ける, or leave to ask it
TIMEOUT = timedelta(minutes=60)  # a letter takes a while to write
LIST_WORDS = frozenset({"申請・通報", "申請通報", "通報", "通報したい", "報告したい", "アンケート", "申請・通報の一覧"})
MINE_WORDS = frozenset(
    {"私の申請・通報", "私の申請", "私の通報", "わたしの申請", "申請の状況", "通報の状況", "申請・通報の状況"}
)
SEND_WORDS = frozenset({"送信", "送信する", "この内容で送信", "この内容で送信する", "はい", "お願いします"})
NEXT_WORDS = frozenset(
    {
        "次へ",
        "つぎへ",
        "これで完了",
        "完了",
        "決定",
        "これで決定",
        "写真なし",
        "写真なしで進む",
        "なし",
        "スキップ",
        "省略",
    }
)
MAX_BUTTONS = 13
TAKES = frozenset({"message.image"})


def _words(turn: Turn) -> str:
    return normalise(turn.text or "").replace(" ", "")


# Looking things up ----------------------------------------------------------------------------------


def _version(turn: Turn) -> tuple[FormVersion, FormDefinition] | None:
    version = forms_service.get_version(db_session=turn.db_session, version_id=int(turn.data.get("v", 0) or 0))
    return None if version is None else (version, forms_service.definition_of(version))


def _answers(turn: Turn) -> dict[str, str]:
    answers = turn.data.setdefault("a", {})
    return answers if isinstance(answers, dict) else {}


def _photos(turn: Turn) -> dict[str, list[str]]:
    photos = turn.data.setdefault("photos", {})
    return photos if isinstance(photos, dict) else {}


def _next_question(definition: FormDefinition, answers: dict[str, str], after: str | None) -> Question | None:
    """The next question to ask after `after` (None: from the start) whose condition holds."""
    keys = [q.key for q in definition.questions]
    start = keys.index(after) + 1 if after in keys else 0
    return next((q for q in definition.questions[start:] if definition.applies(q, answers)), None)


def _number(definition: FormDefinition, question: Question, answers: dict[str, str]) -> tuple[int, int]:
    """(n, of): this question's place among those asked, given the answers so far."""
    asked = [q for q in definition.questions if definition.applies(q, answers)]
    index = next((i for i, q in enumerate(asked) if q.key == question.key), 0)
    return index + 1, len(asked)


# Asking ------------------------------------------------------------------------------------------------


def _navigation(turn: Turn) -> list[QuickReplyItem]:
    items = []
    if turn.data.get("path"):
        items.append(postback_item(t("forms.button_back"), "form_back", display=t("forms.button_back")))
    items.append(postback_item(t("forms.button_quit"), "form_quit", display=t("forms.button_quit")))
    return items


def _photo_urls(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/media/forms/{token}.jpg"


def ask(turn: Turn, definition: FormDefinition, question: Question, *, lead: str | None = None) -> StepResult:
    """Asks `question` with the buttons its kind offers (and 戻る / やめる)."""
    answers = _answers(turn)
    number, of = _number(definition, question, answers)
    lines = [lead] if lead else []
    lines.append(t("forms.question", number=number, count=of, question=question.text))
    if question.help:
        lines.append(question.help)
    items: list[QuickReplyItem] = []
    nav = _navigation(turn)
    room = MAX_BUTTONS - len(nav)
    kind = question.kind
    if kind == Kind.SINGLE_CHOICE:
        items = [message_item(choice) for choice in question.choices[: room - (0 if question.required else 1)]]
        if len(question.choices) > len(items):
            lines.append(_numbered(question.choices))
    elif kind == Kind.MULTIPLE_CHOICE:
        picked = set(turn.data.get("picked") or [])
        lines.append(t("forms.multiple_hint"))
        if picked:
            lines.append(t("forms.picked", choices="、".join(c for c in question.choices if c in picked)))
            items.append(postback_item(t("forms.button_done"), "form_done", display=t("forms.button_done")))
        for index, choice in enumerate(question.choices):
            if choice not in picked and len(items) < room - 1:
                items.append(postback_item(choice, "form_pick", display=choice, c=index))
    elif kind == Kind.YES_NO:
        items = [message_item(YES), message_item(NO)]
    elif kind == Kind.DATE:
        today = clock.now_tokyo().date()
        low = today if question.dates == DateRange.FUTURE else today - form_answers.DATE_REACH
        high = today if question.dates == DateRange.PAST else today + form_answers.DATE_REACH
        if question.dates == DateRange.PAST:
            items = [message_item(t("forms.today")), message_item(t("forms.yesterday"))]
        items.append(
            date_picker_item(t("forms.button_calendar"), "form_date", initial=today, min_value=low, max_value=high)
        )
    elif kind == Kind.PHOTO:
        have = len(_photos(turn).get(question.key, []))
        if have:
            lines = [t("forms.photo_more", count=have, max=question.max_photos)]
            items.append(
                postback_item(t("forms.button_photos_done"), "form_done", display=t("forms.button_photos_done"))
            )
        items += [
            QuickReplyItem(action=CameraAction(label=t("forms.button_camera"))),
            QuickReplyItem(action=CameraRollAction(label=t("forms.button_camera_roll"))),
        ]
        if not question.required and not have:
            items.append(postback_item(t("forms.button_no_photo"), "form_skip", display=t("forms.button_no_photo")))
    elif kind == Kind.PLACE:
        lines.append(t("forms.place_hint"))
        items = [location_item(t("forms.button_location"))]
        items += [postback_item(d, "form_area", display=d, d=d) for d in places.DISTRICTS]
    if not question.required and kind not in (Kind.PHOTO,):
        items.append(postback_item(t("forms.button_skip"), "form_skip", display=t("forms.button_skip")))
    turn.data["q"] = question.key
    turn.say(text_message("\n".join(lines), [*items[:room], *nav]))
    return ASK


def _numbered(choices: list[str]) -> str:
    return "\n".join(f"{i}. {c}" for i, c in enumerate(choices, start=1))


def _ask_next(turn: Turn, definition: FormDefinition, after: str | None) -> StepResult:
    question = _next_question(definition, _answers(turn), after)
    if question is None:
        return _confirm(turn, definition)
    turn.data.pop("picked", None)
    return ask(turn, definition, question)


def _answered(turn: Turn, definition: FormDefinition, question: Question, value: str | None) -> StepResult:
    """Keeps the answer (None: skipped), remembers the way back, and asks the next question."""
    answers = _answers(turn)
    if value is None:
        answers.pop(question.key, None)
    else:
        answers[question.key] = value
    # Answers to questions no longer asked (a branch not taken any more) are dropped.
    for other in definition.questions:
        if other.key in answers and not definition.applies(other, answers):
            answers.pop(other.key, None)
    path = [k for k in turn.data.get("path", []) if k != question.key]
    path.append(question.key)
    turn.data["path"] = path
    turn.data["a"] = answers
    return _ask_next(turn, definition, question.key)


# Starting ------------------------------------------------------------------------------------------


def begin(turn: Turn, item: forms_service.Startable) -> StepResult:
    if turn.user_id is None:
        return END
    turn.data = {"v": item.version_id, "a": {}, "path": [], "photos": {}}
    definition = item.definition
    intro = t("forms.intro", title=definition.title)
    if definition.intro:
        intro += "\n" + definition.intro
    intro += "\n" + t("forms.how_to_quit")
    prefilled = _choices_named(definition, turn.text or "")
    if prefilled:
        turn.data["a"] = prefilled
        turn.data["path"] = list(prefilled)
    first = _next_question(definition, prefilled, None)
    while first is not None and first.key in prefilled:
        first = _next_question(definition, prefilled, first.key)
    if first is None:
        return _confirm(turn, definition, lead=intro)
    return ask(turn, definition, first, lead=intro)


def _choices_named(definition: FormDefinition, text: str) -> dict[str, str]:
    """The answers the first message already gives: 「イノシシが畑に出た」 answers 「どの動物ですか？」.
    Only a leading single-choice question whose choices the text names exactly one of (戻る undoes it)."""
    found: dict[str, str] = {}
    tokens = tokenize(normalise(text)) if text else []
    for question in definition.questions:
        if question.kind != Kind.SINGLE_CHOICE or not definition.applies(question, found):
            break
        named = [c for c in question.choices if _names(c, tokens)]
        if len(named) != 1:
            break
        found[question.key] = named[0]
    return found


_KATAKANA = re.compile(r"[ァ-ヺー]+")


def _names(choice: str, tokens: list[Token]) -> bool:
    """Whether a word of the message is the choice: as written, in its dictionary form (いのしし and
    猪 are イノシシ), or, for a katakana choice, by its reading (猿 is サル)."""
    word = normalise(choice)
    if any(tok.surface == word for tok in tokens):
        return True
    own = tokenize(word)
    if len(own) == 1 and any(tok.normal == own[0].normal for tok in tokens):
        return True
    return _KATAKANA.fullmatch(word) is not None and any(tok.reading == word for tok in tokens)


def start_by_button(turn: Turn) -> StepResult:
    key = turn.postback_fields.get("k", "")
    item = next((f for f in forms_service.startable(db_session=turn.db_session) if f.key == key), None)
    if item is None:
        turn.say(menu_text(t("forms.unknown_form")))
        return END
    return begin(turn, item)


def _reports_something(turn: Turn) -> bool:
    """A message with a form's start words that reports or asks to report (not a question about it)."""
    text = turn.text
    if text is None or len(text) > 300 or (asks_something(text) and not _wants_to_send(text)):
        return False
    return forms_service.form_for_words(db_session=turn.db_session, text=text) is not None


def _wants_to_send(text: str) -> bool:
    """「市長に意見を伝えたいのですが？」: asking to send one is not a question about it."""
    return any(word in text for word in ("伝えたい", "出したい", "送りたい", "報告したい", "通報したい", "書きたい"))


def start_by_words(turn: Turn) -> StepResult:
    item = forms_service.form_for_words(db_session=turn.db_session, text=turn.text or "")
    if item is None:
        return END
    return begin(turn, item)


def _asks_for_list(turn: Turn) -> bool:
    return turn.text is not None and _words(turn) in LIST_WORDS


def show_list(turn: Turn) -> StepResult:
    """The forms as buttons (the menu's 「申請・通報」)."""
    items = forms_service.startable(db_session=turn.db_session)
    if not items:
        turn.say(menu_text(t("forms.none")))
        return END
    buttons = [postback_item(f.definition.title, "form_start", display=f.definition.title, k=f.key) for f in items]
    buttons.append(postback_item(t("forms.mine_button"), "form_mine", display=t("forms.mine_button")))
    lines = [t("forms.list")] + [f"・{f.definition.title}" for f in items]
    turn.say(text_message("\n".join(lines), buttons[:MAX_BUTTONS]))
    return END


def _asks_for_mine(turn: Turn) -> bool:
    return turn.text is not None and _words(turn) in MINE_WORDS


def show_mine(turn: Turn) -> StepResult:
    """「私の申請・通報」: the latest cases with their 受付番号 and status."""
    if turn.user_id is None:
        return END
    mine = forms_service.mine(db_session=turn.db_session, line_user_id=turn.user_id)
    if not mine:
        turn.say(menu_text(t("forms.mine_none")))
        return END
    lines = [t("forms.mine_heading")]
    for submission, title in mine:
        day = submission.submitted_at.astimezone(clock.TOKYO)
        lines.append(
            t(
                "forms.mine_row",
                receipt=submission.receipt_no,
                title=title,
                month=day.month,
                day=day.day,
                status=submission.status,
            )
        )
    lines.append(t("forms.mine_detail_hint"))
    buttons = [
        postback_item(submission.receipt_no, "form_case", display=submission.receipt_no, r=submission.receipt_no)
        for submission, _ in mine
    ]
    turn.say(text_message("\n".join(lines), buttons[:MAX_BUTTONS]))
    return END


def show_case(turn: Turn) -> StepResult:
    """One of my cases (a 受付番号 button): its status, when it came, and what staff last said. A
    受付番号 that is not this citizen's is answered as not found, saying nothing about it."""
    receipt = turn.postback_fields.get("r", "")[:20]
    submission = forms_service.get_by_receipt(db_session=turn.db_session, receipt_no=receipt) if receipt else None
    if submission is None or turn.user_id is None or submission.line_user_id != turn.user_id:
        turn.say(menu_text(t("forms.case_not_found")))
        return END
    version = forms_service.get_version(db_session=turn.db_session, version_id=submission.version_id)
    if version is None:
        turn.say(menu_text(t("forms.case_not_found")))
        return END
    definition = forms_service.definition_of(version)
    day = submission.submitted_at.astimezone(clock.TOKYO)
    rows = [
        (t("forms.label_receipt"), submission.receipt_no),
        (t("forms.label_status"), submission.status),
        (t("forms.label_submitted"), t("forms.date", year=day.year, month=day.month, day=day.day)),
    ]
    said = forms_service.last_message_to_citizen(
        db_session=turn.db_session, submission=submission, settings=turn.settings
    )
    note = t("forms.case_message", message=clip(said, 500)) if said and not submission.anonymous else None
    bubble = card(definition.title, rows, note=note)
    turn.say(flex(t("forms.case_alt", receipt=submission.receipt_no), bubble, main_menu_items()))
    return END


# Answering -----------------------------------------------------------------------------------------------


def _current(turn: Turn) -> tuple[FormDefinition, Question] | None:
    found = _version(turn)
    if found is None:
        return None
    definition = found[1]
    question = definition.question(str(turn.data.get("q", "")))
    return None if question is None else (definition, question)


def _lost(turn: Turn) -> StepResult:
    turn.say(menu_text(t("forms.lost")))
    return END


def answer_text(turn: Turn) -> StepResult:
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    text = turn.text or ""
    if question.kind in (Kind.PHOTO, Kind.PLACE, Kind.MULTIPLE_CHOICE) and _words(turn) in NEXT_WORDS:
        return done(turn)
    if question.kind == Kind.PHOTO:
        return ask(turn, definition, question, lead=t("forms.photo_wanted"))
    if question.kind == Kind.PLACE:
        return _place_in_words(turn, definition, question)
    if not question.required and _words(turn) in NEXT_WORDS:
        return _answered(turn, definition, question, None)
    try:
        value = form_answers.read(question, text, today=clock.now_tokyo().date())
    except form_answers.InvalidAnswer as refused:
        if asks_something(text) and question.kind not in (Kind.LONG_TEXT,):
            return _aside(turn, definition, question)
        return ask(turn, definition, question, lead=_refusal(question, refused))
    if question.kind == Kind.MULTIPLE_CHOICE:
        turn.data.pop("picked", None)
    return _answered(turn, definition, question, value)


def _refusal(question: Question, refused: form_answers.InvalidAnswer) -> str:
    if refused.reason == form_answers.TOO_LONG:
        return t("forms.too_long", limit=refused.limit)
    if refused.reason == form_answers.OUT_OF_RANGE:
        if question.kind == Kind.NUMBER:
            return t("forms.number_range", low=question.minimum or 0, high=question.maximum or 1_000_000)
        if question.dates == DateRange.PAST:
            return t("forms.date_past")
        if question.dates == DateRange.FUTURE:
            return t("forms.date_future")
        return t("forms.date_range")
    return t(f"forms.invalid.{question.kind.value}")


def answer_date(turn: Turn) -> StepResult:
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    picked = turn.postback.params.get("date") if turn.postback else None
    if question.kind != Kind.DATE or not picked:
        return ask(turn, definition, question)
    try:
        value = form_answers.read(question, picked, today=clock.now_tokyo().date())
    except form_answers.InvalidAnswer as refused:
        return ask(turn, definition, question, lead=_refusal(question, refused))
    return _answered(turn, definition, question, value)


def pick(turn: Turn) -> StepResult:
    """A choice ticked in a multiple-choice question: asked again with it shown, until 決定."""
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    if question.kind != Kind.MULTIPLE_CHOICE:
        return ask(turn, definition, question)
    try:
        choice = question.choices[int(turn.postback_fields.get("c", "-1"))]
    except (ValueError, IndexError):
        return ask(turn, definition, question)
    picked = [c for c in question.choices if c in {*turn.data.get("picked", []), choice}]
    turn.data["picked"] = picked
    return ask(turn, definition, question)


def done(turn: Turn) -> StepResult:
    """決定 (the choices ticked) or これで完了 (the photos sent, or none when optional)."""
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    if question.kind == Kind.MULTIPLE_CHOICE:
        picked = [c for c in question.choices if c in set(turn.data.get("picked") or [])]
        if not picked:
            return ask(turn, definition, question, lead=t("forms.pick_one"))
        turn.data.pop("picked", None)
        return _answered(turn, definition, question, "、".join(picked))
    if question.kind == Kind.PHOTO:
        count = len(_photos(turn).get(question.key, []))
        if count == 0:
            if question.required:
                return ask(turn, definition, question, lead=t("forms.photo_required"))
            return _answered(turn, definition, question, None)
        return _answered(turn, definition, question, t("forms.photo_count", count=count))
    if question.kind == Kind.PLACE and not question.required:
        return _answered(turn, definition, question, None)
    return ask(turn, definition, question)


def skip(turn: Turn) -> StepResult:
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    if question.required:
        return ask(turn, definition, question, lead=t("forms.required"))
    if question.kind == Kind.PHOTO:
        _photos(turn).pop(question.key, None)
    if question.kind == Kind.PLACE:
        turn.data.pop("place", None)
    return _answered(turn, definition, question, None)


def photo(turn: Turn) -> StepResult:
    """An image sent at a photo question: kept (fetched from LINE and checked by the photo job)."""
    current = _current(turn)
    if current is None or turn.user_id is None:
        return _lost(turn)
    definition, question = current
    message_id = turn.event.message_id
    if question.kind != Kind.PHOTO or not message_id:
        return ask(turn, definition, question, lead=t("forms.photo_not_now"))
    photos = _photos(turn)
    tokens = photos.setdefault(question.key, [])
    if len(tokens) >= question.max_photos:
        return ask(turn, definition, question, lead=t("forms.photo_enough", max=question.max_photos))
    row = forms_service.add_photo(
        db_session=turn.db_session, line_user_id=turn.user_id, question=question.key, line_message_id=message_id
    )
    tokens.append(row.token)
    turn.data["photos"] = photos
    if len(tokens) >= question.max_photos:
        return _answered(turn, definition, question, t("forms.photo_count", count=len(tokens)))
    return ask(turn, definition, question)


def location(turn: Turn) -> StepResult:
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    spot = turn.location
    if question.kind != Kind.PLACE or spot is None:
        return ask(turn, definition, question, lead=t("forms.place_not_now"))
    if not places.in_city(spot.latitude, spot.longitude):
        return ask(turn, definition, question, lead=t("forms.place_outside"))
    name = spot.address or spot.title or t("forms.place_pin")
    turn.data["place"] = {"name": clip(name, 200), "lat": spot.latitude, "lng": spot.longitude}
    return _answered(turn, definition, question, clip(name, 200))


def area(turn: Turn) -> StepResult:
    """A district button: then the 大字 within it may be typed, or the district is enough."""
    current = _current(turn)
    if current is None:
        return _lost(turn)
    definition, question = current
    district = turn.postback_fields.get("d", "")
    if question.kind != Kind.PLACE or district not in places.DISTRICTS:
        return ask(turn, definition, question)
    place = places.district_ref(district)
    return _place_chosen(turn, definition, question, _label(place), (place.lat, place.lon), set())


def _place_in_words(turn: Turn, definition: FormDefinition, question: Question) -> StepResult:
    """A place told in words: a landmark of the city's own (「邑久小学校の前」), else a 大字 or district."""
    text = turn.text or ""
    landmark = place_search.named_in(db_session=turn.db_session, text=text)
    if landmark is not None:
        label = t("forms.place_near", name=landmark.name)
        return _place_chosen(turn, definition, question, label, (landmark.lat, landmark.lon), {landmark.name}, text)
    place = places.resolve_place(text)
    if place is None:
        if asks_something(text):
            return _aside(turn, definition, question)
        return ask(turn, definition, question, lead=t("forms.place_unknown"))
    town = f"{place.district}町"
    names = {place.label, place.label.removeprefix(town), town, place.district}
    return _place_chosen(turn, definition, question, _label(place), (place.lat, place.lon), names, text)


def _label(place: places.PlaceRef) -> str:
    return place.label if not place.is_district else f"{place.label}（{t('forms.place_district')}）"


# The citizen's own words about a place kept with the answer (「牛窓の港の近く」), at most this long.
MAX_PLACE_WORDS = 100


def _place_chosen(
    turn: Turn,
    definition: FormDefinition,
    question: Question,
    label: str,
    point: tuple[float, float],
    names: set[str],
    said: str = "",
) -> StepResult:
    """The 大字, district or landmark as the case's place (for the map); words that say more than its
    name (「牛窓の港の近く」) go with the answer, which is encrypted like every answer."""
    turn.data["place"] = {"name": label, "lat": point[0], "lng": point[1], "area": True}
    words = " ".join(said.split())[:MAX_PLACE_WORDS]
    if not _says_more_than(words, names):
        return _answered(turn, definition, question, label)
    return _answered(turn, definition, question, f"{label}：{words}")


_PLACE_FILLER = re.compile(r"[のでにへはが、。！!？?\s]|あたり|辺り|付近|周辺|近く|です|でした|ところ|所")


def _says_more_than(words: str, names: set[str]) -> bool:
    """Whether the words say more than the place's names (「尻海のあたり」 does not; 「牛窓の港の近く」 does)."""
    rest = normalise(words)
    for name in sorted((normalise(n) for n in names if n), key=len, reverse=True):
        rest = rest.replace(name, "")
    return bool(_PLACE_FILLER.sub("", rest))


# 戻る, やめる, a question typed at a question ---------------------------------------------------------


def back(turn: Turn) -> StepResult:
    found = _version(turn)
    if found is None:
        return _lost(turn)
    definition = found[1]
    path = list(turn.data.get("path", []))
    if not path:
        current = _current(turn)
        if current is None:
            return _lost(turn)
        return ask(turn, definition, current[1], lead=t("forms.at_first"))
    key = path.pop()
    turn.data["path"] = path
    question = definition.question(key)
    if question is None:
        return _lost(turn)
    _answers(turn).pop(key, None)
    if question.kind == Kind.PHOTO:
        _photos(turn).pop(key, None)
    if question.kind == Kind.PLACE:
        turn.data.pop("place", None)
    turn.data.pop("picked", None)
    turn.data.pop("n", None)
    return ask(turn, definition, question)


def quit_form(turn: Turn) -> StepResult:
    tokens = [token for tokens in _photos(turn).values() for token in tokens]
    if tokens:
        forms_service.forget_photos(db_session=turn.db_session, tokens=tokens)
    turn.say(menu_text(t("forms.quit")))
    return END


def _aside(turn: Turn, definition: FormDefinition, question: Question) -> StepResult:
    """A question typed at a form question: continue, or leave the form to ask it."""
    resume = t("forms.button_resume")
    items = [
        postback_item(resume, "form_resume", display=resume),
        message_item(t("forms.button_leave_to_ask"), clip(turn.text or "", 300)),
        postback_item(t("forms.button_quit"), "form_quit", display=t("forms.button_quit")),
    ]
    turn.say(text_message(t("forms.aside", title=definition.title), items))
    return ASIDE


def resume(turn: Turn) -> StepResult:
    current = _current(turn)
    if current is None:
        return _lost(turn)
    return ask(turn, *current)


# The confirmation card, and sending ------------------------------------------------------------------


def _confirm(turn: Turn, definition: FormDefinition, *, lead: str | None = None) -> StepResult:
    nonce = secrets.token_hex(16)
    turn.data["n"] = nonce
    turn.data["q"] = ""
    if lead:
        turn.say(text_message(lead))
    turn.say(confirmation(turn, definition, nonce))
    return CONFIRM


def confirmation(turn: Turn, definition: FormDefinition, nonce: str) -> Message:
    answers = _answers(turn)
    rows = [
        (q.name, form_answers.display(q, answers[q.key]))
        for q in definition.questions
        if q.key in answers and definition.applies(q, answers)
    ]
    anonymous = definition.is_anonymous(answers)
    note = t("forms.confirm_anonymous") if anonymous else t("forms.confirm_note")
    bubble = card(
        t("forms.confirm_title", title=definition.title),
        rows,
        note=note,
        buttons=[
            postback_action(t("forms.button_send"), "form_send", display=t("forms.button_send"), n=nonce),
            postback_action(t("forms.button_back"), "form_back", display=t("forms.button_back")),
            postback_action(t("forms.button_quit"), "form_quit", display=t("forms.button_quit")),
        ],
    )
    tokens = [token for tokens in _photos(turn).values() for token in tokens]
    if tokens and turn.settings.public_base_url:
        bubble = _with_thumbnails(bubble, [_photo_urls(turn.settings, token) for token in tokens[:4]])
    return flex(t("forms.confirm_alt", title=definition.title), bubble)


def _with_thumbnails(bubble: FlexBubble, urls: list[str]) -> FlexBubble:
    images: list[FlexComponent] = [
        FlexImage(url=url, size="full", aspect_ratio="1:1", aspect_mode="cover", flex=1) for url in urls
    ]
    bubble.hero = FlexBox(layout="horizontal", spacing="xs", contents=images)
    return bubble


def send(turn: Turn) -> StepResult:
    """「送信する」: the case is made once per card (a second tap answers the same 受付番号)."""
    return _send(turn, turn.postback_fields.get("n", ""))


def _send(turn: Turn, nonce: str) -> StepResult:
    found = _version(turn)
    if found is None or turn.user_id is None or not nonce or nonce != turn.data.get("n"):
        turn.say(menu_text(t("forms.expired_card")))
        return END
    version, definition = found
    answers = _answers(turn)
    place_data: dict[str, Any] = turn.data.get("place") or {}
    place = forms_service.Place(name=place_data.get("name"), lat=place_data.get("lat"), lng=place_data.get("lng"))
    tokens = [token for tokens in _photos(turn).values() for token in tokens]
    submission, _ = forms_service.submit(
        db_session=turn.db_session,
        settings=turn.settings,
        version=version,
        line_user_id=turn.user_id,
        answers=answers,
        place=place if place_data else None,
        photo_tokens=tokens,
        anonymous=definition.is_anonymous(answers),
        nonce=nonce,
    )
    lines = [t("forms.sent", title=definition.title, receipt=submission.receipt_no)]
    if definition.completion:
        lines.append(definition.completion)
    lines.append(t("forms.sent_anonymous") if submission.anonymous else t("forms.sent_status"))
    turn.say(menu_text("\n\n".join(lines)))
    return END


def send_again(turn: Turn) -> StepResult:
    """The card's 送信する tapped after it went (or from an old card): the same case, or expired."""
    nonce = turn.postback_fields.get("n", "")
    submission = forms_service.get_by_nonce(db_session=turn.db_session, nonce=nonce) if nonce else None
    if submission is None or submission.line_user_id != turn.user_id:
        turn.say(menu_text(t("forms.expired_card")))
        return END
    turn.say(menu_text(t("forms.already_sent", receipt=submission.receipt_no)))
    return END


def send_in_words(turn: Turn) -> StepResult:
    """「送信」 typed at the card counts as the button; anything else shows the card again."""
    if _words(turn) in SEND_WORDS:
        return _send(turn, str(turn.data.get("n", "")))
    found = _version(turn)
    if found is None:
        return _lost(turn)
    return _confirm(turn, found[1], lead=t("forms.confirm_again"))


# Routes ------------------------------------------------------------------------------------------------


def _says_quit(turn: Turn) -> bool:
    return turn.text is not None and _words(turn) in QUIT_WORDS


def _says_back(turn: Turn) -> bool:
    return turn.text is not None and _words(turn) in BACK_WORDS


def with_escapes(*routes: Route) -> list[Route]:
    return [Route(_says_quit, quit_form, "text:quit"), Route(_says_back, back, "text:back"), *routes]


def _is_image(turn: Turn) -> bool:
    return turn.event.kind == "message.image"


def _is_location(turn: Turn) -> bool:
    return turn.location is not None


def _typed(turn: Turn) -> bool:
    return turn.text is not None


def _typed_answer_not_question(turn: Turn) -> bool:
    text = turn.text
    return text is not None and not asks_something(text)


FLOW = Flow(
    name=forms_service.FLOW_NAME,
    entry_points=[
        on_postback("form_start", start_by_button),
        on_postback("form_mine", show_mine),
        on_postback("form_case", show_case),
        on_postback("form_send", send_again),
        Route(_asks_for_mine, show_mine, "text:mine"),
        Route(_asks_for_list, show_list, "text:list"),
        # A form's start words before the NLU's form_list: 「イノシシを通報したい」 starts the report.
        Route(_reports_something, start_by_words, "text:start"),
        on_intent("form_list", show_list),
    ],
    states={
        ASK: with_escapes(
            on_postback("form_date", answer_date),
            on_postback("form_pick", pick),
            on_postback("form_done", done),
            on_postback("form_skip", skip),
            on_postback("form_area", area),
            Route(_is_image, photo, "image"),
            Route(_is_location, location, "location"),
            Route(_typed, answer_text, "text:answer"),
        ),
        ASIDE: with_escapes(
            on_postback("form_resume", resume),
            Route(_typed_answer_not_question, answer_text, "text:answer"),
        ),
        CONFIRM: with_escapes(on_postback("form_send", send), Route(_typed, send_in_words, "text:send")),
    },
    fallbacks=[on_postback("form_back", back), on_postback("form_quit", quit_form)],
    timeout=TIMEOUT,
    takes=TAKES,
)

"""A form as data: what staff build in the admin (and the demo forms in data/forms.yml), checked.

A definition is stored whole with each published version (form_versions.definition), so a
conversation and a submission always read the questions they were asked. Question kinds and what a
citizen may answer to each are in handlers/forms/answers.py.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.validation import printable

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
DEFAULT_WORKFLOW = ("受付", "対応中", "完了")
MAX_QUESTIONS = 40
MAX_CHOICES = 13  # a quick reply holds 13 items
MAX_PHOTOS = 4

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), AfterValidator(printable)]
Choice = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), AfterValidator(printable)
]
Status = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), AfterValidator(printable)
]
# A FAQ entry's id (handlers/faq/models.py FAQ_ID_PATTERN): the NLU's `faq/<id>`.
FaqRef = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Department = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), AfterValidator(printable)
]


class Kind(StrEnum):
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    DATE = "date"
    YES_NO = "yes_no"
    PHONE = "phone"
    ADDRESS = "address"
    PHOTO = "photo"
    PLACE = "place"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    Kind.SHORT_TEXT: "短い文",
    Kind.LONG_TEXT: "長い文",
    Kind.NUMBER: "数",
    Kind.SINGLE_CHOICE: "ひとつ選ぶ",
    Kind.MULTIPLE_CHOICE: "いくつでも選ぶ",
    Kind.DATE: "日付",
    Kind.YES_NO: "はい・いいえ",
    Kind.PHONE: "電話番号",
    Kind.ADDRESS: "住所",
    Kind.PHOTO: "写真",
    Kind.PLACE: "場所",
}
CHOICE_KINDS = frozenset({Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE})
YES, NO = "はい", "いいえ"


class DateRange(StrEnum):
    ANY = "any"
    PAST = "past"  # today or before (when something was seen)
    FUTURE = "future"  # today or after


class FormKind(StrEnum):
    SURVEY = "survey"  # アンケート
    REPORT = "report"  # 通報 (a place, photos)
    LETTER = "letter"  # 市長への手紙: routed, drafted, approved, answered


class ShowIf(BaseModel):
    """Ask a question only when an earlier question's answer is (or, for several choices, includes) `equals`."""

    model_config = ConfigDict(extra="forbid")

    question: Key
    equals: Choice


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    kind: Kind
    # What the citizen is asked (one short question, polite).
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(printable)
    ]
    # A short name for columns, lists and the confirmation card (the text when empty).
    label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30), AfterValidator(printable)] = ""
    help: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(printable)] = ""
    required: bool = True
    choices: list[Choice] = Field(default_factory=list, max_length=MAX_CHOICES)
    # Text: most characters; number: the range.
    max_length: int = Field(default=0, ge=0, le=2000)
    minimum: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    maximum: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    dates: DateRange = DateRange.ANY
    max_photos: int = Field(default=1, ge=1, le=MAX_PHOTOS)
    show_if: ShowIf | None = None

    @property
    def name(self) -> str:
        return self.label or self.text

    @property
    def text_limit(self) -> int:
        return self.max_length or (2000 if self.kind == Kind.LONG_TEXT else 100)

    @model_validator(mode="after")
    def _choices_fit_the_kind(self) -> Self:
        if self.kind in CHOICE_KINDS:
            if len(self.choices) < 2:
                raise ValueError(f"{self.key}: a choice question needs at least two choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"{self.key}: a choice is listed twice")
            if any("、" in choice for choice in self.choices):
                raise ValueError(f"{self.key}: a choice cannot contain 「、」")
        elif self.choices:
            raise ValueError(f"{self.key}: only choice questions have choices")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"{self.key}: the smallest number is larger than the largest")
        return self


class FormDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), AfterValidator(printable)
    ]
    kind: FormKind = FormKind.SURVEY
    # Words that start it in chat (「イノシシ」「通学路」「市長への手紙」): any one of them in a message.
    start_words: list[Words] = Field(default_factory=list, max_length=30)
    # The FAQ entries (the NLU's `faq/<id>` intents) whose answers offer this form as a button:
    # 「畑が荒らされて困っています」 answered from 有害鳥獣 gets 「LINEで報告する」.
    faq_ids: list[FaqRef] = Field(default_factory=list, max_length=10)
    intro: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(printable)] = ""
    completion: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(printable)] = ""
    department: Department = "市民課"
    workflow: list[Status] = Field(default_factory=lambda: list(DEFAULT_WORKFLOW), min_length=2, max_length=8)
    # Days a case may stay open before it shows as overdue (0: no deadline).
    due_days: int = Field(default=0, ge=0, le=365)
    # 市長への手紙: the citizen may send it without a name; then there is no reply.
    anonymous_allowed: bool = False
    # The yes/no question whose 「いいえ」 makes it anonymous (「お名前を書いて送りますか？」).
    anonymous_question: Annotated[str, StringConstraints(pattern=r"^([a-z][a-z0-9_]{0,39})?$")] = ""
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)

    @model_validator(mode="after")
    def _questions_hold_together(self) -> Self:
        seen: dict[str, Question] = {}
        for question in self.questions:
            if question.key in seen:
                raise ValueError(f"{question.key}: two questions have this key")
            condition = question.show_if
            if condition is not None:
                earlier = seen.get(condition.question)
                if earlier is None:
                    raise ValueError(f"{question.key}: shown only after an earlier question, not {condition.question}")
                allowed = earlier.choices if earlier.kind in CHOICE_KINDS else [YES, NO]
                if earlier.kind not in (*CHOICE_KINDS, Kind.YES_NO) or condition.equals not in allowed:
                    raise ValueError(f"{question.key}: {condition.equals} is not an answer to {condition.question}")
            seen[question.key] = question
        if self.anonymous_question:
            asked = seen.get(self.anonymous_question)
            if not self.anonymous_allowed or asked is None or asked.kind != Kind.YES_NO:
                raise ValueError("the anonymity question must be a yes/no question of a form that allows it")
        if len(set(self.workflow)) != len(self.workflow):
            raise ValueError("a status is listed twice in the workflow")
        return self

    @property
    def first_status(self) -> str:
        return self.workflow[0]

    @property
    def last_status(self) -> str:
        return self.workflow[-1]

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def is_anonymous(self, answers: dict[str, str]) -> bool:
        return self.anonymous_allowed and bool(self.anonymous_question) and answers.get(self.anonymous_question) == NO

    def applies(self, question: Question, answers: dict[str, str]) -> bool:
        """Whether the question is asked, given the answers so far (its condition holds)."""
        condition = question.show_if
        if condition is None:
            return True
        answer = answers.get(condition.question, "")
        return condition.equals in split_choices(answer) if answer else False


def split_choices(stored: str) -> list[str]:
    """A multiple-choice answer is stored as its choices joined with 「、」."""
    return [part for part in re.split("、", stored) if part]

"""The forms: the list (kind, version, 受付中 or not, サンプル, cases), the builder (one page posting the
whole definition: the form's fields, then its questions in order; adding, removing and moving a
question re-draws the page without saving), publishing a new version, and stopping or resuming it.

What staff type is kept when the definition is refused; the refusals are in Japanese above the form.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from admin.auth import CurrentStaff, DbSession
from admin.templating import redirect
from handlers.faq import service as faq_service
from handlers.forms import flows
from handlers.forms import service as forms_service
from handlers.forms.admin.shared import (
    BASE,
    FORM_KIND_LABELS,
    counter_only,
    form_url,
    lines,
    pydantic_message,
    render_page,
)
from handlers.forms.definition import (
    DEFAULT_WORKFLOW,
    KEY_PATTERN,
    KIND_LABELS,
    MAX_QUESTIONS,
    DateRange,
    FormDefinition,
    FormKind,
    Kind,
)
from handlers.forms.models import Form as FormRow

router = APIRouter()

MAX_FIELD = 2000
QUESTION_FIELDS = (
    "key",
    "kind",
    "text",
    "label",
    "help",
    "required",
    "choices",
    "max_length",
    "minimum",
    "maximum",
    "dates",
    "max_photos",
    "show_if_question",
    "show_if_equals",
)
DATE_RANGE_LABELS = {
    DateRange.ANY: "いつでも",
    DateRange.PAST: "今日まで（過去）",
    DateRange.FUTURE: "今日から（未来）",
}
KEY_RULE = "キーは半角英小文字で始まる英小文字・数字・_（40文字まで）にしてください（例: dorobo_report）。"
KeyPath = Annotated[str, PathParam(pattern=KEY_PATTERN)]


# The list -------------------------------------------------------------------------------------------


@router.get("/forms", response_class=HTMLResponse)
def list_forms(request: Request, actor: CurrentStaff, db_session: DbSession) -> HTMLResponse:
    visible = flows.visible_to(db_session, actor)
    rows = []
    for form in forms_service.all_forms(db_session=db_session):
        version = forms_service.current_version(db_session=db_session, form=form)
        definition = forms_service.definition_of(version) if version is not None else None
        count = forms_service.count_cases(
            db_session=db_session,
            case_filter=forms_service.CaseFilter(form_key=form.key, visible_departments=visible),
        )
        rows.append(
            {
                "form": form,
                "title": definition.title if definition else form.key,
                "kind": FORM_KIND_LABELS[definition.kind] if definition else "—",
                "department": definition.department if definition else "—",
                "number": version.number if version else None,
                "count": count,
            }
        )
    return render_page(request, "forms/list.html", {"rows": rows})


# The builder ----------------------------------------------------------------------------------------


def empty_question(index: int) -> dict[str, str]:
    return {
        "key": f"q{index + 1}",
        "kind": Kind.SHORT_TEXT.value,
        "text": "",
        "label": "",
        "help": "",
        "required": "1",
        "choices": "",
        "max_length": "",
        "minimum": "",
        "maximum": "",
        "dates": DateRange.ANY.value,
        "max_photos": "1",
        "show_if_question": "",
        "show_if_equals": "",
    }


def new_values() -> dict[str, Any]:
    return {
        "key": "",
        "title": "",
        "kind": FormKind.SURVEY.value,
        "start_words": "",
        "faq_ids": [],
        "intro": "",
        "completion": "",
        "department": "市民課",
        "workflow": "\n".join(DEFAULT_WORKFLOW),
        "due_days": "0",
        "anonymous_allowed": "",
        "anonymous_question": "",
        "questions": [empty_question(0)],
    }


def values_of(key: str, definition: FormDefinition) -> dict[str, Any]:
    """A published definition as the builder's fields."""
    return {
        "key": key,
        "title": definition.title,
        "kind": definition.kind.value,
        "start_words": "\n".join(definition.start_words),
        "faq_ids": list(definition.faq_ids),
        "intro": definition.intro,
        "completion": definition.completion,
        "department": definition.department,
        "workflow": "\n".join(definition.workflow),
        "due_days": str(definition.due_days),
        "anonymous_allowed": "1" if definition.anonymous_allowed else "",
        "anonymous_question": definition.anonymous_question,
        "questions": [
            {
                "key": q.key,
                "kind": q.kind.value,
                "text": q.text,
                "label": q.label,
                "help": q.help,
                "required": "1" if q.required else "",
                "choices": "\n".join(q.choices),
                "max_length": str(q.max_length) if q.max_length else "",
                "minimum": "" if q.minimum is None else str(q.minimum),
                "maximum": "" if q.maximum is None else str(q.maximum),
                "dates": q.dates.value,
                "max_photos": str(q.max_photos),
                "show_if_question": q.show_if.question if q.show_if else "",
                "show_if_equals": q.show_if.equals if q.show_if else "",
            }
            for q in definition.questions
        ],
    }


def read(form: FormData) -> dict[str, Any]:
    """The posted builder as typed: the form's fields, and the questions in the page's order."""

    def one(name: str) -> str:
        value = form.get(name)
        return value[:MAX_FIELD] if isinstance(value, str) else ""

    values: dict[str, Any] = {name: one(name) for name in new_values() if name not in ("questions", "faq_ids")}
    values["faq_ids"] = [str(v)[:MAX_FIELD] for v in form.getlist("faq_ids")][:20]
    columns = {name: [str(v)[:MAX_FIELD] for v in form.getlist(f"q_{name}")] for name in QUESTION_FIELDS}
    count = min(len(columns["key"]), MAX_QUESTIONS + 5)
    values["questions"] = [
        {name: (columns[name][i] if i < len(columns[name]) else "") for name in QUESTION_FIELDS} for i in range(count)
    ]
    return values


def _number(raw: str, where: str, problems: list[str]) -> int | None:
    text = unicodedata.normalize("NFKC", raw).strip().replace("−", "-")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        problems.append(f"{where}は半角の数字で入力してください。")
        return None


def definition_from(values: dict[str, Any], faq_ids: set[str]) -> tuple[FormDefinition | None, list[str]]:
    """The definition the fields make, or every problem in staff's words (`faq_ids`: the FAQ
    entries there are, for the linked ones)."""
    problems: list[str] = [
        f"関連するよくある質問「{i}」は見つかりません。選び直してください。"
        for i in values["faq_ids"]
        if i not in faq_ids
    ]
    questions: list[dict[str, Any]] = []
    for i, q in enumerate(values["questions"]):
        where = f"質問{i + 1}" + (f"（{q['key']}）" if q["key"] else "")
        question: dict[str, Any] = {
            "key": q["key"].strip(),
            "kind": q["kind"],
            "text": q["text"],
            "label": q["label"],
            "help": q["help"],
            "required": q["required"] == "1",
            "choices": lines(q["choices"]) if q["kind"] in (Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE) else [],
            "dates": q["dates"] or DateRange.ANY.value,
        }
        for name, label in (("max_length", "最大文字数"), ("minimum", "最小値"), ("maximum", "最大値")):
            number = _number(q[name], f"{where}の{label}", problems)
            if number is not None:
                question[name] = number
        photos = _number(q["max_photos"], f"{where}の写真の枚数", problems)
        if photos is not None:
            question["max_photos"] = photos
        if q["show_if_question"].strip():
            question["show_if"] = {"question": q["show_if_question"].strip(), "equals": q["show_if_equals"]}
        questions.append(question)
    raw: dict[str, Any] = {
        "title": values["title"],
        "kind": values["kind"] or FormKind.SURVEY.value,
        "start_words": lines(values["start_words"]),
        "faq_ids": values["faq_ids"],
        "intro": values["intro"],
        "completion": values["completion"],
        "department": values["department"],
        "workflow": lines(values["workflow"]),
        "anonymous_allowed": values["anonymous_allowed"] == "1",
        "anonymous_question": values["anonymous_question"].strip(),
        "questions": questions,
    }
    due = _number(values["due_days"], "期限の日数", problems)
    if due is not None:
        raw["due_days"] = due
    if problems:
        return None, problems
    try:
        return FormDefinition.model_validate(raw), []
    except ValidationError as exc:
        keys = [q["key"] for q in questions]
        messages = [pydantic_message(dict(error), keys) for error in exc.errors()]
        return None, list(dict.fromkeys(messages))


def _builder_page(
    request: Request,
    db_session: Session,
    values: dict[str, Any],
    *,
    form: FormRow | None = None,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    versions = forms_service.versions_of(db_session=db_session, form=form) if form is not None else []
    return render_page(
        request,
        "forms/builder.html",
        {
            "form": form,
            "values": values,
            "problems": problems or [],
            "action": form_url(form.key) if form else f"{BASE}/new",
            "versions": versions,
            "form_kinds": [(k.value, label) for k, label in FORM_KIND_LABELS.items()],
            "question_kinds": [(k.value, label) for k, label in KIND_LABELS.items()],
            "date_ranges": [(d.value, label) for d, label in DATE_RANGE_LABELS.items()],
            "departments": forms_service.DEPARTMENTS,
            "faq_entries": _faq_entries(db_session, values["faq_ids"]),
            "max_questions": MAX_QUESTIONS,
        },
        status_code=status_code,
    )


def _faq_ids(db_session: Session) -> set[str]:
    return {e.id for e in faq_service.get_all(db_session=db_session, include_inactive=True)}


def _faq_entries(db_session: Session, chosen: list[str]) -> list[tuple[str, str]]:
    """The FAQ entries staff may link (id, question): the active ones, and any already chosen."""
    entries = faq_service.get_all(db_session=db_session, include_inactive=True)
    return [(e.id, e.question) for e in entries if e.is_active or e.id in chosen]


def _rearranged(values: dict[str, Any], op: str) -> bool:
    """Adds, removes or moves a question as the pressed button says; False: the button was 保存."""
    questions: list[dict[str, str]] = values["questions"]
    if op == "add":
        if len(questions) < MAX_QUESTIONS:
            taken = {q["key"] for q in questions}
            fresh = next(f"q{n}" for n in range(len(questions) + 1, 1000) if f"q{n}" not in taken)
            questions.append({**empty_question(0), "key": fresh})
        return True
    verb, _, raw_index = op.partition(":")
    if verb not in ("up", "down", "remove") or not raw_index.isdigit():
        return False
    index = int(raw_index)
    if not 0 <= index < len(questions):
        return True
    if verb == "remove":
        questions.pop(index)
    elif verb == "up" and index > 0:
        questions[index - 1], questions[index] = questions[index], questions[index - 1]
    elif verb == "down" and index + 1 < len(questions):
        questions[index + 1], questions[index] = questions[index], questions[index + 1]
    return True


@router.get("/forms/new", response_class=HTMLResponse, dependencies=counter_only)
def new_form(request: Request, db_session: DbSession) -> HTMLResponse:
    return _builder_page(request, db_session, new_values())


@router.post("/forms/new", dependencies=counter_only)
async def create_form(request: Request, actor: CurrentStaff, db_session: DbSession) -> Response:
    posted = await request.form()
    values = read(posted)
    if _rearranged(values, str(posted.get("op") or "")):
        return _builder_page(request, db_session, values)
    key = values["key"].strip()
    problems = []
    if not re.fullmatch(KEY_PATTERN, key):
        problems.append(KEY_RULE)
    elif forms_service.get_form(db_session=db_session, key=key) is not None:
        problems.append(f"キー「{key}」の様式はすでにあります。別のキーにしてください。")
    definition, refused = definition_from(values, _faq_ids(db_session))
    problems += refused
    if definition is None or problems:
        return _builder_page(request, db_session, values, problems=problems, status_code=400)
    number = flows.publish(db_session=db_session, key=key, definition=definition, actor=actor)
    return redirect(form_url(key), notice=f"「{definition.title}」を公開しました（第{number}版）。")


def _current_form(db_session: Session, key: str) -> FormRow:
    form = forms_service.get_form(db_session=db_session, key=key)
    if form is None:
        raise HTTPException(status_code=404, detail="その様式は見つかりません。")
    return form


@router.get("/forms/edit/{key}", response_class=HTMLResponse, dependencies=counter_only)
def edit_form(request: Request, db_session: DbSession, key: KeyPath) -> HTMLResponse:
    form = _current_form(db_session, key)
    version = forms_service.current_version(db_session=db_session, form=form)
    values = values_of(key, forms_service.definition_of(version)) if version else {**new_values(), "key": key}
    return _builder_page(request, db_session, values, form=form)


@router.post("/forms/edit/{key}", dependencies=counter_only)
async def publish_form(request: Request, actor: CurrentStaff, db_session: DbSession, key: KeyPath) -> Response:
    """Saving publishes a new version; conversations already started keep the one they began."""
    form = _current_form(db_session, key)
    posted = await request.form()
    values = {**read(posted), "key": key}
    if _rearranged(values, str(posted.get("op") or "")):
        return _builder_page(request, db_session, values, form=form)
    definition, problems = definition_from(values, _faq_ids(db_session))
    if definition is None:
        return _builder_page(request, db_session, values, form=form, problems=problems, status_code=400)
    number = flows.publish(db_session=db_session, key=key, definition=definition, actor=actor)
    return redirect(form_url(key), notice=f"「{definition.title}」の第{number}版を公開しました。")


@router.post("/forms/edit/{key}/active", dependencies=counter_only)
def set_form_active(
    actor: CurrentStaff, db_session: DbSession, key: KeyPath, active: Annotated[str, Form(max_length=1)] = ""
) -> Response:
    form = _current_form(db_session, key)
    flows.set_active(db_session=db_session, form=form, active=active == "1", actor=actor)
    return redirect(form_url(key), notice="受付を再開しました。" if form.is_active else "受付を停止しました。")

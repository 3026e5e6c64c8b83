"""What the forms' pages share: addresses, the case a path names (404 for staff of another
department), times and statuses as staff read them, and the rules' refusals in staff's words."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse

from admin.assets import PackageAssets
from admin.auth import CurrentStaff, DbSession, require_role
from admin.templating import render
from bot import clock
from handlers.forms import flows
from handlers.forms import service as forms_service
from handlers.forms.definition import FormDefinition, FormKind
from handlers.forms.models import MAX_ID, CaseEventKind, Submission

PACKAGE = FilePath(__file__).parent.parent
BASE = "/admin/forms"
CASES = f"{BASE}/cases"
WEEKDAYS = "月火水木金土日"
ASSETS = PackageAssets(PACKAGE / "static", f"{BASE}/static", {"forms.css": "text/css"})
counter_only = [Depends(require_role("counter"))]
admin_only = [Depends(require_role())]

FORM_KIND_LABELS = {
    FormKind.SURVEY: "アンケート",
    FormKind.REPORT: "通報",
    FormKind.LETTER: "市長への手紙",
}
EVENT_LABELS = {
    CaseEventKind.SUBMITTED: "受付",
    CaseEventKind.STATUS: "状態の変更",
    CaseEventKind.ROUTED: "回付",
    CaseEventKind.NOTE: "職員メモ",
    CaseEventKind.REPLY: "市民への返信",
    CaseEventKind.DRAFT: "回答案",
    CaseEventKind.REVISED: "回答の修正",
    CaseEventKind.APPROVED: "回答の承認",
    CaseEventKind.ANSWER_SENT: "回答を送信",
}
# Stage of a status in its workflow, for colours: the first, one in between, the last.
STAGE_LABELS = {"new": "受付したまま", "working": "対応中", "done": "完了"}
STAGE_COLOURS = {"new": "#c62828", "working": "#e07000", "done": "#555555"}


def render_page(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    """A page of the section, with the section's styles."""
    return render(request, template, {"forms_css": ASSETS.url("forms.css"), **context}, status_code=status_code)


def case_url(submission: Submission | int) -> str:
    return f"{CASES}/{submission if isinstance(submission, int) else submission.id}"


def form_url(key: str) -> str:
    return f"{BASE}/edit/{key}"


def photo_url(submission_id: int, token: str, *, thumbnail: bool = False) -> str:
    return f"{case_url(submission_id)}/photos/{token}" + ("?size=thumb" if thumbnail else "")


def stage(definition: FormDefinition, status: str) -> str:
    if status == definition.first_status:
        return "new"
    if status == definition.last_status:
        return "done"
    return "working"


def day_label(moment: datetime | date | None) -> str:
    if moment is None:
        return "—"
    day = moment.astimezone(clock.TOKYO).date() if isinstance(moment, datetime) else moment
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


def moment_label(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone(clock.TOKYO)
    return f"{day_label(local.date())}{local.hour}:{local.minute:02d}"


def clean_text(text: str) -> str:
    """What staff typed, as the citizen will read it: browsers send CRLF and may pad it."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()


def lines(text: str) -> list[str]:
    return [line.strip() for line in clean_text(text).split("\n") if line.strip()]


def current_case(
    actor: CurrentStaff, db_session: DbSession, submission_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> Submission:
    """The case the path names; one the staff member's departments may not see is a 404 too (it
    does not say the case exists)."""
    submission = forms_service.get_submission(db_session=db_session, submission_id=submission_id)
    visible = flows.visible_to(db_session, actor)
    if submission is None or not forms_service.may_see(db_session=db_session, submission=submission, visible=visible):
        raise HTTPException(status_code=404, detail="その申請・通報は見つかりません。")
    return submission


CurrentCase = Annotated[Submission, Depends(current_case)]


# The definition's refusals (English, from definition.py and pydantic) in staff's words ------------

FIELD_LABELS = {
    "title": "様式の名前",
    "kind": "種類",
    "start_words": "呼び出す言葉",
    "faq_ids": "関連するよくある質問",
    "intro": "はじめの説明",
    "completion": "送信後のメッセージ",
    "department": "担当課",
    "workflow": "状態の流れ",
    "due_days": "期限の日数",
    "anonymous_allowed": "匿名",
    "anonymous_question": "匿名にする質問",
    "questions": "質問",
    "key": "キー",
    "text": "質問文",
    "label": "見出し",
    "help": "補足",
    "required": "必須",
    "choices": "選択肢",
    "max_length": "最大文字数",
    "minimum": "最小値",
    "maximum": "最大値",
    "dates": "日付の範囲",
    "max_photos": "写真の枚数",
    "show_if": "表示条件",
    "question": "条件の質問",
    "equals": "条件の答え",
}
RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\w+): a choice question needs at least two choices$"), "{0}: 選択肢を2つ以上入力してください。"),
    (re.compile(r"^(\w+): a choice is listed twice$"), "{0}: 同じ選択肢が2回あります。"),
    (re.compile(r"^(\w+): a choice cannot contain 「、」$"), "{0}: 選択肢に「、」は使えません。"),
    (
        re.compile(r"^(\w+): only choice questions have choices$"),
        "{0}: 選択肢は「ひとつ選ぶ」「いくつでも選ぶ」の質問にだけ書けます。",
    ),
    (
        re.compile(r"^(\w+): the smallest number is larger than the largest$"),
        "{0}: 最小値が最大値より大きくなっています。",
    ),
    (re.compile(r"^(\w+): two questions have this key$"), "{0}: 同じキーの質問が2つあります。"),
    (
        re.compile(r"^(\w+): shown only after an earlier question, not (.*)$"),
        "{0}: 表示条件の質問「{1}」が、この質問より前にありません。",
    ),
    (
        re.compile(r"^(\w+): (.*) is not an answer to (\w+)$"),
        "{0}: 「{1}」は質問「{2}」の答え（選択肢・はい・いいえ）にありません。",
    ),
    (
        re.compile(r"^the anonymity question must be"),
        "匿名にする質問は、匿名を認める様式の「はい・いいえ」の質問にしてください。",
    ),
    (re.compile(r"^a status is listed twice in the workflow$"), "状態の流れに同じ状態が2回あります。"),
]


def rule_message(message: str) -> str:
    text = message.removeprefix("Value error, ").strip()
    for pattern, japanese in RULES:
        match = pattern.match(text)
        if match:
            return japanese.format(*match.groups())
    return "入力内容を確認してください。"


def pydantic_message(error: dict[str, object], question_keys: list[str]) -> str:
    """One pydantic error as staff read it: where (質問3「animal」の選択肢) and what."""
    loc = [part for part in error.get("loc", ()) or () if isinstance(part, str | int)]  # type: ignore[attr-defined]
    kind = str(error.get("type", ""))
    if kind == "value_error":
        return rule_message(str(error.get("msg", "")))
    where = ""
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        index = loc[1]
        key = question_keys[index] if index < len(question_keys) and question_keys[index] else ""
        where = f"質問{index + 1}" + (f"（{key}）" if key else "")
        rest = [part for part in loc[2:] if isinstance(part, str)]
        if rest:
            where += "の" + FIELD_LABELS.get(rest[-1], rest[-1])
    elif loc:
        where = FIELD_LABELS.get(str(loc[0]), str(loc[0]))
    if isinstance(error.get("input"), str):  # this project's strings report lengths as too_short/too_long
        kind = {"too_short": "string_too_short", "too_long": "string_too_long"}.get(kind, kind)
    ctx = error.get("ctx") or {}
    limits = ctx if isinstance(ctx, dict) else {}
    what = {
        "string_too_short": "を入力してください。",
        "missing": "を入力してください。",
        "string_too_long": f"は{limits.get('max_length', '')}文字以内にしてください。",
        "too_long": f"は{limits.get('max_length', '')}個までです。",
        "too_short": f"は{limits.get('min_length', '')}個以上必要です。",
        "string_pattern_mismatch": "は半角英小文字で始まる英小文字・数字・_（40文字まで）にしてください。",
        "greater_than_equal": f"は{limits.get('ge', '')}以上にしてください。",
        "less_than_equal": f"は{limits.get('le', '')}以下にしてください。",
        "int_parsing": "は半角の数字で入力してください。",
        "enum": "を選び直してください。",
    }.get(kind, "を確認してください。")
    if kind == "too_short" and loc == ["questions"]:
        return "質問を1つ以上入れてください。"
    return f"{where or '入力'}{what}"

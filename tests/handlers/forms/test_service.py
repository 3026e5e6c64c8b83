"""申請・通報 rules on SQLite and PostgreSQL: what a form definition may hold, start words as whole
words, a case made once per card, retention (closed cases and unsent photos purged with what hangs
on them), and who sees which cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from bot import clock
from bot.db import Database
from bot.settings import Settings
from handlers.forms import service as forms_service
from handlers.forms.definition import FormDefinition
from handlers.forms.models import CaseEvent, Photo, StaffDepartment, Submission
from tests.handlers.forms.conftest import version_of

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=clock.TOKYO)


def make_case(db: Database, settings: Settings, *, key: str = "road_hazard", nonce: str = "n1") -> int:
    version = version_of(db, key)
    with db.session() as db_session:
        version = db_session.merge(version)
        photo = forms_service.add_photo(
            db_session=db_session, line_user_id="U1", question="photo", line_message_id="m1"
        )
        case, created = forms_service.submit(
            db_session=db_session,
            settings=settings,
            version=version,
            line_user_id="U1",
            answers={"what": "街灯", "detail": "消えています"},
            place=forms_service.Place("邑久町尾張", 34.67, 134.09),
            photo_tokens=[photo.token],
            anonymous=False,
            nonce=nonce,
        )
        assert created
        return case.id


def test_definitions_refuse_what_would_break_a_conversation() -> None:
    base = {"title": "t", "questions": [{"key": "a", "kind": "yes_no", "text": "?"}]}
    FormDefinition.model_validate(base)
    broken = [
        {"questions": []},
        {"questions": [{"key": "a", "kind": "single_choice", "text": "?", "choices": ["一つだけ"]}]},
        {"questions": [{"key": "a", "kind": "short_text", "text": "?", "choices": ["x", "y"]}]},
        {"questions": [{"key": "a", "kind": "yes_no", "text": "?"}, {"key": "a", "kind": "yes_no", "text": "?"}]},
        {"questions": [{"key": "b", "kind": "yes_no", "text": "?", "show_if": {"question": "a", "equals": "はい"}}]},
        {
            "questions": [
                {"key": "a", "kind": "yes_no", "text": "?"},
                {"key": "b", "kind": "short_text", "text": "?", "show_if": {"question": "a", "equals": "たぶん"}},
            ]
        },
        {"questions": [{"key": "A-1", "kind": "yes_no", "text": "?"}]},
        {"questions": [{"key": "a", "kind": "multiple_choice", "text": "?", "choices": ["x、y", "z"]}]},
        {"workflow": ["受付", "受付"]},
        {"anonymous_question": "a"},  # anonymity not allowed on this form
        {"title": "=\ud800"},
        {"questions": [{"key": "a", "kind": "yes_no", "text": "   "}]},  # blanks are not a question
    ]
    for change in broken:
        with pytest.raises(ValidationError):
            FormDefinition.model_validate({**base, **change})


def test_start_words_count_as_whole_words_and_the_longest_wins(db: Database) -> None:
    with db.session() as db_session:
        found = {
            text: getattr(forms_service.form_for_words(db_session=db_session, text=text), "key", None)
            for text in ("熊本の親戚", "クマが出た", "コンサルに相談", "市長への手紙を書く", "鹿児島", "鹿が出た")
        }
    assert found == {
        "熊本の親戚": None,
        "クマが出た": "wildlife",
        "コンサルに相談": None,
        "市長への手紙を書く": "mayor_letter",
        "鹿児島": None,
        "鹿が出た": "wildlife",
    }


def test_a_card_makes_one_case_with_a_receipt_number(db: Database, settings: Settings) -> None:
    case_id = make_case(db, settings)
    version = version_of(db, "road_hazard")
    with db.session() as db_session:
        again, created = forms_service.submit(
            db_session=db_session,
            settings=settings,
            version=db_session.merge(version),
            line_user_id="U1",
            answers={},
            place=None,
            photo_tokens=[],
            anonymous=False,
            nonce="n1",
        )
        assert not created and again.id == case_id
        assert again.receipt_no == f"2612-{case_id:05d}"
        assert db_session.scalar(select(func.count(Submission.id))) == 1
        # Answers are stored encrypted: the plain words are nowhere in the row.
        assert "消えています" not in again.answers_enc
        assert forms_service.answers_of(again, settings)["detail"] == "消えています"


def test_closed_cases_and_unsent_photos_are_purged_with_what_hangs_on_them(db: Database, settings: Settings) -> None:
    old_case = make_case(db, settings, nonce="old")
    open_case = make_case(db, settings, nonce="open")
    with db.session() as db_session:
        forms_service.add_photo(db_session=db_session, line_user_id="U2", question="photo", line_message_id="m9")
        case = forms_service.get_submission(db_session=db_session, submission_id=old_case)
        assert case is not None
        case.closed_at = NOW
    clock.travel_to(NOW + timedelta(days=settings.forms_retention_days + 1))
    with db.session() as db_session:
        assert (
            forms_service.purge(
                db_session=db_session, before=clock.now() - timedelta(days=settings.forms_retention_days)
            )
            == 1
        )
    with db.session() as db_session:
        assert [s.id for s in db_session.scalars(select(Submission))] == [open_case]
        assert db_session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.submission_id == old_case)) == 0
        photos = list(db_session.scalars(select(Photo)))
        assert [p.submission_id for p in photos] == [open_case]  # the unsent one went too


def test_department_members_see_their_cases_and_the_letter_desk_sees_all(db: Database, settings: Settings) -> None:
    from admin import users as staff_users
    from admin.models import Actor, StaffRole, StaffUserCreate

    case_id = make_case(db, settings)
    actor = Actor(id=None, name="cli", role=StaffRole.ADMIN, via="cli")

    def staff(name: str) -> Any:
        user_in = StaffUserCreate(name=name, role=StaffRole.COUNTER, password="correct horse battery")
        return staff_users.create(db_session=db_session, user_in=user_in, actor=actor)

    with db.session() as db_session:
        builder, farmer, desk = staff("kensetsu"), staff("nourin"), staff("hisho")
        forms_service.set_departments(db_session=db_session, staff_user_id=builder.id, departments=["建設課"])
        forms_service.set_departments(db_session=db_session, staff_user_id=farmer.id, departments=["農林水産課", " "])
        forms_service.set_departments(db_session=db_session, staff_user_id=desk.id, departments=["秘書広報課"])
        case = forms_service.get_submission(db_session=db_session, submission_id=case_id)
        assert case is not None
        seen = {}
        for user in (builder, farmer, desk):
            visible = forms_service.visible_departments(db_session=db_session, staff_user_id=user.id, is_admin=False)
            listed = forms_service.cases(
                db_session=db_session, case_filter=forms_service.CaseFilter(visible_departments=visible)
            )
            seen[user.name] = (
                forms_service.may_see(db_session=db_session, submission=case, visible=visible),
                len(listed),
            )
        assert db_session.scalar(select(func.count(StaffDepartment.id))) == 3
    assert seen == {"kensetsu": (True, 1), "nourin": (False, 0), "hisho": (True, 1)}

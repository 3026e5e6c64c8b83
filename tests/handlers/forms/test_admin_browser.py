"""申請・通報's staff pages in a real browser (headless Chromium): a counter clerk builds a form
(adding a question re-draws the builder), publishes it and then a second version; the case list and
the map (one dot per case with a place, each linking to its case); the CSV download for Excel (a
BOM, one column per question)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from bot import clock
from handlers.forms import service as forms_service
from tests.browser import conftest as real_browser
from tests.support import LiveApp

pytestmark = pytest.mark.browser
# The real-browser fixtures (tests/browser/conftest.py): one Chromium per module, a fresh page a test.
browser = real_browser.browser
page = real_browser.page

PASSWORD = "correct-horse-battery"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=clock.TOKYO)
WILDLIFE = {"animal": "イノシシ", "seen_on": "2026-12-01", "group": "1頭", "captured": "いいえ"}


def _ready(app: LiveApp) -> None:
    app.app.state.admin_config.login_delay_seconds = 0
    app.app.state.scheduler.pause()
    clock.travel_to(NOW)
    with app.db.session() as db_session:
        forms_service.seed(db_session=db_session)
        create_user(
            db_session=db_session, name="madoguchi", role=StaffRole.COUNTER, password=PASSWORD, actor=Actor.system()
        )


def _sign_in(page: Any, url: str) -> None:
    page.goto(url)
    page.get_by_label("ログイン名").fill("madoguchi")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(url)


def _submit(app: LiveApp, key: str, answers: dict[str, str], place: tuple[float, float] | None) -> int:
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key=key)
        assert form is not None
        version = forms_service.current_version(db_session=db_session, form=form)
        assert version is not None
        submission, _ = forms_service.submit(
            db_session=db_session,
            settings=app.settings,
            version=version,
            line_user_id="U" + uuid.uuid4().hex,
            answers=answers,
            place=forms_service.Place(name="牛窓町", lat=place[0], lng=place[1]) if place else None,
            photo_tokens=[],
            anonymous=False,
            nonce=uuid.uuid4().hex,
        )
        return submission.id


def test_a_clerk_builds_a_form_adds_a_question_and_publishes_a_second_version(page: Any, app: LiveApp) -> None:
    _ready(app)
    _sign_in(page, f"{app.base_url}/admin/forms")
    page.locator("#new-form").click()
    page.wait_for_url(f"{app.base_url}/admin/forms/new")
    page.get_by_label("キー（半角英小文字・数字・_、あとから変えられません）").fill("bouhantou")
    page.get_by_label("様式の名前").fill("防犯灯の要望")
    page.get_by_label("呼び出す言葉（1行に1つ）").fill("防犯灯\n街灯の要望")
    page.locator("#q0-kind").select_option(label="ひとつ選ぶ")
    page.locator("#q0-key").fill("area")
    page.locator("#q0-text").fill("どの地区ですか？")
    page.locator("#q0-choices").fill("邑久\n牛窓\n長船")
    page.locator("#add-question").click()
    page.locator("#question-1").wait_for()
    assert page.locator("#q0-choices").input_value() == "邑久\n牛窓\n長船"  # kept across the re-draw
    page.locator("#q1-text").fill("場所を詳しく教えてください。")
    page.locator("#q1-show_if_question").fill("area")
    page.locator("#q1-show_if_equals").fill("牛窓")
    page.locator("#save").click()
    page.wait_for_url(f"{app.base_url}/admin/forms/edit/bouhantou")
    assert "第1版を公開しました" in page.locator(".flash").inner_text() or "公開しました" in page.content()
    assert page.locator("#versions tbody tr").count() == 1

    # A third question, and a second version.
    page.locator("#add-question").click()
    page.locator("#question-2").wait_for()
    page.locator("#q2-kind").select_option(label="はい・いいえ")
    page.locator("#q2-text").fill("夜に暗いですか？")
    page.locator("#save").click()
    page.wait_for_url(f"{app.base_url}/admin/forms/edit/bouhantou")
    assert "第2版を公開しました" in page.locator(".flash").inner_text()
    assert page.locator("#version-2").inner_text().count("現在の版") == 1
    assert page.locator("#versions tbody tr").count() == 2
    with app.db.session() as db_session:
        found = forms_service.form_for_words(db_session=db_session, text="防犯灯がほしい")
        assert found is not None
        assert [q.kind.value for q in found.definition.questions] == ["single_choice", "short_text", "yes_no"]

    # A refused save shows why above the form and keeps what was typed.
    page.locator("#q0-choices").fill("邑久")
    page.locator("#save").click()
    assert "選択肢を2つ以上入力してください" in page.locator("#form-errors").inner_text()
    assert page.locator("#q2-text").input_value() == "夜に暗いですか？"


def test_the_case_list_and_the_map_show_the_reports_and_lead_to_each_case(page: Any, app: LiveApp) -> None:
    _ready(app)
    placed = [
        _submit(app, "wildlife", WILDLIFE, (34.6190, 134.1560)),
        _submit(app, "wildlife", WILDLIFE, (34.66, 134.09)),
    ]
    unplaced = _submit(app, "ninpu_8m", {"due_date": "2027-01-20", "first_baby": "はい"}, None)
    _sign_in(page, f"{app.base_url}/admin/forms/cases")
    assert page.locator("#cases tbody tr").count() == 3
    page.locator("#f-form").select_option(label="有害鳥獣の目撃・捕獲報告")
    page.get_by_role("button", name="絞り込む").click()
    page.wait_for_url("**/admin/forms/cases?form=wildlife**")
    assert page.locator("#cases tbody tr").count() == 2
    assert page.locator(f"#case-{unplaced}").count() == 0

    page.get_by_role("link", name="地図", exact=True).click()
    page.wait_for_url(f"{app.base_url}/admin/forms/map")
    dots = page.locator("#forms-map circle.forms-dot")
    assert dots.count() == 2
    assert sorted(int(dots.nth(i).get_attribute("data-id")) for i in range(2)) == sorted(placed)
    assert page.locator("#forms-boundary path").count() >= 1
    assert "受付したまま（2件）" in page.locator("#forms-legend").inner_text()
    page.locator(f'circle.forms-dot[data-id="{placed[0]}"]').click()
    page.wait_for_url(f"{app.base_url}/admin/forms/cases/{placed[0]}")
    assert "有害鳥獣の目撃・捕獲報告" in page.get_by_role("heading", level=1).inner_text()
    assert "イノシシ" in page.locator("#answers").inner_text()


def test_the_csv_download_has_the_bom_and_a_column_per_question(page: Any, app: LiveApp, tmp_path: Path) -> None:
    _ready(app)
    _submit(app, "wildlife", WILDLIFE, (34.6190, 134.1560))
    _sign_in(page, f"{app.base_url}/admin/forms/cases?form=wildlife")
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    download = info.value
    assert download.suggested_filename == "forms_wildlife_20261202.csv"
    target = tmp_path / "cases.csv"
    download.save_as(str(target))
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    header = content.decode("utf-8-sig").splitlines()[0]
    for label in ("動物", "写真", "日付", "頭数", "群れの数", "捕獲済み", "被害"):
        assert label in header, label
    assert "イノシシ" in content.decode("utf-8-sig")

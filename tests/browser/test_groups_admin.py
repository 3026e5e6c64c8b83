"""配信グループ in a real browser: a broadcaster signs in, makes a group, uploads a roster saved by Excel
(Shift_JIS), and gets the printable slips, one A4 page per member with its code, styled and with a
working print button under the admin's CSP; the roster then lists the members as 未登録."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from admin.models import Actor, StaffRole
from admin.service import create_user
from tests.support import LiveApp

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
ROSTER = "氏名,地区,電話番号\r\n邑久 花子,邑久,090-1111-2222\r\n牛窓 太郎,牛窓,0869-34-0000\r\n"


def test_import_a_roster_and_print_the_slips(page: Any, app: LiveApp, tmp_path: Path) -> None:
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        create_user(
            db_session=db_session, name="haishin", role=StaffRole.BROADCASTER, password=PASSWORD, actor=Actor.system()
        )
    groups_url = f"{app.base_url}/admin/broadcasts/groups"
    page.goto(groups_url)
    page.get_by_label("ログイン名").fill("haishin")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(groups_url)

    page.get_by_label("グループ名（例: 愛育委員）").fill("愛育委員")
    page.get_by_role("button", name="グループを作る").click()
    page.wait_for_url(re.compile(r"/admin/broadcasts/groups/\d+$"))
    assert page.get_by_role("heading", level=1).inner_text() == "愛育委員"

    roster = tmp_path / "名簿.csv"
    roster.write_bytes(ROSTER.encode("cp932"))
    page.get_by_label("名簿のファイル").set_input_files(str(roster))
    page.get_by_role("button", name="取り込んで登録コードを発行").click()
    page.wait_for_selector(".slip")

    slips = page.locator(".slip")
    assert slips.count() == 2
    first = slips.nth(0).inner_text()
    assert "邑久 花子" in first and "愛育委員" in first and "有効期限" in first
    code = slips.nth(0).locator(".slip-code").inner_text()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code)
    # The print styles loaded (one slip per A4 page) and the print button is wired (no inline script).
    assert page.evaluate("getComputedStyle(document.querySelector('.slip-code')).fontWeight") in ("700", "bold")
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name=re.compile("印刷する")).click()
    assert page.evaluate("window.printed") is True

    page.get_by_role("link", name="名簿に戻る").click()
    page.wait_for_url(re.compile(r"/admin/broadcasts/groups/\d+$"))
    assert page.locator("#count-pending").inner_text().startswith("2")
    assert code not in page.content()

"""The staff admin in a real browser: sign-in and out, CSRF, roles, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from admin.models import Actor, StaffRole, StaffUser
from admin.service import create_user
from tests.support import LiveApp

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


@pytest.fixture
def admin_app(app: LiveApp) -> Iterator[LiveApp]:
    app.app.state.admin_config.login_delay_seconds = 0
    with app.db.session() as db_session:
        for name, role in (("kanri", StaffRole.ADMIN), ("madoguchi", StaffRole.COUNTER), ("etsuran", StaffRole.VIEWER)):
            create_user(db_session=db_session, name=name, role=role, password=PASSWORD, actor=Actor.system())
    yield app


def sign_in(page: Any, app: LiveApp, name: str, *, then: str = "/admin/") -> None:
    page.goto(f"{app.base_url}{then}")
    page.get_by_label("ログイン名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{app.base_url}{then}")


def test_login_and_logout(page: Any, admin_app: LiveApp) -> None:
    page.goto(f"{admin_app.base_url}/admin/")
    assert page.url.startswith(f"{admin_app.base_url}/admin/login")
    page.get_by_label("ログイン名").fill("kanri")
    page.get_by_label("パスワード").fill("wrong-password")
    page.get_by_role("button", name="ログイン").click()
    assert "ログイン名またはパスワードが正しくありません" in page.locator("#login-error").inner_text()

    page.get_by_label("ログイン名").fill("kanri")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{admin_app.base_url}/admin/")
    assert page.get_by_role("heading", level=1).inner_text() == "ダッシュボード"
    assert page.locator(".who-name").inner_text() == "kanri"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["madoguchi_session"]["httpOnly"] and cookies["madoguchi_session"]["sameSite"] == "Lax"

    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url(f"{admin_app.base_url}/admin/login")
    assert "ログアウトしました" in page.content()
    page.goto(f"{admin_app.base_url}/admin/citizens")
    assert page.url.startswith(f"{admin_app.base_url}/admin/login")


def test_a_post_without_the_csrf_token_is_refused(page: Any, admin_app: LiveApp) -> None:
    sign_in(page, admin_app, "kanri", then="/admin/settings/users")
    form = page.locator("#create-user")
    form.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    page.get_by_label("ログイン名（半角英数字）").fill("intruder")
    page.get_by_label("初期パスワード（10文字以上）").fill(PASSWORD)
    form.get_by_role("button", name="追加").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "権限がありません"
    assert "不正な送信" in page.locator("#error-message").inner_text()
    with admin_app.db.session() as db_session:
        assert db_session.scalars(select(StaffUser).where(StaffUser.name == "intruder")).first() is None


def test_roles_see_and_reach_only_their_part(page: Any, admin_app: LiveApp) -> None:
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet held upright
    sign_in(page, admin_app, "madoguchi")
    nav = page.get_by_role("navigation", name="メインメニュー")
    assert nav.get_by_role("link", name="予約・受付").is_visible()
    assert nav.get_by_role("link", name="監査ログ").count() == 0
    assert nav.get_by_role("link", name="設定").count() == 0
    response = page.goto(f"{admin_app.base_url}/admin/audit")
    assert response.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "権限がありません"

    page.context.clear_cookies()
    sign_in(page, admin_app, "etsuran", then="/admin/citizens")
    assert page.locator("#masked-notice").is_visible()
    assert page.get_by_label("表示名またはLINEユーザーIDで検索").count() == 0


def test_the_audit_log_records_a_change(page: Any, admin_app: LiveApp) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, admin_app, "kanri", then="/admin/settings/users")
    page.get_by_label("ログイン名（半角英数字）").fill("suzuki")
    page.get_by_label("氏名（任意）").fill("鈴木 一郎")
    page.get_by_label("役割", exact=True).select_option("counter")
    page.get_by_label("初期パスワード（10文字以上）").fill(PASSWORD)
    page.locator("#create-user").get_by_role("button", name="追加").click()
    assert "職員「suzuki」を追加しました" in page.locator(".flash").inner_text()

    page.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="監査ログ").click()
    page.get_by_label("職員").select_option("kanri")
    page.get_by_label("操作").select_option("user.create")
    page.get_by_role("button", name="絞り込む").click()
    page.wait_for_url("**/admin/audit?staff=kanri&action=user.create*")
    rows = page.locator("#audit-entries tbody tr")
    assert rows.count() == 1
    row = rows.first
    assert "kanri" in row.inner_text() and "職員を追加" in row.inner_text() and "suzuki" in row.inner_text()
    row.get_by_text("変更前・変更後").click()
    after = row.locator(".diff > div").nth(1).inner_text()  # 変更後, as label and value rows
    assert "名前\nsuzuki" in after and "役割\n窓口" in after and PASSWORD not in after

"""The shell's own pages: dashboard, dead letters, citizens, audit log, settings, staff and tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admin import audit, nav
from admin.auth import CurrentStaff, require_role
from admin.models import ApiToken, AuditEntry, AuditLogIsAppendOnly, StaffRole, StaffUser
from bot import clock
from bot.capabilities import CAPABILITIES
from bot.capabilities import load as load_capabilities
from bot.capability import Capabilities, Capability
from bot.inbox import InboxEvent, InboxStatus
from tests.admin.conftest import PASSWORD, SignedIn, add_citizen, add_dead_letter, add_staff, new_token, sign_in
from tests.support import LiveApp, live_app


def text_of(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)<', html, re.S)
    assert match, element_id
    return match.group(1).strip()


def test_dashboard_shows_friends_and_delivery_status(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    add_citizen(admin_app, "瀬戸内 花子")
    add_citizen(admin_app, "牛窓 太郎")
    add_citizen(admin_app, "邑久 次郎", blocked=True)
    add_dead_letter(admin_app)
    html = staff[StaffRole.VIEWER].client.get("/admin/").text
    assert text_of(html, "friends-following") == "2"
    assert text_of(html, "friends-blocked") == "1"
    assert text_of(html, "inbox-dead") == "1"
    assert text_of(html, "outbox-failed") == "0"
    assert "panel-todo" not in html and "準備中" not in html  # every planned capability is built


def test_a_deployment_without_a_capability_says_so_honestly(database_url: str) -> None:
    """Sections and panels of capabilities left out of the list say 準備中, with no numbers."""
    names = tuple(name for name in CAPABILITIES if name != "handlers.broadcasts")
    with live_app(database_url, capabilities=load_capabilities(names)) as app:
        app.app.state.admin_config.login_delay_seconds = 0
        add_staff(app, "kanri", StaffRole.ADMIN)
        client = sign_in(app, "kanri")
        html = client.get("/admin/").text
        assert "配信機能の追加後に" in html
        placeholders = re.findall(r'<section class="panel panel-todo".*?</section>', html, re.S)
        assert placeholders and not any(re.search(r"\d", p.split("</h2>", 1)[1]) for p in placeholders)
        page = client.get("/admin/broadcasts")
        assert page.status_code == 200 and "準備中" in page.text


def test_the_faq_section_and_its_panel_are_built(staff: dict[StaffRole, SignedIn]) -> None:
    page = staff[StaffRole.VIEWER].client.get("/admin/faq")
    assert page.status_code == 200 and "この機能は準備中です" not in page.text
    assert 'id="faq-entries"' in page.text
    nav_html = page.text.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    faq_link = re.search(r'<a href="/admin/faq"[^>]*>(.*?)</a>', nav_html, re.S)
    assert faq_link and "よくある質問" in faq_link.group(1) and "準備中" not in faq_link.group(1)
    dashboard = staff[StaffRole.VIEWER].client.get("/admin/").text
    panel = dashboard.split('id="panel-box-unanswered_questions"', 1)[1].split("</section>", 1)[0]
    assert "準備中" not in panel and text_of(panel, "faq-unanswered-open") == "0"


def test_dead_letters_are_listed_with_their_error_and_can_be_retried(
    admin_app: LiveApp, staff: dict[StaffRole, SignedIn]
) -> None:
    event_id = add_dead_letter(admin_app, error="ValueError: the flow broke")
    page = staff[StaffRole.ADMIN].client.get("/admin/inbox/dead")
    assert "ValueError: the flow broke" in page.text
    row = page.text.split(f'id="dead-{event_id}"', 1)[1].split("</tr>", 1)[0]
    # Times are shown in Japan time.
    assert (clock.now() - timedelta(minutes=30)).astimezone(clock.TOKYO).strftime("%Y/%m/%d %H:%M") in row
    assert "再処理" in row
    assert "再処理</button>" not in staff[StaffRole.VIEWER].client.get("/admin/inbox/dead").text

    response = staff[StaffRole.ADMIN].post(f"/admin/inbox/dead/{event_id}/retry")
    assert response.status_code == 303
    assert "再処理の待ち行列に戻しました" in staff[StaffRole.ADMIN].client.get(response.headers["location"]).text
    with admin_app.db.session() as db_session:
        assert db_session.get(InboxEvent, event_id).status != InboxStatus.DEAD
        entry = audit.get_all(db_session=db_session, action="inbox.retry")[0]
    assert entry.staff_name == "admin-user" and entry.target_id == str(event_id)
    assert entry.before["status"] == "dead" and entry.after["status"] == "pending"
    assert entry.before["last_error"] == "ValueError: the flow broke"
    again = staff[StaffRole.ADMIN].post(f"/admin/inbox/dead/{event_id}/retry")
    assert "再処理できません" in staff[StaffRole.ADMIN].client.get(again.headers["location"]).text


def test_citizens_personal_data_only_for_roles_that_need_it(
    admin_app: LiveApp, staff: dict[StaffRole, SignedIn]
) -> None:
    hanako = add_citizen(admin_app, "瀬戸内 花子")
    add_citizen(admin_app, "牛窓 太郎", blocked=True)
    for role in (StaffRole.ADMIN, StaffRole.COUNTER):
        html = staff[role].client.get("/admin/citizens").text
        assert "瀬戸内 花子" in html and hanako in html and "ブロック中" in html
        found = staff[role].client.get("/admin/citizens", params={"q": "花子"}).text
        assert "瀬戸内 花子" in found and "牛窓 太郎" not in found
    for role in (StaffRole.VIEWER, StaffRole.BROADCASTER):
        html = staff[role].client.get("/admin/citizens", params={"q": "花子"}).text
        assert "瀬戸内 花子" not in html and "牛窓 太郎" not in html and hanako not in html
        assert f"{hanako[:5]}••••{hanako[-2:]}" in html
        assert text_of(html, "count-following") == "1" and text_of(html, "count-blocked") == "1"
        assert 'name="q"' not in html  # no search by name for them


def test_settings_page_hides_secrets(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    html = staff[StaffRole.ADMIN].client.get("/admin/settings").text
    settings = admin_app.settings
    for secret in (settings.line_channel_secret, settings.line_channel_access_token, settings.secret_key):
        assert secret not in html
    assert "LINE_CHANNEL_SECRET" in html and "設定済み" in html
    assert "CITY_NAME" in html and "瀬戸内市" in html
    assert "ADMIN_SESSION_IDLE_MINUTES" in html
    assert re.search(r"REPLY_TOKEN_MAX_AGE_SECONDS</th><td[^>]*>50<", html)  # "token" in a name is not a secret


def test_staff_accounts_are_managed_and_every_change_is_audited(
    admin_app: LiveApp, staff: dict[StaffRole, SignedIn]
) -> None:
    admin = staff[StaffRole.ADMIN]
    created = admin.post("/admin/settings/users", {"name": "sato", "role": "counter", "password": PASSWORD})
    assert "職員「sato」を追加しました" in admin.client.get(created.headers["location"]).text
    too_short = admin.post("/admin/settings/users", {"name": "suzuki", "role": "counter", "password": "short"})
    assert "10文字以上" in admin.client.get(too_short.headers["location"]).text
    taken = admin.post("/admin/settings/users", {"name": "sato", "role": "viewer", "password": PASSWORD})
    assert "すでに使われています" in admin.client.get(taken.headers["location"]).text
    with admin_app.db.session() as db_session:
        sato = db_session.scalars(select(StaffUser).where(StaffUser.name == "sato")).one()
        assert sato.password_hash.startswith("$argon2") and PASSWORD not in sato.password_hash
    admin.post(f"/admin/settings/users/{sato.id}", {"role": "broadcaster", "is_active": "on"})
    with admin_app.db.session() as db_session:
        update = audit.get_all(db_session=db_session, action="user.update")[0]
        create = audit.get_all(db_session=db_session, action="user.create")[0]
    assert update.staff_name == "admin-user" and update.target_id == str(sato.id)
    assert update.before["role"] == "counter" and update.after["role"] == "broadcaster"
    assert create.after["name"] == "sato" and "password" not in str(create.after)
    assert sign_in(admin_app, "sato").get("/admin/").status_code == 200


def test_the_last_active_admin_cannot_be_demoted(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    admin = staff[StaffRole.ADMIN]
    with admin_app.db.session() as db_session:
        admin_id = db_session.scalars(select(StaffUser.id).where(StaffUser.name == admin.name)).one()
    response = admin.post(f"/admin/settings/users/{admin_id}", {"role": "viewer", "is_active": "on"})
    assert "有効な管理者がいなくなる" in admin.client.get(response.headers["location"]).text
    assert admin.client.get("/admin/audit").status_code == 200


def test_api_tokens_are_shown_once_and_stored_hashed(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    admin = staff[StaffRole.ADMIN]
    with admin_app.db.session() as db_session:
        counter_id = db_session.scalars(select(StaffUser.id).where(StaffUser.name == "counter-user")).one()
    page = admin.post("/admin/settings/tokens", {"staff_user_id": str(counter_id), "name": "窓口受付端末"})
    assert page.status_code == 200
    token = re.search(r'id="new-token"[^>]*>([^<]+)<', page.text).group(1)
    assert token.startswith("mdg_")
    assert token not in admin.client.get("/admin/settings/tokens").text
    with admin_app.db.session() as db_session:
        stored = db_session.scalars(select(ApiToken).where(ApiToken.name == "窓口受付端末")).one()
    assert token not in (stored.token_hash, stored.token_prefix) and token.startswith(stored.token_prefix)
    me = admin_app.base_url + "/api/v1/me"
    assert httpx.get(me, headers={"Authorization": f"Bearer {token}"}).json()["role"] == "counter"
    admin.post(f"/admin/settings/tokens/{stored.id}/revoke")
    assert httpx.get(me, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with admin_app.db.session() as db_session:
        actions = [e.action for e in audit.get_all(db_session=db_session)]
    assert "token.create" in actions and "token.revoke" in actions


def test_audit_log_filters_by_user_action_and_date(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    admin = staff[StaffRole.ADMIN]
    today = clock.now_tokyo().date()
    everything = admin.client.get("/admin/audit").text
    total = int(text_of(everything, "audit-total").removesuffix("件"))
    logins = admin.client.get("/admin/audit", params={"action": "login"}).text
    assert text_of(logins, "audit-total") == "4件"  # one per role, signed in by the fixture
    mine = admin.client.get("/admin/audit", params={"staff": "counter-user", "action": "login"}).text
    assert text_of(mine, "audit-total") == "1件"
    on_today = admin.client.get("/admin/audit", params={"since": today.isoformat(), "until": today.isoformat()})
    assert text_of(on_today.text, "audit-total") == f"{total}件"
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert text_of(admin.client.get("/admin/audit", params={"since": tomorrow}).text, "audit-total") == "0件"
    # An unreadable date is ignored, not an error.
    assert admin.client.get("/admin/audit", params={"since": "2026-13-45"}).status_code == 200


def test_the_audit_log_cannot_be_changed(admin_app: LiveApp, staff: dict[StaffRole, SignedIn]) -> None:
    from fastapi.routing import iter_route_contexts

    for route in iter_route_contexts(admin_app.app.routes):
        if route.path and "audit" in route.path and route.methods:
            assert route.methods <= {"GET", "HEAD"}, route.path
    with pytest.raises(AuditLogIsAppendOnly), admin_app.db.session() as db_session:
        db_session.scalars(select(AuditEntry)).first().action = "something else"
    with pytest.raises(AuditLogIsAppendOnly), admin_app.db.session() as db_session:
        db_session.delete(db_session.scalars(select(AuditEntry)).first())


def test_a_capability_adds_its_section_in_one_call(database_url: str) -> None:
    router = APIRouter()

    @router.get("/lost-found")
    def list_reservations(actor: CurrentStaff) -> HTMLResponse:
        return HTMLResponse(f"<p>today's bookings for {actor.name}</p>")

    @router.post("/lost-found/{item_id}/check-in", dependencies=[Depends(require_role("counter"))])
    def check_in(item_id: int) -> HTMLResponse:
        return HTMLResponse(f"checked in {item_id}")

    api_router = APIRouter()

    @api_router.get("/lost-found")
    def api_list_reservations() -> list[int]:
        return [1, 2]

    # A made-up capability, declared as every capability is, beside the real ones (for this app only).
    lost_found = Capability(
        name="lost_found",
        admin=lambda: (
            nav.Section(
                "lost_found",
                "落とし物",
                "/lost-found",
                nav.staff_roles("counter", "viewer"),
                router,
                api_router=api_router,
            ),
        ),
    )
    with live_app(database_url, capabilities=Capabilities((*load_capabilities(), lost_found))) as running:
        add_staff(running, "kimura", StaffRole.COUNTER)
        add_staff(running, "kato", StaffRole.BROADCASTER)
        counter = sign_in(running, "kimura")
        page = counter.get("/admin/lost-found")
        assert "today's bookings for kimura" in page.text
        assert sign_in(running, "kato").get("/admin/lost-found").status_code == 403
        nav_html = counter.get("/admin/").text
        assert '<a href="/admin/lost-found">落とし物</a>' in nav_html  # no 準備中 badge any more
        token = new_token(running, "kimura")
        response = httpx.get(f"{running.base_url}/api/v1/lost-found", headers={"Authorization": f"Bearer {token}"})
        assert response.json() == [1, 2]
        other = new_token(running, "kato")
        denied = httpx.get(f"{running.base_url}/api/v1/lost-found", headers={"Authorization": f"Bearer {other}"})
        assert denied.status_code == 403


def test_a_section_may_show_a_badge_counted_on_every_page(database_url: str) -> None:
    router = APIRouter()

    @router.get("/lost-found")
    def list_items() -> HTMLResponse:
        return HTMLResponse("<p>items</p>")

    def staff_count(db_session: Session) -> int:
        # A real query: counted in the page's own transaction (on SQLite a second one would never start).
        return int(db_session.scalar(select(func.count()).select_from(StaffUser)) or 0)

    def broken(db_session: Session) -> int:
        raise RuntimeError("the count failed")

    def section(key: str, label: str, badge: Callable[[Session], int]) -> nav.Section:
        return nav.Section(
            key,
            label,
            f"/{key}",
            nav.staff_roles("counter"),
            router,
            badge=badge,
            badge_label="未返却",
            badge_url=f"/admin/{key}/count",
        )

    # Made-up capabilities with badges, beside the real ones (for this app only).
    badged = Capability(
        name="lost_found",
        admin=lambda: (section("lost_found", "落とし物", staff_count), section("broken", "こわれた", broken)),
    )
    with live_app(database_url, capabilities=Capabilities((*load_capabilities(), badged))) as running:
        add_staff(running, "kimura", StaffRole.COUNTER)
        add_staff(running, "kato", StaffRole.VIEWER)
        counter = sign_in(running, "kimura")
        for path in ("/admin/", "/admin/citizens", "/admin/reservations"):
            page = counter.get(path)
            assert page.status_code == 200, path
            pattern = r'<span class="nav-count" id="nav-count-lost_found"([^>]*)>(.*?)</span></span>'
            badge = re.search(pattern, page.text)
            assert badge and badge.group(1) == ' data-badge-url="/admin/lost_found/count"', path
            assert re.sub(r"<[^>]+>", "", badge.group(2)) == "未返却2件", path
            # A badge that cannot be counted is left out; the page still shows.
            assert re.search(r'id="nav-count-broken"[^>]* hidden>', page.text), path
        assert "nav-count-lost_found" not in sign_in(running, "kato").get("/admin/").text

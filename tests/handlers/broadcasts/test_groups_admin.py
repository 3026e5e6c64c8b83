"""The member groups' staff pages through the live app (SQLite and PostgreSQL), signed in as a
broadcaster and a viewer: a group created by form, a roster file uploaded (Shift_JIS from Excel; a
file with bad rows shows every reason in a table and imports nobody), the slips with each code shown
once, a member added by hand, a code reissued, a member unlinked; viewers see no names, no codes and
no forms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from admin.models import StaffRole
from bot import clock
from handlers.broadcasts.models import GroupMember, MemberStatus
from handlers.broadcasts.service import groups
from tests.admin.conftest import add_staff, page_csrf, sign_in
from tests.support import LiveApp

CODE = re.compile(r'<p class="slip-code">([A-Z0-9-]{14})</p>')
GOOD = "氏名,地区,電話番号\r\n邑久 花子,邑久,090-1111-2222\r\n牛窓 太郎,牛窓,0869-34-0000\r\n"
BAD = "氏名,地区,電話番号\r\n邑久 花子,邑久,090-1111-2222\r\n,牛窓,\r\n東京 次郎,東京,12-34\r\n"


@pytest.fixture
def people(app: LiveApp) -> Iterator[dict[str, httpx.Client]]:
    app.app.state.admin_config.login_delay_seconds = 0
    clients = {}
    for name, role in (("haishin", StaffRole.BROADCASTER), ("etsuran", StaffRole.VIEWER)):
        add_staff(app, name, role)
        clients[name] = sign_in(app, name)
    yield clients
    for client in clients.values():
        client.close()


def csrf(client: httpx.Client) -> str:
    return page_csrf(client.get("/admin/broadcasts/groups"))


def new_group(client: httpx.Client, name: str = "愛育委員") -> str:
    response = client.post("/admin/broadcasts/groups", data={"csrf_token": csrf(client), "name": name})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def upload(client: httpx.Client, url: str, content: bytes) -> httpx.Response:
    return client.post(
        f"{url}/import", data={"csrf_token": csrf(client)}, files={"file": ("名簿.csv", content, "text/csv")}
    )


def test_import_then_slips_then_roster(app: LiveApp, people: dict[str, httpx.Client]) -> None:
    staff = people["haishin"]
    url = new_group(staff)
    assert "グループ「愛育委員」を作りました" in staff.get(url).text

    rejected = upload(staff, url, BAD.encode("cp932"))
    assert rejected.status_code == 400
    table = rejected.text.split('id="problems"', 1)[1].split("</table>", 1)[0]
    assert "<td>3</td><td>氏名が空欄です。</td>" in table
    assert "電話番号「12-34」" in table and "地区「東京」" in table
    assert "1人も登録していません" in rejected.text
    with app.db.session() as db_session:
        assert db_session.scalar(select(func.count()).select_from(GroupMember)) == 0

    slips = upload(staff, url, GOOD.encode("cp932"))
    assert slips.status_code == 200, slips.text
    codes = CODE.findall(slips.text)
    assert len(codes) == 2 and len(set(codes)) == 2
    assert "邑久 花子" in slips.text and "牛窓 太郎" in slips.text
    assert (
        "トーク画面で、上の登録コードを送ります" in slips.text and "/admin/broadcasts/static/slips.css?v=" in slips.text
    )
    assert staff.get("/admin/broadcasts/static/slips.css").status_code == 200

    page = staff.get(url).text
    assert not CODE.search(page) and codes[0] not in page  # shown once, never again
    assert page.count("未登録") >= 2 and "090-1111-2222" in page

    with app.db.session() as db_session:
        linked = groups.redeem(db_session=db_session, line_user_id="U1", text=codes[0], settings=app.settings)
        assert linked.outcome == groups.Outcome.LINKED
        hanako = linked.member
        assert hanako is not None
        member_id = hanako.id
    assert '<span class="status status-ok">登録済み</span>' in staff.get(url).text

    unlinked = staff.post(f"{url}/members/{member_id}/unlink", data={"csrf_token": csrf(staff)})
    assert unlinked.status_code == 303
    assert "LINEでご本人にお知らせしました" in staff.get(url).text
    reissued = staff.post(f"{url}/members/{member_id}/code", data={"csrf_token": csrf(staff)})
    assert reissued.status_code == 200 and len(CODE.findall(reissued.text)) == 1
    assert CODE.findall(reissued.text)[0] != codes[0]
    with app.db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        assert member is not None and member.status == MemberStatus.PENDING


def test_add_by_hand_and_a_duplicate_refused(app: LiveApp, people: dict[str, httpx.Client]) -> None:
    staff = people["haishin"]
    url = new_group(staff, "自治会長")
    fields = {"name": "長船 和子", "district": "長船", "phone": "０９０ー２２２２ー３３３３"}
    added = staff.post(f"{url}/members", data={"csrf_token": csrf(staff), **fields})
    assert added.status_code == 200 and len(CODE.findall(added.text)) == 1
    again = staff.post(f"{url}/members", data={"csrf_token": csrf(staff), **fields})
    assert again.status_code == 400 and "すでにこのグループの名簿" in again.text
    assert 'value="長船 和子"' in again.text  # what was typed stays
    assert (
        staff.post("/admin/broadcasts/groups", data={"csrf_token": csrf(staff), "name": "自治会長"}).status_code == 400
    )


def test_viewers_see_no_names_codes_or_forms(app: LiveApp, people: dict[str, httpx.Client]) -> None:
    clock.travel_to(None)
    url = new_group(people["haishin"])
    upload(people["haishin"], url, GOOD.encode("utf-8-sig"))
    viewer = people["etsuran"]
    listing = viewer.get("/admin/broadcasts/groups").text
    assert "愛育委員" in listing and 'id="group-form"' not in listing
    page = viewer.get(url).text
    assert "邑久 花子" not in page and "090-1111-2222" not in page and "（非表示）" in page
    assert 'id="import-form"' not in page and "/unlink" not in page
    assert upload(viewer, url, GOOD.encode()).status_code == 403

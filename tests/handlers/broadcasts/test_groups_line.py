"""Member groups end to end through the LINE sandbox (signed webhook events in, what the bot sent read
back), on SQLite and PostgreSQL: staff put members on a roster with the API; a member sends the code
from the slip as typed on a phone (full width, lower case, spaces) and is linked; the code is then
used; ordinary messages are never taken for a code; wrong guesses lock a LINE user out, kindly, and
even the right code waits; an expired code says to ask the office; staff unlink a member and the
member is told by push."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from admin.models import AuditEntry, StaffRole
from bot import clock
from bot.catalog import t
from handlers.broadcasts.models import GroupMember, MemberStatus
from handlers.broadcasts.service import groups
from tests.admin.conftest import add_staff, new_token
from tests.support import LiveApp, message_text, new_citizen, say, settled, texts, wait_until

MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=clock.TOKYO)
FULL_WIDTH = str.maketrans(
    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789-", "ａｂｃｄｅｆｇｈｊｋｌｍｎｐｑｒｓｔｕｖｗｘｙｚ２３４５６７８９　"
)


@pytest.fixture
def line_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(MORNING)
    yield app
    clock.travel_to(None)


@pytest.fixture
def staff_api(line_app: LiveApp) -> Iterator[httpx.Client]:
    add_staff(line_app, "haishin", StaffRole.BROADCASTER)
    client = httpx.Client(
        base_url=f"{line_app.base_url}/api/v1",
        headers={"Authorization": f"Bearer {new_token(line_app, 'haishin')}"},
        timeout=30,
    )
    yield client
    client.close()


def roster(staff_api: httpx.Client, *names: str) -> tuple[int, list[dict[str, object]]]:
    created = staff_api.post("/groups", json={"name": "愛育委員"})
    group_id = created.json()["id"] if created.status_code == 201 else staff_api.get("/groups").json()[0]["id"]
    members = [{"name": n, "district": "牛窓", "phone": "090-1234-5678"} for n in names]
    added = staff_api.post(f"/groups/{group_id}/members", json={"members": members})
    assert added.status_code == 201, added.text
    return group_id, added.json()["members"]


def guess() -> str:
    """A random code nobody was given (every code reaches the member groups' conversation first)."""
    return groups.format_code(groups.new_code())


def test_a_member_registers_with_the_code_typed_on_a_phone(line_app: LiveApp, staff_api: httpx.Client) -> None:
    group_id, (hanako,) = roster(staff_api, "瀬戸内 花子")
    code = str(hanako["code"])
    member = new_citizen(line_app)
    answer = say(line_app, member, code.translate(FULL_WIDTH))  # ｍ２ｐｄ and so on, with spaces
    assert message_text(answer) == t("member_groups.linked", group="愛育委員")
    listed = staff_api.get(f"/groups/{group_id}/members").json()
    assert [(m["status"], m["status_label"]) for m in listed] == [("linked", "登録済み")]
    with line_app.db.session() as db_session:
        assert list(db_session.scalars(groups.linked_user_ids([group_id]))) == [member]
    # The code is spent: the same member is told they are registered, someone else that it is used.
    assert message_text(say(line_app, member, code)) == t("member_groups.already_member", group="愛育委員")
    stranger = new_citizen(line_app, "他人")
    assert message_text(say(line_app, stranger, code.lower())) == t("member_groups.already_used")


def test_ordinary_messages_are_not_taken_for_codes(line_app: LiveApp, staff_api: httpx.Client) -> None:
    roster(staff_api, "瀬戸内 花子")
    citizen = new_citizen(line_app)
    codeish = {t(f"member_groups.{key}") for key in ("wrong", "already_used", "expired")}
    for text in ("こんにちは", "ごみの日を教えて", "0869-22-1111", "HELLO WORLD!"):
        answer = message_text(say(line_app, citizen, text))
        assert answer not in codeish, text
    with line_app.db.session() as db_session:
        assert groups.locked_until(db_session=db_session, line_user_id=citizen) is None


def test_guessing_is_throttled_kindly_and_an_expired_code_asks_for_a_new_one(
    line_app: LiveApp, staff_api: httpx.Client
) -> None:
    _, (hanako,) = roster(staff_api, "瀬戸内 花子")
    guesser = new_citizen(line_app)
    limit = line_app.settings.member_code_max_failures
    for _ in range(limit - 1):
        assert message_text(say(line_app, guesser, guess())) == t("member_groups.wrong")
    locked = message_text(say(line_app, guesser, guess()))
    until = MORNING + timedelta(minutes=line_app.settings.member_code_lock_minutes)
    assert locked.startswith("登録コードの間違いが続いたため") and f"{until.hour}時{until.minute:02d}分" in locked
    # The right code waits too, while the lock holds.
    assert message_text(say(line_app, guesser, str(hanako["code"]))).startswith("登録コードの間違いが続いたため")
    # A month later the lock is long gone, and so is the code's life.
    clock.travel_to(MORNING + timedelta(days=line_app.settings.member_code_ttl_days, minutes=1))
    expired = message_text(say(line_app, guesser, str(hanako["code"])))
    assert expired == t("member_groups.expired") and line_app.settings.city_phone in expired


def test_staff_unlink_a_member_who_is_told_on_line(line_app: LiveApp, staff_api: httpx.Client) -> None:
    group_id, (hanako, taro) = roster(staff_api, "瀬戸内 花子", "牛窓 太郎")
    member = new_citizen(line_app)
    say(line_app, member, str(hanako["code"]))
    before = len(line_app.sandbox.deliveries(to=member))
    unlinked = staff_api.post(f"/groups/{group_id}/members/{hanako['id']}/unlink")
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["status"] == "removed" and unlinked.json()["told"] is True
    wait_until(lambda: len(line_app.sandbox.deliveries(to=member)) > before, what="the unlink notice")
    wait_until(lambda: settled(line_app), what="settled")
    pushed = line_app.sandbox.deliveries(to=member)[before:]
    assert texts(pushed) == [t("member_groups.removed", group="愛育委員")]
    # Someone who never registered is taken off quietly; unlinking twice is refused.
    quiet = staff_api.post(f"/groups/{group_id}/members/{taro['id']}/unlink")
    assert quiet.status_code == 200 and quiet.json()["told"] is False
    assert staff_api.post(f"/groups/{group_id}/members/{taro['id']}/unlink").status_code == 409
    with line_app.db.session() as db_session:
        assert list(db_session.scalars(groups.linked_user_ids([group_id]))) == []
        statuses = db_session.scalars(select(GroupMember.status).where(GroupMember.group_id == group_id)).all()
        assert set(statuses) == {MemberStatus.REMOVED}
        audited = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "member_group.unlink")).all()
        assert len(audited) == 2 and all(e.staff_name == "haishin" for e in audited)
        assert "瀬戸内" not in str([(e.before, e.after, e.summary) for e in audited])  # no names in the log

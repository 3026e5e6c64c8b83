"""Member groups' rules on SQLite and PostgreSQL: registration codes (shape, entropy, normalising what
members type, guessing, reuse, expiry, reissue, the throttle on wrong codes), rosters from CSV
(UTF-8 with BOM, Shift_JIS, every bad row reported and nothing imported, duplicates), unlinking and
who a group reaches."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.db import Database
from bot.settings import Settings, load_settings
from handlers.broadcasts.models import CodeAttempts, GroupMember, MemberGroup, MemberStatus
from handlers.broadcasts.service import groups
from handlers.broadcasts.service.groups import GroupCreate, MemberIn, Outcome, RosterRejected

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, secret_key="s" * 40, personal_data_key="")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    clock.travel_to(NOW)
    database = Database(database_url)
    yield database
    database.dispose()


def about(moment: datetime | None, expected: datetime) -> bool:
    """The same moment, give or take the seconds a test takes (the travelled clock keeps moving)."""
    return moment is not None and abs(moment - expected) < timedelta(minutes=1)


def new_group(db_session: Session, name: str = "愛育委員") -> MemberGroup:
    return groups.create_group(db_session=db_session, group_in=GroupCreate(name=name))


def add(db_session: Session, group: MemberGroup, settings: Settings, *rows: MemberIn) -> list[groups.Issued]:
    numbered = [(n, row) for n, row in enumerate(rows, start=1)]
    return groups.import_rows(db_session=db_session, group=group, rows=numbered, settings=settings)


def one_member(db: Database, settings: Settings, name: str = "瀬戸内 花子") -> tuple[int, int, str]:
    """(group id, member id, code) of a fresh group with one member."""
    with db.session() as db_session:
        group = groups.get_group_by_name(db_session=db_session, name="愛育委員") or new_group(db_session)
        issued = add(db_session, group, settings, MemberIn(name=name, district="牛窓", phone="090-1234-5678"))[0]
        return group.id, issued.member.id, issued.code


def redeem(db: Database, settings: Settings, user: str, text: str) -> groups.Redemption:
    with db.session() as db_session:
        return groups.redeem(db_session=db_session, line_user_id=user, text=text, settings=settings)


# Codes ---------------------------------------------------------------------------------------------


def test_codes_are_printable_unambiguous_and_unguessable() -> None:
    codes = [groups.new_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        shown = groups.format_code(code)
        assert len(shown) == 14 and shown[4] == shown[9] == "-"
        assert not set(code) & set("0O1I")
        assert set(code) <= set(groups.ALPHABET)
        assert any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
    # At least 50 bits: 32 letters over 12 places, less the few codes without a digit.
    assert len(groups.ALPHABET) == 32
    assert math.log2(32**12 * (1 - (24 / 32) ** 12 - (8 / 32) ** 12)) > 59


@pytest.mark.parametrize(
    "typed",
    [
        "AB7K-3QX9-M2PD",
        "ab7k3qx9m2pd",
        "ＡＢ７Ｋ－３ＱＸ９－Ｍ２ＰＤ",
        "AB7K 3QX9 M2PD",
        "ab7kー3qx9ーm2pd",
        " AB7K　3QX9　M2PD\n",
        "登録コード AB7K-3QX9-M2PD",
        "AB7K-3QX9-M2PDです",
    ],
)
def test_what_members_type_is_read_as_the_code(typed: str) -> None:
    assert groups.normalise_code(typed) == "AB7K3QX9M2PD"


@pytest.mark.parametrize(
    "text",
    [
        "こんにちは",
        "ごみの日",
        "HELLOWORLDAB",
        "AB7K-3QX9",
        "AB7K-3QX9-M2PD-XXXX",
        "0869-22-1111",
        "090-1234-5678",
        "123456789012",
        "",
        "愛育委員のお知らせをください AB7K-3QX9-M2PD",
    ],
)
def test_ordinary_messages_are_not_codes(text: str) -> None:
    assert not groups.looks_like_code(text)


def test_only_a_keyed_digest_is_stored(db: Database, settings: Settings) -> None:
    _, member_id, code = one_member(db, settings)
    plain = code.replace("-", "")
    with db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        assert member is not None and member.code_digest is not None
        assert plain not in member.code_digest and code not in member.name_enc
        assert member.code_digest == groups.live_digest(plain, settings)
        other = load_settings(database_url=settings.database_url, secret_key="t" * 40, personal_data_key="")
        assert member.code_digest != groups.live_digest(plain, other)  # keyed: the key matters
        assert groups.view(member, settings).name == "瀬戸内 花子"
        assert groups.view(member, settings).phone == "090-1234-5678"
        assert member.status == MemberStatus.PENDING
        assert about(member.code_expires_at, NOW + timedelta(days=settings.member_code_ttl_days))


def test_a_code_links_once_and_is_then_used(db: Database, settings: Settings) -> None:
    group_id, member_id, code = one_member(db, settings)
    # Typed loosely: lower case, full width, spaces.
    typed = code.lower().replace("-", " ").translate(str.maketrans("abcdefghjk", "ａｂｃｄｅｆｇｈｊｋ"))
    linked = redeem(db, settings, "U1", typed)
    assert linked.outcome == Outcome.LINKED and linked.group is not None and linked.group.name == "愛育委員"
    with db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        assert member is not None
        assert (member.status, member.line_user_id) == (MemberStatus.LINKED, "U1")
        assert about(member.linked_at, NOW)
        assert member.code_digest != groups.live_digest(code.replace("-", ""), settings)
        assert list(db_session.scalars(groups.linked_user_ids([group_id]))) == ["U1"]
    assert redeem(db, settings, "U1", code).outcome == Outcome.ALREADY_MEMBER
    assert redeem(db, settings, "U2", code).outcome == Outcome.ALREADY_USED
    with db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        assert member is not None and member.line_user_id == "U1"  # the second sender took nothing
        assert db_session.get(CodeAttempts, "U2") is None  # a real code is not a guess


def test_another_code_of_a_group_one_is_in_is_left_for_its_owner(db: Database, settings: Settings) -> None:
    _, _, mine = one_member(db, settings, "瀬戸内 花子")
    _, spouse_id, spouses = one_member(db, settings, "瀬戸内 太郎")
    assert redeem(db, settings, "U1", mine).outcome == Outcome.LINKED
    assert redeem(db, settings, "U1", spouses).outcome == Outcome.ALREADY_MEMBER
    assert redeem(db, settings, "U2", spouses).outcome == Outcome.LINKED
    with db.session() as db_session:
        member = db_session.get(GroupMember, spouse_id)
        assert member is not None and member.line_user_id == "U2"


def test_one_line_user_may_join_several_groups(db: Database, settings: Settings) -> None:
    with db.session() as db_session:
        aiiku, jichi = new_group(db_session, "愛育委員"), new_group(db_session, "自治会長")
        first = add(db_session, aiiku, settings, MemberIn(name="瀬戸内 花子"))[0].code
        second = add(db_session, jichi, settings, MemberIn(name="瀬戸内 花子"))[0].code
        ids = [aiiku.id, jichi.id]
    assert redeem(db, settings, "U1", first).outcome == Outcome.LINKED
    assert redeem(db, settings, "U1", second).outcome == Outcome.LINKED
    with db.session() as db_session:
        assert list(db_session.scalars(groups.linked_user_ids(ids))) == ["U1"]  # once
        assert [g.name for g in groups.groups_of_user(db_session=db_session, line_user_id="U1")] == [
            "愛育委員",
            "自治会長",
        ]
        summary = {s.group.name: (s.on_roster, s.linked) for s in groups.get_all_groups(db_session=db_session)}
        assert summary == {"愛育委員": (1, 1), "自治会長": (1, 1)}


def test_an_expired_code_is_refused_and_a_reissued_one_works(db: Database, settings: Settings) -> None:
    _, member_id, code = one_member(db, settings)
    clock.travel_to(NOW + timedelta(days=settings.member_code_ttl_days, seconds=1))
    expired = redeem(db, settings, "U1", code)
    assert expired.outcome == Outcome.EXPIRED and expired.group is not None
    with db.session() as db_session:
        assert db_session.get(CodeAttempts, "U1") is None  # not a guess
        member = db_session.get(GroupMember, member_id)
        assert member is not None
        new_code = groups.reissue_code(db_session=db_session, member=member, settings=settings).code
    assert new_code != code
    assert redeem(db, settings, "U1", code).outcome == Outcome.WRONG  # the old code is dead
    assert redeem(db, settings, "U1", new_code).outcome == Outcome.LINKED


def test_a_code_just_inside_its_life_still_works(db: Database, settings: Settings) -> None:
    _, _, code = one_member(db, settings)
    clock.travel_to(NOW + timedelta(days=settings.member_code_ttl_days, seconds=-1))
    assert redeem(db, settings, "U1", code).outcome == Outcome.LINKED


def test_wrong_codes_are_throttled_per_line_user(db: Database, settings: Settings) -> None:
    _, _, code = one_member(db, settings)
    guesses = [groups.format_code(groups.new_code()) for _ in range(settings.member_code_max_failures)]
    outcomes = [redeem(db, settings, "Uguess", g).outcome for g in guesses]
    assert outcomes == [Outcome.WRONG] * (settings.member_code_max_failures - 1) + [Outcome.LOCKED]
    locked = redeem(db, settings, "Uguess", code)  # even the right code waits
    assert locked.outcome == Outcome.LOCKED
    assert about(locked.locked_until, NOW + timedelta(minutes=settings.member_code_lock_minutes))
    assert redeem(db, settings, "Uother", groups.format_code(groups.new_code())).outcome == Outcome.WRONG  # per user
    clock.travel_to(NOW + timedelta(minutes=settings.member_code_lock_minutes - 1))
    assert redeem(db, settings, "Uguess", code).outcome == Outcome.LOCKED
    clock.travel_to(NOW + timedelta(minutes=settings.member_code_lock_minutes + 1))
    assert redeem(db, settings, "Uguess", code).outcome == Outcome.LINKED


def test_wrong_codes_spread_out_do_not_lock(db: Database, settings: Settings) -> None:
    window = timedelta(minutes=settings.member_code_window_minutes)
    for n in range(settings.member_code_max_failures * 2):
        clock.travel_to(NOW + n * window / 2)
        assert redeem(db, settings, "U1", groups.format_code(groups.new_code())).outcome == Outcome.WRONG


# Rosters -------------------------------------------------------------------------------------------

ROSTER = "氏名,地区,電話番号\r\n邑久 花子,邑久,090-1111-2222\r\n牛窓 太郎,牛窓町鹿忍,0869-34-0000\r\n長船 次郎,,\r\n"


def members_of(db: Database, settings: Settings, group_id: int) -> list[tuple[str, str, str]]:
    with db.session() as db_session:
        return [
            (v.name, v.district, v.phone)
            for v in (groups.view(m, settings) for m in groups.get_members(db_session=db_session, group_id=group_id))
        ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932", "utf-8"])
def test_a_roster_from_excel_is_read_in_either_encoding(db: Database, settings: Settings, encoding: str) -> None:
    with db.session() as db_session:
        group = new_group(db_session)
        issued = groups.import_csv(db_session=db_session, group=group, data=ROSTER.encode(encoding), settings=settings)
        group_id = group.id
    assert [i.name for i in issued] == ["邑久 花子", "牛窓 太郎", "長船 次郎"]
    assert len({i.code for i in issued}) == 3
    assert members_of(db, settings, group_id) == [
        ("邑久 花子", "邑久", "090-1111-2222"),
        ("牛窓 太郎", "牛窓", "0869340000"),
        ("長船 次郎", "", ""),
    ]


def test_english_headers_in_any_order() -> None:
    rows = groups.parse_csv(b"phone,Name,district\n090-1111-2222,Hanako Oku,\xe9\x82\x91\xe4\xb9\x85\n")
    assert rows == [(2, MemberIn(name="Hanako Oku", district="邑久", phone="090-1111-2222"))]


def test_a_roster_with_bad_rows_imports_nothing_and_says_why(db: Database, settings: Settings) -> None:
    with db.session() as db_session:
        group = new_group(db_session)
        add(db_session, group, settings, MemberIn(name="既存 一郎", phone="090-9999-0000"))
        group_id = group.id
    bad = (
        "名前,地区,電話\n"
        "邑久 花子,邑久,090-1111-2222\n"  # 2: fine
        ",牛窓,090-1111-3333\n"  # 3: no name
        "牛窓 太郎,東京,12345\n"  # 4: district and phone
        "\n"  # 5: empty, skipped
        "邑久 花子,邑久,09011112222\n"  # 6: the same as line 2
        "既存 一郎,,090-9999-0000\n"  # 7: on the roster already
    )
    with db.session() as db_session:
        found = db_session.get(MemberGroup, group_id)
        assert found is not None
        with pytest.raises(RosterRejected) as rejected:
            groups.import_csv(db_session=db_session, group=found, data=bad.encode("cp932"), settings=settings)
    problems = [(p.line, p.message) for p in rejected.value.problems]
    assert [line for line, _ in problems] == [3, 4, 4, 6, 7]
    assert "氏名が空欄" in problems[0][1]
    assert "電話番号「12345」" in problems[1][1]
    assert "地区「東京」" in problems[2][1] and "邑久・牛窓・長船" in problems[2][1]
    assert "2行目と同じ方" in problems[3][1]
    assert "すでにこのグループの名簿" in problems[4][1]
    with db.session() as db_session:
        count = db_session.scalar(select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group_id))
    assert count == 1  # only the one added before


def test_a_file_without_a_name_column_or_unreadable_is_refused() -> None:
    with pytest.raises(RosterRejected) as no_name:
        groups.parse_csv("地区,電話番号\n邑久,090-1111-2222\n".encode())
    assert "氏名" in no_name.value.problems[0].message
    with pytest.raises(RosterRejected) as unreadable:
        groups.parse_csv(b"\xff\xfe\x00\x81\x00")
    assert "文字コード" in unreadable.value.problems[0].message
    with pytest.raises(RosterRejected):
        groups.parse_csv(b"")


def test_group_names_are_unique(db: Database) -> None:
    with db.session() as db_session:
        new_group(db_session, "消防団")
        with pytest.raises(groups.GroupNameTaken):
            new_group(db_session, " 消防団 ")
        with pytest.raises(groups.InvalidGroup):
            new_group(db_session, "　")


# Leaving ----------------------------------------------------------------------------------------


def test_unlinking_takes_a_member_out_of_the_audience(db: Database, settings: Settings) -> None:
    group_id, member_id, code = one_member(db, settings)
    _, pending_id, pending_code = one_member(db, settings, "未登録 さん")
    assert redeem(db, settings, "U1", code).outcome == Outcome.LINKED
    with db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        pending = db_session.get(GroupMember, pending_id)
        assert member is not None and pending is not None
        assert groups.unlink(db_session=db_session, member=member) == "U1"
        assert groups.unlink(db_session=db_session, member=pending) is None
        with pytest.raises(groups.InvalidTransition):
            groups.unlink(db_session=db_session, member=member)
        assert list(db_session.scalars(groups.linked_user_ids([group_id]))) == []
        assert member.status == MemberStatus.REMOVED and about(member.removed_at, NOW)
    assert redeem(db, settings, "U2", pending_code).outcome == Outcome.WRONG  # an unused code dies with the entry
    assert redeem(db, settings, "U1", code).outcome == Outcome.ALREADY_USED
    with db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        assert member is not None
        again = groups.reissue_code(db_session=db_session, member=member, settings=settings).code
    assert redeem(db, settings, "U1", again).outcome == Outcome.LINKED  # back on the roster


def test_a_linked_member_gets_no_new_code(db: Database, settings: Settings) -> None:
    _, member_id, code = one_member(db, settings)
    redeem(db, settings, "U1", code)
    with db.session() as db_session:
        member = db_session.get(GroupMember, member_id)
        assert member is not None
        with pytest.raises(groups.InvalidTransition):
            groups.reissue_code(db_session=db_session, member=member, settings=settings)


def test_ids_out_of_range_are_not_found(db: Database) -> None:
    with db.session() as db_session:
        for bad in (0, -1, 2**31, 2**63):
            assert groups.get_group(db_session=db_session, group_id=bad) is None
            assert groups.get_member(db_session=db_session, member_id=bad) is None

"""Verified member groups (愛育委員, 自治会長, 消防団 …): rosters, one-time registration codes, linking a
LINE user to their roster entry, the throttle on wrong codes, unlinking, and who a group reaches.

Codes. Twelve characters from a 32-letter alphabet without 0/O/1/I (60 bits from `secrets`), shown
as AB7K-3QX9-M2PD. Only a keyed digest is stored (HMAC-SHA256 with SECRET_KEY), in
`GroupMember.code_digest`, under one of two labels: "live" while the code may be redeemed, "used"
once it was. Redeeming swaps the live digest for the used one, so the code can never be redeemed
again, yet a second sender can be told 「すでに使われています」 instead of 「見つかりません」.

Throttle. Wrong codes (no live or used digest matches) count per LINE user (CodeAttempts): the
MEMBER_CODE_MAX_FAILURES-th within MEMBER_CODE_WINDOW_MINUTES locks the user out for
MEMBER_CODE_LOCK_MINUTES, during which even a right code is refused, so guessing stays slow.
Expired and used codes are real codes, not guesses: they do not count.

Names and phone numbers are personal data: encrypted (bot/personal_data.py). Phones are stored as
digits only (09012345678). Districts are the city's three (邑久・牛窓・長船: handlers/gis), the
same ones citizens choose for garbage days, so an audience's districts match both.

Callers own the transaction; functions here flush.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from bot import clock, personal_data
from bot.db import affected_rows, upsert_insert
from bot.settings import Settings
from bot.validation import PlainStr
from handlers.broadcasts.models import CodeAttempts, GroupMember, MemberGroup, MemberStatus
from handlers.gis.service import places
from handlers.reservations import forms as answer_forms

# Codes -------------------------------------------------------------------------------------------

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 letters: no 0/O, no 1/I
CODE_LENGTH = 12  # 12 × 5 bits = 60 bits
GROUP_SIZE = 4
_DIGITS = frozenset("23456789")
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－ｰ_・.,、。]")
# What may stand around a code in a message: 「登録コード AB7K-…」「AB7K-… です」 (「ー」 is gone by then).
_CODE_MESSAGE = re.compile(r"^(?:登録コド|コド)?[:は]?([A-Z0-9]{12})(?:です)?$")
MAX_NAME = 40
MAX_ID = 2**31 - 1
MAX_ROWS = 5000


def new_code() -> str:
    """A fresh code (unformatted). It has a digit and a letter, so the LINE side can tell it from a
    word; that drops 3% of the 2^60 codes, which keeps well over 59 bits."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if any(c in _DIGITS for c in code) and any(c not in _DIGITS for c in code):
            return code


def format_code(code: str) -> str:
    """AB7K3QX9M2PD → AB7K-3QX9-M2PD (as printed)."""
    return "-".join(code[i : i + GROUP_SIZE] for i in range(0, len(code), GROUP_SIZE))


def normalise_code(text: str | None) -> str | None:
    """The code in a message, as issued (12 upper-case characters), or None when it is not shaped
    like one. Full-width letters, lower case, spaces, hyphens and 「ー」 are all forgiven."""
    if not text or len(text) > 60:
        return None
    folded = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    match = _CODE_MESSAGE.match(folded)
    if match is None:
        return None
    code = match.group(1)
    # Twelve letters alone are a word (or a shout), not a code: every code has a digit.
    if not any(c.isdigit() for c in code) or not any(c.isalpha() for c in code):
        return None
    return code


def looks_like_code(text: str | None) -> bool:
    return normalise_code(text) is not None


def _digest(code: str, settings: Settings, label: str) -> str:
    key = settings.secret_key.encode()
    return hmac.new(key, f"member-code:{label}:{code}".encode(), hashlib.sha256).hexdigest()


def live_digest(code: str, settings: Settings) -> str:
    return _digest(code, settings, "live")


def used_digest(code: str, settings: Settings) -> str:
    return _digest(code, settings, "used")


# Errors ------------------------------------------------------------------------------------------


class GroupError(Exception):
    code = "group_error"


class GroupNameTaken(GroupError):
    code = "name_taken"


class InvalidGroup(GroupError):
    code = "invalid_group"


class InvalidTransition(GroupError):
    """The member's status does not allow it (e.g. unlinking someone already removed)."""

    code = "invalid_transition"


@dataclass(frozen=True)
class RowProblem:
    line: int  # the file's line (CSV) or the list's position, from 1
    message: str  # in Japanese, for staff


class RosterRejected(GroupError):
    """Some rows are wrong: nothing was imported. Every problem is listed."""

    code = "roster_rejected"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


# Schemas -----------------------------------------------------------------------------------------


class GroupCreate(BaseModel):
    name: PlainStr = Field(min_length=1, max_length=60)
    description: PlainStr = Field(default="", max_length=200)


class MemberIn(BaseModel):
    """One roster row as typed (checked by `check_rows`)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: PlainStr = Field(default="", max_length=200)
    district: PlainStr | None = Field(default=None, max_length=100)
    phone: PlainStr | None = Field(default=None, max_length=100)


@dataclass(frozen=True)
class CleanMember:
    name: str
    district: str | None
    phone: str | None  # digits only

    @property
    def key(self) -> tuple[str, str]:
        """Who this is, for duplicates: the name without spaces and the phone."""
        return ("".join(unicodedata.normalize("NFKC", self.name).split()), self.phone or "")


@dataclass(frozen=True)
class Issued:
    """A member with the code just issued: shown this once (slips, API answer), never stored."""

    member: GroupMember
    name: str
    code: str  # formatted, AB7K-3QX9-M2PD
    expires_at: datetime


@dataclass(frozen=True)
class GroupSummary:
    group: MemberGroup
    on_roster: int  # pending and linked
    linked: int


@dataclass(frozen=True)
class MemberView:
    """A roster row as staff read it (decrypted)."""

    member: GroupMember
    name: str
    phone: str  # formatted for reading; "" when none
    district: str

    @property
    def status(self) -> MemberStatus:
        return MemberStatus(self.member.status)


# Groups ------------------------------------------------------------------------------------------


def get_group(*, db_session: Session, group_id: int) -> MemberGroup | None:
    """The group, or None (also for an id no row can have: beyond 32 bits, zero, negative)."""
    return db_session.get(MemberGroup, group_id) if 1 <= group_id <= MAX_ID else None


def get_group_by_name(*, db_session: Session, name: str) -> MemberGroup | None:
    return db_session.scalars(select(MemberGroup).where(MemberGroup.name == name)).first()


def clean_group_name(name: str) -> str:
    cleaned = " ".join(unicodedata.normalize("NFKC", name or "").split())
    if not cleaned or len(cleaned) > 60:
        raise InvalidGroup("name must be 1 to 60 characters")
    return cleaned


def create_group(*, db_session: Session, group_in: GroupCreate, created_by: str | None = None) -> MemberGroup:
    name = clean_group_name(group_in.name)
    if get_group_by_name(db_session=db_session, name=name) is not None:
        raise GroupNameTaken(name)
    group = MemberGroup(
        name=name, description=group_in.description.strip(), created_at=clock.now(), created_by=created_by
    )
    db_session.add(group)
    db_session.flush()
    return group


def get_all_groups(*, db_session: Session) -> list[GroupSummary]:
    """Every group with how many are on its roster (not removed) and how many linked, by name."""
    on_roster = func.count(GroupMember.id).filter(GroupMember.status != MemberStatus.REMOVED)
    linked = func.count(GroupMember.id).filter(GroupMember.status == MemberStatus.LINKED)
    rows = db_session.execute(
        select(MemberGroup, on_roster, linked)
        .outerjoin(GroupMember, GroupMember.group_id == MemberGroup.id)
        .group_by(MemberGroup.id)
        .order_by(MemberGroup.name)
    ).tuples()
    return [GroupSummary(group, int(n), int(k)) for group, n, k in rows]


def linked_user_ids(group_ids: Collection[int]) -> Select[str | None]:
    """The LINE user ids of the groups' linked members (each once): for the audience resolver."""
    return (
        select(GroupMember.line_user_id)
        .where(
            GroupMember.group_id.in_(list(group_ids)),
            GroupMember.status == MemberStatus.LINKED,
            GroupMember.line_user_id.is_not(None),
        )
        .distinct()
    )


def groups_of_user(*, db_session: Session, line_user_id: str) -> list[MemberGroup]:
    """The groups this LINE user is a linked member of."""
    return list(
        db_session.scalars(
            select(MemberGroup)
            .join(GroupMember, GroupMember.group_id == MemberGroup.id)
            .where(GroupMember.line_user_id == line_user_id, GroupMember.status == MemberStatus.LINKED)
            .order_by(MemberGroup.name)
        ).unique()
    )


# Members: reading --------------------------------------------------------------------------------


def get_member(*, db_session: Session, member_id: int) -> GroupMember | None:
    return db_session.get(GroupMember, member_id) if 1 <= member_id <= MAX_ID else None


def get_members(*, db_session: Session, group_id: int) -> list[GroupMember]:
    """The roster: linked and pending first (in the order added), removed last."""
    removed_last = (GroupMember.status == MemberStatus.REMOVED).asc()
    return list(
        db_session.scalars(
            select(GroupMember).where(GroupMember.group_id == group_id).order_by(removed_last, GroupMember.id)
        )
    )


def _decrypt(value: str | None, settings: Settings) -> str:
    if not value:
        return ""
    try:
        return personal_data.decrypt(value, settings)
    except personal_data.CannotDecrypt:
        return "（読み取れません）"


def phone_text(phone: str) -> str:
    """090-1234-5678 for a mobile; landlines' area codes vary, so they stay as digits."""
    return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}" if len(phone) == 11 and phone.isdigit() else phone


def view(member: GroupMember, settings: Settings) -> MemberView:
    return MemberView(
        member=member,
        name=_decrypt(member.name_enc, settings),
        phone=phone_text(_decrypt(member.phone_enc, settings)),
        district=member.district or "",
    )


def name_of(member: GroupMember, settings: Settings) -> str:
    return _decrypt(member.name_enc, settings)


# Members: checking rows --------------------------------------------------------------------------


def clean_district(value: str | None) -> str | None:
    """邑久 / 牛窓 / 長船 (a 大字 such as 牛窓町鹿忍 names its district); None when empty."""
    text = places.normalise(value or "")
    if not text:
        return None
    if text in places.DISTRICTS:
        return text
    place = places.resolve_place(text)
    if place is None:
        raise ValueError(text)
    return place.district


def check_row(row: MemberIn) -> tuple[CleanMember | None, list[str]]:
    """One row, cleaned, or every reason it is wrong (in Japanese)."""
    problems: list[str] = []
    name = " ".join((row.name or "").split())
    if not name:
        problems.append("氏名が空欄です。")
    elif len(name) > MAX_NAME:
        problems.append(f"氏名が長すぎます（{MAX_NAME}文字まで）。")
    elif not any(unicodedata.category(ch)[0] == "L" for ch in name) or any(
        unicodedata.category(ch)[0] == "C" for ch in name
    ):
        problems.append("氏名として読めません。")
    phone: str | None = None
    if row.phone:
        try:
            phone = answer_forms.clean_phone(row.phone)
        except ValueError:
            problems.append(
                f"電話番号「{row.phone[:20]}」は電話番号の形ではありません（例: 090-1234-5678、0869-22-1111）。"
            )
    district: str | None = None
    try:
        district = clean_district(row.district)
    except ValueError:
        known = "・".join(places.DISTRICTS)
        problems.append(f"地区「{(row.district or '')[:20]}」は市の地区（{known}）にありません。")
    if problems:
        return None, problems
    return CleanMember(name=name, district=district, phone=phone), []


def _roster_keys(db_session: Session, group_id: int, settings: Settings) -> set[tuple[str, str]]:
    keys = set()
    for member in get_members(db_session=db_session, group_id=group_id):
        if member.status == MemberStatus.REMOVED:
            continue
        clean = CleanMember(name=name_of(member, settings), district=None, phone=_decrypt(member.phone_enc, settings))
        keys.add((clean.key[0], clean.key[1] or ""))
    return keys


def check_rows(
    *, db_session: Session, group: MemberGroup, rows: Sequence[tuple[int, MemberIn]], settings: Settings
) -> list[CleanMember]:
    """Every row cleaned, or RosterRejected listing every problem (line numbers as given): wrong
    fields, the same person twice in the rows, someone already on the roster."""
    if not rows:
        raise RosterRejected([RowProblem(0, "登録する方が1人もいません。")])
    if len(rows) > MAX_ROWS:
        raise RosterRejected([RowProblem(0, f"一度に登録できるのは{MAX_ROWS}人までです。")])
    problems: list[RowProblem] = []
    cleaned: list[CleanMember] = []
    seen: dict[tuple[str, str], int] = {}
    on_roster = _roster_keys(db_session, group.id, settings)
    for line, row in rows:
        member, reasons = check_row(row)
        problems.extend(RowProblem(line, reason) for reason in reasons)
        if member is None:
            continue
        if member.key in seen:
            problems.append(RowProblem(line, f"{seen[member.key]}行目と同じ方です（氏名と電話番号が同じ）。"))
        elif member.key in on_roster:
            problems.append(RowProblem(line, f"「{member.name}」さんは、すでにこのグループの名簿にいます。"))
        seen.setdefault(member.key, line)
        cleaned.append(member)
    if problems:
        raise RosterRejected(problems)
    return cleaned


# Members: reading a CSV file ---------------------------------------------------------------------

HEADERS = {
    "name": "name",
    "氏名": "name",
    "名前": "name",
    "お名前": "name",
    "district": "district",
    "地区": "district",
    "地区名": "district",
    "phone": "phone",
    "tel": "phone",
    "電話番号": "phone",
    "電話": "phone",
}


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes) or Shift_JIS (Excel's 「CSV（コンマ区切り）」)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932")
    except UnicodeDecodeError:
        raise RosterRejected(
            [RowProblem(0, "ファイルの文字コードを読み取れません。CSV（UTF-8 または Shift_JIS）で保存してください。")]
        ) from None


def _cell(cells: list[str], columns: dict[str, int], key: str) -> str | None:
    index = columns.get(key)
    return cells[index] if index is not None and index < len(cells) else None


def parse_csv(data: bytes) -> list[tuple[int, MemberIn]]:
    """The rows of a roster file with their line numbers (the header is line 1; empty lines are
    skipped). Columns: name, district, phone, or 氏名/名前, 地区, 電話番号/電話, in any order."""
    text = decode_csv(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    rows: list[tuple[int, MemberIn]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if columns is None:
                columns = {}
                for index, cell in enumerate(cells):
                    key = HEADERS.get(unicodedata.normalize("NFKC", cell).strip().lower())
                    if key and key not in columns:
                        columns[key] = index
                if "name" not in columns:
                    raise RosterRejected(
                        [RowProblem(reader.line_num, "見出しの行に「氏名」（または name）の列がありません。")]
                    )
                continue

            rows.append(
                (
                    reader.line_num,
                    MemberIn(
                        name=(_cell(cells, columns, "name") or "")[:200],
                        district=(_cell(cells, columns, "district") or "")[:100] or None,
                        phone=(_cell(cells, columns, "phone") or "")[:100] or None,
                    ),
                )
            )
            if len(rows) > MAX_ROWS:
                break
    except csv.Error as exc:
        raise RosterRejected([RowProblem(reader.line_num, f"CSVとして読めません（{exc}）。")]) from None
    if columns is None:
        raise RosterRejected([RowProblem(0, "ファイルが空です。")])
    return rows


# Members: adding, codes --------------------------------------------------------------------------


def _issue(member: GroupMember, settings: Settings, now: datetime) -> tuple[str, datetime]:
    code = new_code()
    member.code_digest = live_digest(code, settings)
    member.code_expires_at = now + timedelta(days=settings.member_code_ttl_days)
    return format_code(code), member.code_expires_at


def add_members(
    *, db_session: Session, group: MemberGroup, members: Sequence[CleanMember], settings: Settings
) -> list[Issued]:
    """Puts checked members on the roster, each with a new code (shown this once)."""
    now = clock.now()
    issued: list[Issued] = []
    for clean in members:
        member = GroupMember(
            group_id=group.id,
            name_enc=personal_data.encrypt(clean.name, settings),
            phone_enc=personal_data.encrypt(clean.phone, settings) if clean.phone else None,
            district=clean.district,
            status=MemberStatus.PENDING,
            created_at=now,
        )
        code, expires = _issue(member, settings, now)
        db_session.add(member)
        issued.append(Issued(member=member, name=clean.name, code=code, expires_at=expires))
    db_session.flush()
    return issued


def import_rows(
    *, db_session: Session, group: MemberGroup, rows: Sequence[tuple[int, MemberIn]], settings: Settings
) -> list[Issued]:
    """All or nothing: every row checked first (RosterRejected lists every problem), then added."""
    cleaned = check_rows(db_session=db_session, group=group, rows=rows, settings=settings)
    return add_members(db_session=db_session, group=group, members=cleaned, settings=settings)


def import_csv(*, db_session: Session, group: MemberGroup, data: bytes, settings: Settings) -> list[Issued]:
    return import_rows(db_session=db_session, group=group, rows=parse_csv(data), settings=settings)


def reissue_code(*, db_session: Session, member: GroupMember, settings: Settings) -> Issued:
    """A new code for a member who has not registered (the old one stops working at once), or for
    one who was removed (they are back on the roster, to register again)."""
    if member.status == MemberStatus.LINKED:
        raise InvalidTransition("linked")
    now = clock.now()
    member.status = MemberStatus.PENDING
    member.line_user_id = None
    member.linked_at = None
    member.removed_at = None
    code, expires = _issue(member, settings, now)
    db_session.flush()
    return Issued(member=member, name=name_of(member, settings), code=code, expires_at=expires)


def unlink(*, db_session: Session, member: GroupMember) -> str | None:
    """Takes the member off the group (retired, moved). Answers the LINE user they were linked to
    (to tell them), if any. Their code, if unused, stops working."""
    if member.status == MemberStatus.REMOVED:
        raise InvalidTransition("removed")
    line_user_id = member.line_user_id if member.status == MemberStatus.LINKED else None
    if member.status == MemberStatus.PENDING:
        member.code_digest = None  # a code never used dies with the entry
    member.status = MemberStatus.REMOVED
    member.removed_at = clock.now()
    db_session.flush()
    return line_user_id


# Linking on LINE ---------------------------------------------------------------------------------


class Outcome(StrEnum):
    LINKED = "linked"
    ALREADY_MEMBER = "already_member"  # this LINE user is in the code's group already
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class Redemption:
    outcome: Outcome
    group: MemberGroup | None = None
    member: GroupMember | None = None
    locked_until: datetime | None = None


def _attempts(db_session: Session, line_user_id: str) -> CodeAttempts | None:
    return db_session.get(CodeAttempts, line_user_id, with_for_update=True, populate_existing=True)


def _count_failure(db_session: Session, line_user_id: str, settings: Settings, now: datetime) -> datetime | None:
    """One more wrong code; answers the end of the lock when this one locks them out."""
    row = _attempts(db_session, line_user_id)
    if row is None:
        db_session.execute(
            upsert_insert(db_session)(CodeAttempts)
            .values(line_user_id=line_user_id, failures=0, window_started_at=now, locked_until=None)
            .on_conflict_do_nothing(index_elements=["line_user_id"])
        )
        row = _attempts(db_session, line_user_id)
        assert row is not None
    if row.window_started_at + timedelta(minutes=settings.member_code_window_minutes) <= now:
        row.failures = 0
        row.window_started_at = now
    row.failures += 1
    if row.failures >= settings.member_code_max_failures:
        row.failures = 0
        row.window_started_at = now
        row.locked_until = now + timedelta(minutes=settings.member_code_lock_minutes)
    db_session.flush()
    return row.locked_until if row.locked_until and row.locked_until > now else None


def locked_until(*, db_session: Session, line_user_id: str, now: datetime | None = None) -> datetime | None:
    row = db_session.get(CodeAttempts, line_user_id)
    moment = now or clock.now()
    return row.locked_until if row and row.locked_until and row.locked_until > moment else None


def redeem(*, db_session: Session, line_user_id: str, text: str, settings: Settings) -> Redemption:
    """A LINE user sent something shaped like a code: links them to its roster entry, or says why not."""
    now = clock.now()
    until = locked_until(db_session=db_session, line_user_id=line_user_id, now=now)
    if until is not None:
        return Redemption(Outcome.LOCKED, locked_until=until)
    code = normalise_code(text)
    member = None
    if code is not None:
        member = db_session.scalars(
            select(GroupMember).where(GroupMember.code_digest == live_digest(code, settings))
        ).first()
        if member is None:
            used = db_session.scalars(
                select(GroupMember).where(GroupMember.code_digest == used_digest(code, settings))
            ).first()
            if used is not None:
                group = get_group(db_session=db_session, group_id=used.group_id)
                mine = used.line_user_id == line_user_id and used.status == MemberStatus.LINKED
                return Redemption(Outcome.ALREADY_MEMBER if mine else Outcome.ALREADY_USED, group=group, member=used)
    if member is None or code is None or member.status != MemberStatus.PENDING:
        until = _count_failure(db_session, line_user_id, settings, now)
        return Redemption(Outcome.LOCKED, locked_until=until) if until else Redemption(Outcome.WRONG)
    group = get_group(db_session=db_session, group_id=member.group_id)
    if member.code_expires_at is None or member.code_expires_at <= now:
        return Redemption(Outcome.EXPIRED, group=group, member=member)
    already = db_session.scalars(
        select(GroupMember).where(
            GroupMember.group_id == member.group_id,
            GroupMember.line_user_id == line_user_id,
            GroupMember.status == MemberStatus.LINKED,
        )
    ).first()
    if already is not None:
        # Someone else's code of the same group (a spouse's slip?): theirs stays usable for them.
        return Redemption(Outcome.ALREADY_MEMBER, group=group, member=already)
    # Conditional: of two people sending the same code at once, one links.
    linked = db_session.execute(
        update(GroupMember)
        .where(
            GroupMember.id == member.id,
            GroupMember.code_digest == live_digest(code, settings),
            GroupMember.status == MemberStatus.PENDING,
        )
        .values(
            status=MemberStatus.LINKED,
            line_user_id=line_user_id,
            linked_at=now,
            code_digest=used_digest(code, settings),
        )
        .execution_options(synchronize_session=False)
    )
    if affected_rows(linked) != 1:
        return Redemption(Outcome.ALREADY_USED, group=group)
    db_session.refresh(member)
    attempts = db_session.get(CodeAttempts, line_user_id)
    if attempts is not None:
        attempts.failures = 0
    db_session.flush()
    return Redemption(Outcome.LINKED, group=group, member=member)

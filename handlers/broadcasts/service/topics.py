"""Topics and what each citizen chose (配信設定): the topics (data, edited by staff), a citizen's
choices, the short question after 友だち追加, counts for staff, who a topic reaches
(`subscribers_select`), and the reading of free text such as 「防災の情報だけほしい」.

Rules:
- Nobody is subscribed to a topic they did not choose, except a topic marked `default_on`, which is
  switched on for a new friend in the message that tells them so (`welcome_new_friend`).
- A retired topic (`is_active` false) is hidden from citizens and reaches nobody; its rows are kept.
- A citizen's district is the garbage capability's (handlers.garbage.service get_district /
  set_district): asked once, remembered for the whole bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.citizens import Citizen, CitizenStatus
from bot.validation import PlainStr
from handlers.broadcasts.models import SubscriberSettings, Subscription, Topic
from handlers.garbage import service as garbage_service
from handlers.garbage.models import GarbagePreference
from handlers.gis.service import places as place_service
from nlu.normalize import normalise, to_hiragana

DEMO_FILE = Path(__file__).parent.parent / "data" / "topics.yml"
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_KEYWORDS = 30
NO_DISTRICT = ""


class TopicExists(Exception):
    """A topic with this key already exists."""


# --- schemas: what staff send in and what pages and /api/v1 show ----------------------------------


def _clean_keywords(value: list[str]) -> list[str]:
    seen: list[str] = []
    for word in value:
        word = str(word).strip()
        if word and word not in seen:
            seen.append(word[:40])
    return seen


class TopicCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(pattern=KEY_PATTERN, description="変えない英小文字のキー（例：bousai）")
    name: PlainStr = Field(min_length=1, max_length=40)
    description: PlainStr = Field(default="", max_length=200)
    keywords: list[PlainStr] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    default_on: bool = False

    _keywords = field_validator("keywords")(classmethod(lambda cls, v: _clean_keywords(v)))


class TopicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: PlainStr | None = Field(default=None, min_length=1, max_length=40)
    description: PlainStr | None = Field(default=None, max_length=200)
    keywords: list[str] | None = Field(default=None, max_length=MAX_KEYWORDS)
    default_on: bool | None = None
    is_active: bool | None = None

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_keywords(value)


class TopicRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    description: str
    keywords: list[str]
    default_on: bool
    sort_order: int
    is_active: bool


# --- topics ----------------------------------------------------------------------------------------


def get_all(*, db_session: Session, include_inactive: bool = False) -> list[Topic]:
    """Topics in the order citizens see them."""
    query = select(Topic).order_by(Topic.sort_order, Topic.id)
    if not include_inactive:
        query = query.where(Topic.is_active.is_(True))
    return list(db_session.scalars(query))


def get_by_key(*, db_session: Session, key: str) -> Topic | None:
    return db_session.scalars(select(Topic).where(Topic.key == key)).one_or_none()


def create(*, db_session: Session, topic_in: TopicCreate) -> Topic:
    """A new topic, last in the order. Raises TopicExists for a key in use (retired ones too)."""
    if get_by_key(db_session=db_session, key=topic_in.key) is not None:
        raise TopicExists(topic_in.key)
    last = db_session.scalar(select(func.max(Topic.sort_order)))
    topic = Topic(
        key=topic_in.key,
        name=topic_in.name,
        description=topic_in.description,
        keywords=list(topic_in.keywords),
        default_on=topic_in.default_on,
        sort_order=(last or 0) + 10,
        is_active=True,
        updated_at=clock.now(),
    )
    db_session.add(topic)
    db_session.flush()
    return topic


def update(*, db_session: Session, topic: Topic, topic_in: TopicUpdate) -> Topic:
    for name, value in topic_in.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(topic, name, value)
    topic.updated_at = clock.now()
    db_session.flush()
    return topic


def move(*, db_session: Session, topic: Topic, step: int) -> bool:
    """Swaps the topic with its neighbour above (step -1) or below (+1); False at either end."""
    ordered = get_all(db_session=db_session, include_inactive=True)
    index = ordered.index(topic)
    other = index + (1 if step > 0 else -1)
    if not 0 <= other < len(ordered):
        return False
    # Renumber first: seeded or equal orders would otherwise swap nothing.
    for position, each in enumerate(ordered):
        each.sort_order = (position + 1) * 10
    ordered[index].sort_order, ordered[other].sort_order = ordered[other].sort_order, ordered[index].sort_order
    now = clock.now()
    topic.updated_at = now
    ordered[other].updated_at = now
    db_session.flush()
    return True


def seed(*, db_session: Session, path: Path = DEMO_FILE) -> int:
    """The demo topics: adds those missing by key; a topic staff changed or retired is kept as it is."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    added = 0
    for position, item in enumerate(data.get("topics") or []):
        if get_by_key(db_session=db_session, key=str(item["key"])) is not None:
            continue
        topic_in = TopicCreate(
            key=str(item["key"]),
            name=str(item["name"]),
            description=str(item.get("description") or ""),
            keywords=[str(w) for w in item.get("keywords") or []],
            default_on=bool(item.get("default_on", False)),
        )
        topic = create(db_session=db_session, topic_in=topic_in)
        topic.sort_order = (position + 1) * 10
        added += 1
    db_session.flush()
    return added


# --- a citizen's choices ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What a choice changed: the topics turned on and off (names, in the citizens' order)."""

    turned_on: list[str] = field(default_factory=list)
    turned_off: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.turned_on or self.turned_off)


def chosen_keys(*, db_session: Session, line_user_id: str) -> set[str]:
    """The keys of the active topics the citizen receives."""
    query = (
        select(Topic.key)
        .join(Subscription, Subscription.topic_id == Topic.id)
        .where(Subscription.line_user_id == line_user_id, Topic.is_active.is_(True))
    )
    return set(db_session.scalars(query))


def set_exactly(*, db_session: Session, line_user_id: str, topic_keys: set[str]) -> Change:
    """The citizen receives exactly these active topics (unknown or retired keys are ignored)."""
    topics = get_all(db_session=db_session)
    current = chosen_keys(db_session=db_session, line_user_id=line_user_id)
    wanted = {t.key for t in topics} & set(topic_keys)
    turn_on = [t for t in topics if t.key in wanted - current]
    turn_off = [t for t in topics if t.key in current - wanted]
    now = clock.now()
    for topic in turn_on:
        db_session.add(Subscription(line_user_id=line_user_id, topic_id=topic.id, created_at=now))
    if turn_off:
        db_session.execute(
            delete(Subscription).where(
                Subscription.line_user_id == line_user_id,
                Subscription.topic_id.in_([t.id for t in turn_off]),
            )
        )
    db_session.flush()
    return Change([t.name for t in turn_on], [t.name for t in turn_off])


def subscribe(*, db_session: Session, line_user_id: str, topic_keys: set[str]) -> Change:
    current = chosen_keys(db_session=db_session, line_user_id=line_user_id)
    return set_exactly(db_session=db_session, line_user_id=line_user_id, topic_keys=current | topic_keys)


def unsubscribe(*, db_session: Session, line_user_id: str, topic_keys: set[str]) -> Change:
    current = chosen_keys(db_session=db_session, line_user_id=line_user_id)
    return set_exactly(db_session=db_session, line_user_id=line_user_id, topic_keys=current - topic_keys)


def unsubscribe_all(*, db_session: Session, line_user_id: str) -> Change:
    return set_exactly(db_session=db_session, line_user_id=line_user_id, topic_keys=set())


# --- the question after 友だち追加 ---------------------------------------------------------------------


def get_settings(*, db_session: Session, line_user_id: str) -> SubscriberSettings | None:
    return db_session.get(SubscriberSettings, line_user_id)


def _settings(db_session: Session, line_user_id: str) -> SubscriberSettings:
    found = get_settings(db_session=db_session, line_user_id=line_user_id)
    if found is None:
        found = SubscriberSettings(line_user_id=line_user_id, updated_at=clock.now())
        db_session.add(found)
    return found


def welcome_new_friend(*, db_session: Session, line_user_id: str, apply_defaults: bool = True) -> list[Topic] | None:
    """Asks once: records that the question is being asked and (for a new friend, `apply_defaults`)
    switches on the `default_on` topics, which the caller must name in that very message. None when
    the citizen was asked before (a returning friend keeps what they chose)."""
    found = _settings(db_session, line_user_id)
    if found.asked_at is not None:
        return None
    now = clock.now()
    found.asked_at = found.updated_at = now
    if not apply_defaults:
        db_session.flush()
        return []
    defaults = [t for t in get_all(db_session=db_session) if t.default_on]
    subscribe(db_session=db_session, line_user_id=line_user_id, topic_keys={t.key for t in defaults})
    return defaults


def mark_answered(*, db_session: Session, line_user_id: str) -> None:
    """The citizen answered the question after 友だち追加 (or chose 「あとで」): not asked again."""
    found = _settings(db_session, line_user_id)
    if found.answered_at is None:
        found.answered_at = clock.now()
    found.updated_at = clock.now()
    db_session.flush()


# --- who a topic reaches, and counts for staff ------------------------------------------------------


def subscribers_select(topic_keys: list[str] | set[str], districts: list[str] | None = None) -> Select[str]:
    """The LINE user ids subscribed to any of these active topics (each once); with `districts`, only
    those whose district (the garbage capability's) is one of them. Blocked friends are NOT removed
    here: the delivery engine skips them when the send starts."""
    query = (
        select(Subscription.line_user_id)
        .join(Topic, Topic.id == Subscription.topic_id)
        .where(Topic.key.in_(list(topic_keys)), Topic.is_active.is_(True))
    )
    if districts:
        query = query.join(GarbagePreference, GarbagePreference.line_user_id == Subscription.line_user_id).where(
            GarbagePreference.district.in_(list(districts))
        )
    return query.distinct()


def _reachable(query: Any) -> Any:
    # Someone who blocked the account is reached by nothing: they do not count.
    blocked = select(Citizen.line_user_id).where(Citizen.status == CitizenStatus.BLOCKED)
    return query.where(Subscription.line_user_id.not_in(blocked))


def counts(*, db_session: Session) -> dict[int, int]:
    """Subscribers per topic id (friends who blocked the account not counted)."""
    query = select(Subscription.topic_id, func.count()).group_by(Subscription.topic_id)
    return {topic_id: n for topic_id, n in db_session.execute(_reachable(query))}


def counts_by_district(*, db_session: Session) -> dict[int, dict[str, int]]:
    """Subscribers per topic id and district ("" for those who have not told us their district)."""
    district = func.coalesce(GarbagePreference.district, NO_DISTRICT)
    query = (
        select(Subscription.topic_id, district, func.count())
        .outerjoin(GarbagePreference, GarbagePreference.line_user_id == Subscription.line_user_id)
        .group_by(Subscription.topic_id, district)
    )
    out: dict[int, dict[str, int]] = {}
    for topic_id, name, n in db_session.execute(_reachable(query)):
        out.setdefault(topic_id, {})[name] = n
    return out


def district_counts(*, db_session: Session) -> dict[str, int]:
    """Friends (not blocked) per district they told us."""
    blocked = select(Citizen.line_user_id).where(Citizen.status == CitizenStatus.BLOCKED)
    query = (
        select(GarbagePreference.district, func.count())
        .where(GarbagePreference.line_user_id.not_in(blocked))
        .group_by(GarbagePreference.district)
        .order_by(GarbagePreference.district)
    )
    return {name: n for name, n in db_session.execute(query)}


# --- reading free text ---------------------------------------------------------------------------------

# Withdrawal and negation win over everything else in a clause (「防災の通知、もういらないです」).
_OFF = re.compile(
    r"(いらな|いらん|いりません|要らな|不要|やめ|止め|とめて|とめる|とめたい|停止|抜け|ぬけ|解除|退会|"
    r"取り消|とりけ|取消|結構|けっこうです|すとっぷ|おふに|おふで|はずし|外し|"
    r"ほしくな|欲しくな|たくな|らないで|しないで|こないで|来ないで|送らなくて|うけとらな|受け取らな|拒否)"
)
_ON = re.compile(
    r"(ほしい|欲しい|ほしか|欲しか|ください|下さい|登録|希望|再開|はじめ|始め|おんに|受け取|うけと|受けたい|"
    r"送って|届けて|知らせて|もらいたい|もらえ|入れて|追加|申し込|配信して|通知して|頼む|たのむ|お願い|おねがい)"
)
_ALL = re.compile(r"(全部|ぜんぶ|すべて|全て|総て|みんな|一切|いっさい|何も|なにも|全体|全ての|どれも)")
_ONLY = re.compile(r"(だけ|のみ)")
_EXCEPT = re.compile(r"以外")
_QUESTION = re.compile(r"(ますか|ですか|でしょうか|[?？])")
# Contrast splits a sentence into parts read one by one (「防災はほしいけど、子育てはいらない」).
_CLAUSES = re.compile(r"(?:けれども|けれど|けど|でも、|が、|。|\n)")


@dataclass(frozen=True)
class Reading:
    """What a citizen's words ask of their choices.

    `action`: "on" (these topics too), "off" (not these), "only" (exactly these), "all_off",
    "all_on", or "show" (direction or topics unclear: show the toggles). `changes` holds, for
    sentences with contrast, each part's own (action, keys)."""

    action: str
    keys: frozenset[str] = frozenset()
    changes: tuple[tuple[str, frozenset[str]], ...] = ()


def _fold(text: str) -> str:
    return to_hiragana(normalise(text)).replace(" ", "")


def topic_words(topics: list[Topic]) -> list[tuple[str, str]]:
    """(folded word, topic key), longest first: a topic's name, its parts (健康・検診) and keywords."""
    pairs: dict[str, str] = {}
    for topic in topics:
        names = [topic.name, *re.split(r"[・/／、,]", topic.name), *(topic.keywords or [])]
        for word in names:
            folded = _fold(word)
            if len(folded) >= 2 or (folded and not folded.isascii()):
                pairs.setdefault(folded, topic.key)
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def _topics_in(text: str, words: list[tuple[str, str]]) -> set[str]:
    found: set[str] = set()
    for word, key in words:
        if word in text:
            found.add(key)
            text = text.replace(word, "■")  # a longer word is not matched again by its parts
    return found


def _direction(text: str) -> str | None:
    if _OFF.search(text):
        return "off"
    if _ON.search(text):
        return "on"
    return None


def read_text(text: str, topics: list[Topic]) -> Reading:
    """Reads 「防災の情報だけほしい」「子育てのお知らせはいらない」「配信停止」 against the active topics."""
    words = topic_words(topics)
    folded = _fold(text)
    if _QUESTION.search(folded):  # 「いつでも止められますか」 asks; it does not choose
        return Reading("show")
    every = frozenset(t.key for t in topics)
    parts = [p for p in _CLAUSES.split(folded) if p.strip()] or [folded]
    changes: list[tuple[str, frozenset[str]]] = []
    carried: set[str] = set()  # topics named in a part with no verb (「防災の通知、もういらない」 is one part)
    for part in parts:
        keys = _topics_in(part, words) | carried
        direction = _direction(part)
        if direction is None:
            carried = keys
            continue
        carried = set()
        if not keys:
            if direction == "off":
                changes.append(("all_off", every))
            elif _ALL.search(part):
                changes.append(("all_on", every))
            else:
                changes.append(("show", frozenset()))
            continue
        if _EXCEPT.search(part):
            # 「防災以外いらない」: only 防災; 「防災以外もほしい」: everything but 防災 added.
            action = "only" if direction == "off" else "on"
            changes.append((action, frozenset(keys) if direction == "off" else every - keys))
        elif direction == "on" and _ONLY.search(part):
            changes.append(("only", frozenset(keys)))
        else:
            changes.append((direction, frozenset(keys)))
    if carried and not changes:
        return Reading("show")
    if len(changes) == 1:
        return Reading(changes[0][0], changes[0][1])
    if not changes or any(action == "show" for action, _ in changes):
        return Reading("show")
    return Reading("mixed", changes=tuple(changes))


def apply_reading(*, db_session: Session, line_user_id: str, reading: Reading) -> Change:
    """Carries out what the words asked (nothing for "show")."""
    current = chosen_keys(db_session=db_session, line_user_id=line_user_id)
    wanted = set(current)
    steps = reading.changes or ((reading.action, reading.keys),)
    for action, keys in steps:
        if action in ("on", "all_on"):
            wanted |= keys
        elif action in ("off", "all_off"):
            wanted -= keys
        elif action == "only":
            wanted = set(keys)
    return set_exactly(db_session=db_session, line_user_id=line_user_id, topic_keys=wanted)


_DELIVERY = re.compile(r"(お知らせ|おしらせ|通知|配信|案内|情報|じょうほう|連絡|れんらく|登録|めーる|にゅーす|広報)")


def mentions_delivery(text: str) -> bool:
    """お知らせ, 通知, 配信, 案内, 情報, 連絡, 登録 …: words about receiving news (a cheap first look)."""
    return bool(_DELIVERY.search(_fold(text)))


def speaks_of_choices(text: str, topics: list[Topic]) -> bool:
    """Words about receiving news that say what to change (「子どもの情報もほしい」「登録やめたい」),
    whatever the NLU made of them."""
    return mentions_delivery(text) and read_text(text, topics).action != "show"


# --- the district (the garbage capability's) ---------------------------------------------------------


def district_choices(*, db_session: Session) -> list[str]:
    """The districts a citizen picks from: the garbage calendar's, or the city's districts."""
    return garbage_service.districts(db_session=db_session) or list(place_service.DISTRICTS)


def get_district(*, db_session: Session, line_user_id: str) -> str | None:
    return garbage_service.get_district(db_session=db_session, line_user_id=line_user_id)


def set_district(*, db_session: Session, line_user_id: str, district: str) -> bool:
    """Remembers the citizen's district for the whole bot; False for a district that is not ours."""
    if district not in district_choices(db_session=db_session):
        return False
    garbage_service.set_district(db_session=db_session, line_user_id=line_user_id, district=district)
    return True

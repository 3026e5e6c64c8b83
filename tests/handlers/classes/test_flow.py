"""スマホ教室 on LINE end to end through the sandbox (SQLite and PostgreSQL): the sessions in plain
words (by month and by venue), a signup to the QR code, a family member signed up under the same
LINE user, a full session's waitlist moving up by itself (promotion push, decline, the next one),
a lottery with a priority group, cancelling from 「マイスマホ教室」, someone else's signup, and the
day-before reminder sent once however the clock travels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot import clock
from bot.catalog import t
from bot.outbox import OutboxMessage
from handlers.classes import notify
from handlers.classes.models import Channel, Details, SessionCreate, Signup, SignupStatus, VenueIn
from handlers.classes.service import sessions, signups
from tests.handlers.classes.conftest import NOW
from tests.support import (
    LiveApp,
    button,
    fields,
    message_text,
    new_citizen,
    quick_replies,
    say_all,
    settled,
    tap_all,
    wait_until,
)

CHUO = VenueIn(name="中央公民館", address="岡山県瀬戸内市邑久町尾張465-1", latitude=34.663322, longitude=134.09375)
USHIMADO = VenueIn(
    name="牛窓町公民館", address="岡山県瀬戸内市牛窓町牛窓4910-1", latitude=34.620849, longitude=134.147079
)


@pytest.fixture
def cls_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(NOW)
    app.app.state.scheduler.pause()  # the tests run the jobs themselves
    yield app


def add_session(
    app: LiveApp,
    *,
    title: str = "はじめてのスマホ",
    day: datetime = NOW + timedelta(days=14),
    venue: VenueIn = CHUO,
    capacity: int = 10,
    **extra: Any,
) -> int:
    starts = day.replace(hour=10, minute=0)
    with app.db.session() as db_session:
        session = sessions.create(
            db_session=db_session,
            session_in=SessionCreate(
                title=title,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=90),
                venue=venue,
                capacity=capacity,
                bring="スマートフォン",
                phones=["iphone", "android"],
                **extra,
            ),
        )
        return session.id


def carousel_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    assert message["type"] == "flex" and message["contents"]["type"] == "carousel", message_text(message)
    return [b["action"] for bubble in message["contents"]["contents"] for b in bubble["footer"]["contents"]]


def bubble_button(message: dict[str, Any], index: int, label: str) -> dict[str, Any]:
    """A button of the carousel's bubble number `index`."""
    actions = [b["action"] for b in message["contents"]["contents"][index]["footer"]["contents"]]
    found = [a for a in actions if a["label"].startswith(label)]
    assert found, f"no button {label!r} in {[a['label'] for a in actions]}"
    return found[0]


def signup_button(message: dict[str, Any], session_id: int) -> dict[str, Any]:
    found = [a for a in carousel_buttons(message) if fields(a) == {"action": "cls_pick", "id": str(session_id)}]
    assert found, f"no 申し込む for session {session_id}"
    return found[0]


def shown_sessions(message: dict[str, Any]) -> list[int]:
    return [int(fields(a)["id"]) for a in carousel_buttons(message) if fields(a)["action"] == "cls_pick"]


def sign_up(
    app: LiveApp,
    user: str,
    session_id: int,
    *,
    who: str = "自分",
    name: str = "瀬戸内 花子",
    furigana: str = "せとうち はなこ",
    phone: str = "０９０－１２３４－５６７８",
    age: str = "75〜79歳",
) -> list[dict[str, Any]]:
    """The whole conversation from 「スマホ教室」; answers what the confirm button brought."""
    answer = say_all(app, user, "スマホ教室")
    answer = tap_all(app, user, signup_button(answer[-1], session_id)["data"])
    assert message_text(answer[-1]).endswith("どなたが参加されますか？")
    answer = tap_all(app, user, button(answer[-1], who)["data"])
    if who.endswith("さん"):  # someone signed up before: straight to the confirmation
        assert message_text(answer[-1]) == t("classes.confirm_alt")
        return tap_all(app, user, button(answer[-1], "この内容で申し込む")["data"])
    for typed in (name, furigana, phone):
        answer = say_all(app, user, typed)
    answer = tap_all(app, user, button(answer[-1], "iPhone")["data"])
    answer = tap_all(app, user, button(answer[-1], age)["data"])
    answer = tap_all(app, user, button(answer[-1], "耳が遠い")["data"])
    answer = tap_all(app, user, button(answer[-1], "以上です")["data"])
    assert message_text(answer[-1]) == t("classes.confirm_alt")
    return tap_all(app, user, button(answer[-1], "この内容で申し込む")["data"])


def all_signups(app: LiveApp, session_id: int) -> list[Signup]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(Signup).where(Signup.session_id == session_id).order_by(Signup.id)))


def pushes(app: LiveApp, prefix: str) -> list[OutboxMessage]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.purpose.startswith(prefix))))


def delivered_texts(app: LiveApp, user: str) -> list[str]:
    return [message_text(m) for d in app.sandbox.deliveries(to=user) for m in d.messages]


def qr_token(messages: list[dict[str, Any]]) -> str:
    """The QR image of the card, fetched from the app as LINE would, decoded."""
    image = next(m for m in messages if m["type"] == "image")
    response = httpx.get(image["originalContentUrl"], timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    [decoded] = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))]
    return decoded


def test_a_citizen_signs_up_and_gets_a_qr_code(cls_app: LiveApp) -> None:
    app = cls_app
    session_id = add_session(app)
    user = new_citizen(app)
    answer = sign_up(app, user, session_id)
    card = answer[0]
    assert card["type"] == "flex"
    body = card["contents"]["body"]["contents"]
    assert body[0]["text"].startswith("瀬戸内 花子さんの参加が決まりました。")
    token = qr_token(answer)
    [signup] = all_signups(app, session_id)
    assert signup.status == SignupStatus.CONFIRMED and signup.channel == Channel.LINE
    assert signup.line_user_id == user
    with app.db.session() as db_session:
        found = signups.get_by_token(db_session=db_session, token=token)
        assert found is not None and found.id == signup.id
        details = signups.details_of(found, app.settings)
    assert details is not None
    assert (details.name, details.furigana, details.phone) == ("瀬戸内 花子", "セトウチ ハナコ", "09012345678")
    assert details.age_group == "75" and details.needs == ["hearing"] and details.phone_type == "iphone"
    # The conversation is over; マイスマホ教室 lists it with the QR code again.
    mine = say_all(app, user, "マイスマホ教室")
    assert message_text(mine[0]) == t("classes.mine_intro", count=1)
    again = tap_all(app, user, bubble_button(mine[-1], 0, "QRコード")["data"])
    assert qr_token(again) == token


def test_places_are_shown_in_plain_words_and_narrowed_by_month_and_venue(cls_app: LiveApp) -> None:
    app = cls_app
    december = add_session(app, day=NOW + timedelta(days=14), capacity=2)  # 12月8日
    january = add_session(app, title="LINEの使い方", day=NOW + timedelta(days=42), venue=USHIMADO)  # 1月5日
    user = new_citizen(app)
    answer = say_all(app, user, "スマホ教室")
    assert shown_sessions(answer[-1]) == [december, january]
    first = answer[-1]["contents"]["contents"][0]["body"]["contents"]
    row_texts = [c["contents"][1]["text"] for c in first if c.get("type") == "box"]
    assert "12月8日（火） 10:00〜11:30" in row_texts and "あと2人（定員2人）" in row_texts
    # Free text, as citizens write it.
    answer = say_all(app, user, "来月のスマホ教室はいつ？")
    assert shown_sessions(answer[-1]) == [december]
    answer = say_all(app, user, "牛窓でスマホの教室ある？")
    assert shown_sessions(answer[-1]) == [january]
    assert message_text(answer[0]).startswith("牛窓町公民館のスマホ教室です。")
    # The month buttons under the list.
    january_button = next(a for a in quick_replies(answer[-1]) if a["label"] == "1月")
    answer = tap_all(app, user, january_button["data"])
    assert shown_sessions(answer[-1]) == [january]
    answer = say_all(app, user, "3月のスマホ教室")
    assert message_text(answer[-1]).startswith("その条件のスマホ教室は、いまのところ予定がありません。")
    # Full: said so, and still open as a waitlist.
    for n in range(2):
        with app.db.session() as db_session:
            signups.create(
                db_session=db_session,
                session_id=december,
                details=Details(name=f"電話 太郎{n}", furigana="デンワ", phone=f"08611111{n}"),
                channel=Channel.PHONE,
                settings=app.settings,
            )
    answer = say_all(app, user, "スマホ教室")
    first = answer[-1]["contents"]["contents"][0]["body"]["contents"]
    assert "満席です（キャンセル待ち0人）。キャンセル待ちで申し込めます" in [
        c["contents"][1]["text"] for c in first if c.get("type") == "box"
    ]


def test_a_family_member_is_signed_up_and_remembered_under_the_same_line_user(cls_app: LiveApp) -> None:
    app = cls_app
    first, second = add_session(app), add_session(app, day=NOW + timedelta(days=21))
    son = new_citizen(app, "瀬戸内 一郎")
    sign_up(app, son, first, name="瀬戸内 一郎", furigana="せとうち いちろう", phone="090-1111-2222", age="59歳以下")
    answer = sign_up(
        app, son, first, who="家族など", name="瀬戸内 ハル", furigana="せとうち はる", phone="0869-22-0000"
    )
    assert message_text(answer[0]) == t("classes.card_alt", title="はじめてのスマホ", when="12月8日（火） 10:00〜11:30")
    rows = all_signups(app, first)
    assert [(s.channel, s.status, s.line_user_id) for s in rows] == [
        (Channel.LINE, SignupStatus.CONFIRMED, son),
        (Channel.FAMILY, SignupStatus.CONFIRMED, son),
    ]
    # Both are remembered: the next signup offers them by name, one tap each.
    answer = say_all(app, son, "スマホ教室")
    answer = tap_all(app, son, signup_button(answer[-1], second)["data"])
    labels = [a["label"] for a in quick_replies(answer[-1])]
    assert labels[:2] == ["瀬戸内 ハルさん", "瀬戸内 一郎さん"] or labels[:2] == ["瀬戸内 一郎さん", "瀬戸内 ハルさん"]
    tap_all(app, son, button(answer[-1], "やめる")["data"])
    sign_up(app, son, second, who="瀬戸内 ハルさん")
    [mother_second] = all_signups(app, second)
    details = signups.details_of(mother_second, app.settings)
    assert details is not None and details.name == "瀬戸内 ハル" and mother_second.channel == Channel.FAMILY
    # マイスマホ教室 lists the son's and his mother's signups.
    mine = say_all(app, son, "マイスマホ教室")
    assert message_text(mine[0]) == t("classes.mine_intro", count=3)
    # The mother cannot be booked twice into one session, whoever books her (her own LINE, here).
    mother = new_citizen(app, "瀬戸内 ハル")
    answer = sign_up(app, mother, first, name="瀬戸内 ハル", furigana="セトウチ ハル", phone="0869220000")
    assert message_text(answer[-1]).startswith("瀬戸内 ハルさんは、この教室にすでに申し込まれています。")
    assert len(all_signups(app, first)) == 2


def test_a_full_session_waitlists_and_moves_up_by_itself(cls_app: LiveApp) -> None:
    app = cls_app
    session_id = add_session(app, capacity=1)
    first, second, third = new_citizen(app), new_citizen(app), new_citizen(app)
    sign_up(app, first, session_id, name="一番 一子", furigana="いちばん")
    answer = sign_up(app, second, session_id, name="二番 二子", furigana="にばん", phone="090-2222-2222")
    assert message_text(answer[0]) == t("classes.card_alt", title="はじめてのスマホ", when="12月8日（火） 10:00〜11:30")
    lead = answer[0]["contents"]["body"]["contents"][0]["text"]
    assert lead.startswith("満席のため、二番 二子さんをキャンセル待ち（1番目）で受け付けました。")
    assert not any(m["type"] == "image" for m in answer)  # no QR code while waiting
    answer = sign_up(app, third, session_id, name="三番 三子", furigana="さんばん", phone="090-3333-3333")
    assert "キャンセル待ち（2番目）" in answer[0]["contents"]["body"]["contents"][0]["text"]
    # The first cancels from マイスマホ教室 (asked once more).
    mine = say_all(app, first, "マイスマホ教室")
    ask = tap_all(app, first, bubble_button(mine[-1], 0, "取り消す")["data"])
    assert message_text(ask[-1]).endswith("のお申し込みを取り消しますか？")
    done = tap_all(app, first, button(ask[-1], "取り消す")["data"])
    assert message_text(done[-1]) == t("classes.cancelled")
    # The second is promoted and told by push, with the QR code and 辞退する.
    wait_until(lambda: settled(app), what="the promotion delivered")
    promoted = [d for d in app.sandbox.deliveries(to=second) if d.endpoint == "push"]
    assert len(promoted) == 1
    card = promoted[0].messages[0]
    assert card["contents"]["body"]["contents"][0]["text"].startswith(
        "空きが出ましたので、二番 二子さんの参加が決まりました。"
    )
    assert any(m["type"] == "image" for m in promoted[0].messages)
    statuses = [s.status for s in all_signups(app, session_id)]
    assert statuses == [SignupStatus.CANCELLED, SignupStatus.CONFIRMED, SignupStatus.WAITLISTED]
    # The second declines: the third is promoted.
    ask = tap_all(app, second, button(card, "辞退する")["data"])
    assert message_text(ask[-1]).endswith("（次にお待ちの方に、お席をお譲りします）")
    done = tap_all(app, second, button(ask[-1], "辞退する")["data"])
    assert message_text(done[-1]) == t("classes.declined")
    wait_until(lambda: settled(app), what="the next promotion delivered")
    statuses = [s.status for s in all_signups(app, session_id)]
    assert statuses == [SignupStatus.CANCELLED, SignupStatus.CANCELLED, SignupStatus.CONFIRMED]
    assert [s.cancel_reason for s in all_signups(app, session_id)][:2] == ["citizen", "declined"]
    pushed = [d for d in app.sandbox.deliveries(to=third) if d.endpoint == "push"]
    assert (
        len(pushed) == 1
        and "三番 三子さんの参加が決まりました" in pushed[0].messages[0]["contents"]["body"]["contents"][0]["text"]
    )
    # Tapping the old 取り消す again changes nothing.
    again = tap_all(app, first, button(ask[-1], "辞退する")["data"])
    assert message_text(again[-1]) == t("classes.not_found")


def test_someone_elses_signup_cannot_be_seen_or_cancelled(cls_app: LiveApp) -> None:
    app = cls_app
    session_id = add_session(app)
    owner, stranger = new_citizen(app), new_citizen(app)
    sign_up(app, owner, session_id)
    [signup] = all_signups(app, session_id)
    for action in ("cls_show", "cls_cancel", "cls_cancel_yes", "cls_decline"):
        answer = tap_all(app, stranger, f"action={action}&id={signup.id}")
        assert message_text(answer[-1]) == t("classes.not_found")
    answer = tap_all(app, stranger, "action=cls_pick&id=999999")
    assert message_text(answer[-1]).startswith("申し訳ありません。この教室は、いまお申し込みを受け付けていません。")
    assert [s.status for s in all_signups(app, session_id)] == [SignupStatus.CONFIRMED]


def test_a_lottery_draws_the_priority_group_first_and_tells_everyone(cls_app: LiveApp) -> None:
    app = cls_app
    session_id = add_session(app, capacity=2, mode="lottery", priority_age=75, signup_deadline=NOW + timedelta(days=3))
    people = [
        ("若い 一", "わかい はじめ", "59歳以下"),
        ("年配 二", "ねんぱい じろう", "80歳以上"),
        ("若い 三", "わかい さぶろう", "65〜69歳"),
        ("年配 四", "ねんぱい しろう", "75〜79歳"),
    ]
    users = []
    for n, (name, furigana, age) in enumerate(people):
        user = new_citizen(app)
        users.append(user)
        answer = sign_up(
            app,
            user,
            session_id,
            name=name,
            furigana=furigana,
            phone=f"090-0000-000{n}",
            age=age,
        )
        assert "抽選のお申し込みを受け付けました。" in answer[0]["contents"]["body"]["contents"][0]["text"]
    assert {s.status for s in all_signups(app, session_id)} == {SignupStatus.APPLIED}
    assert notify.draw_due(db=app.db, settings=app.settings) == 0  # before the deadline
    clock.travel_to(NOW + timedelta(days=3, minutes=1))
    assert notify.draw_due(db=app.db, settings=app.settings) == 1
    assert notify.draw_due(db=app.db, settings=app.settings) == 0  # once
    rows = all_signups(app, session_id)
    by_status = {s.line_user_id: s.status for s in rows}
    assert by_status[users[1]] == by_status[users[3]] == SignupStatus.CONFIRMED  # 75+ first
    assert by_status[users[0]] == by_status[users[2]] == SignupStatus.WAITLISTED
    with app.db.session() as db_session:
        session = sessions.get(db_session=db_session, session_id=session_id)
        assert session is not None and session.draw_seed
        seed = session.draw_seed
    from handlers.classes.service import lottery

    order = lottery.draw_order(seed, [(s.id, s.priority) for s in rows])
    assert order == [s.id for s in sorted(rows, key=lambda s: s.draw_rank or 0)]  # reproducible from the seed
    wait_until(lambda: settled(app), what="the results delivered")
    for user in (users[1], users[3]):
        [won] = [d for d in app.sandbox.deliveries(to=user) if d.endpoint == "push"]
        assert "抽選の結果" in won.messages[0]["contents"]["body"]["contents"][0]["text"]
    for user in (users[0], users[2]):
        [lost] = [d for d in app.sandbox.deliveries(to=user) if d.endpoint == "push"]
        assert "キャンセル待ち" in lost.messages[0]["text"]


def test_the_reminder_goes_out_once_even_when_the_clock_travels_past_it_twice(cls_app: LiveApp) -> None:
    app = cls_app
    session_id = add_session(app, day=NOW + timedelta(days=2))  # Thursday 26th, 10:00
    kept, cancelled = new_citizen(app), new_citizen(app)
    sign_up(app, kept, session_id)
    sign_up(app, cancelled, session_id, name="取消 花子", furigana="とりけし", phone="090-9999-9999")
    mine = say_all(app, cancelled, "マイスマホ教室")
    ask = tap_all(app, cancelled, bubble_button(mine[-1], 0, "取り消す")["data"])
    tap_all(app, cancelled, button(ask[-1], "取り消す")["data"])
    before = len(app.sandbox.deliveries(to=kept))
    evening = datetime(2026, 11, 25, 18, 1, tzinfo=clock.TOKYO)
    clock.travel_to(evening - timedelta(minutes=2))
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    clock.travel_to(evening)
    assert notify.send_due(db=app.db, settings=app.settings) == 1
    clock.travel_to(NOW)  # back, and past it again
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    clock.travel_to(evening + timedelta(hours=2))
    assert notify.send_due(db=app.db, settings=app.settings) == 0
    wait_until(lambda: settled(app), what="the reminder delivered")
    assert len(pushes(app, "class_reminder:")) == 1
    reminder = app.sandbox.deliveries(to=kept)[before:]
    assert len(reminder) == 1 and reminder[0].endpoint == "push"
    text = reminder[0].messages[0]["text"]
    assert text.startswith("明日はスマホ教室の日です。") and "11月26日（木） 10:00〜11:30" in text
    assert all(d.endpoint != "push" for d in app.sandbox.deliveries(to=cancelled))


def test_back_quit_wrong_answers_and_a_new_request_midway(cls_app: LiveApp) -> None:
    app = cls_app
    session_id = add_session(app)
    user = new_citizen(app)
    answer = say_all(app, user, "スマホ教室に申し込みたい")
    assert message_text(answer[0]).startswith("スマホ教室のお申し込みですね。")
    answer = tap_all(app, user, signup_button(answer[-1], session_id)["data"])
    answer = tap_all(app, user, button(answer[-1], "家族など")["data"])
    assert message_text(answer[-1]) == t("classes.ask_name_other")
    answer = say_all(app, user, "瀬戸内 ハル")
    answer = say_all(app, user, "せとうち２")  # digits are not furigana: asked again, kindly
    assert message_text(answer[-1]).startswith(t("classes.invalid_furigana"))
    answer = say_all(app, user, "戻る")  # back to the name
    assert message_text(answer[-1]) == t("classes.ask_name_other")
    answer = say_all(app, user, "瀬戸内 ハル")
    answer = say_all(app, user, "セトウチ ハル")
    answer = say_all(app, user, "電話はないです")
    assert message_text(answer[-1]).startswith(t("classes.invalid_phone"))
    # A new request midway is not taken for an answer: it starts over.
    answer = say_all(app, user, "スマホ教室の日程を教えて")
    assert shown_sessions(answer[-1]) == [session_id]
    answer = tap_all(app, user, signup_button(answer[-1], session_id)["data"])
    answer = tap_all(app, user, button(answer[-1], "やめる")["data"])
    assert message_text(answer[-1]) == t("classes.quit_done")
    assert all_signups(app, session_id) == []
    # A confirm button from an old card, or someone else's, signs nobody up.
    answer = tap_all(app, user, "action=cls_confirm&k=not-a-key")
    assert message_text(answer[-1]).startswith("この申し込みボタンは、有効期限が切れています。")
    assert all_signups(app, session_id) == []

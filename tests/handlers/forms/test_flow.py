"""申請・通報 end to end through the LINE sandbox (SQLite and PostgreSQL): signed webhook events in,
what the bot sent checked. Every demo form answered; a wildlife report with a photo (content served
by the sandbox) and a location, and with a 大字 instead; an optional photo skipped; branching;
戻る and やめる; a form published anew mid-conversation; status pushes; a letter through the whole
approval chain; and bad input (oversized or non-image photos, unknown postbacks, someone else's card)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.models import Actor, StaffRole
from bot import clock
from bot.catalog import t
from bot.line_client import LineClient
from handlers.faq import service as faq_service
from handlers.forms import answers as form_answers
from handlers.forms import flows as form_flows
from handlers.forms import jobs
from handlers.forms import service as forms_service
from handlers.forms.definition import FormDefinition
from handlers.forms.models import CaseEventKind, Photo, PhotoStatus, Submission
from handlers.gis.models import Place
from handlers.gis.service import places
from handlers.gis.service import seed as gis_seed
from nlu.dates import kanji_number
from tests.support import (
    LiveApp,
    fields,
    live_app,
    message_text,
    new_citizen,
    post_webhook,
    quick_replies,
    say,
    send_location_all,
    settled,
    tap,
    wait_until,
)

# Thursday 3 December 2026, 10:00 in Tokyo.
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=clock.TOKYO)
CLERK = Actor(id=None, name="農林 太郎", role=StaffRole.COUNTER, via="cli")
EDITOR = Actor(id=None, name="広報 花子", role=StaffRole.COUNTER, via="cli")
APPROVER = Actor(id=None, name="秘書 次郎", role=StaffRole.COUNTER, via="cli")


@pytest.fixture
def forms_app(database_url: str) -> Iterator[LiveApp]:
    clock.travel_to(NOW)
    with live_app(database_url) as running:
        with running.db.session() as db_session:
            forms_service.seed(db_session=db_session)
        yield running


def labels(message: dict[str, Any]) -> list[str]:
    return [action["label"] for action in quick_replies(message)]


def submissions(app: LiveApp, user: str | None = None) -> list[Submission]:
    with app.db.session() as db_session:
        query = select(Submission).order_by(Submission.id)
        if user is not None:
            query = query.where(Submission.line_user_id == user)
        return list(db_session.scalars(query))


def card_nonce(message: dict[str, Any]) -> str:
    assert message["type"] == "flex", message
    footer = message["contents"]["footer"]["contents"]
    return fields(footer[0]["action"])["n"]


def send_card(app: LiveApp, user: str, card: dict[str, Any]) -> str:
    """Taps 送信する; answers the 受付番号 the bot gives."""
    answer = tap(app, user, f"action=form_send&n={card_nonce(card)}")
    text = message_text(answer)
    assert "受付番号：" in text, text
    return text.split("受付番号：")[1].split("\n")[0]


def answers_of(app: LiveApp, submission: Submission) -> dict[str, str]:
    return forms_service.answers_of(submission, app.settings)


def town_point(name: str) -> tuple[float, float]:
    return places.towns()[name]


def fetch_photos(app: LiveApp) -> int:
    async def run() -> int:
        client = LineClient(app.settings)
        try:
            return await jobs.fetch_photos_now(db=app.db, settings=app.settings, client=client)
        finally:
            await client.close()

    return asyncio.run(run())


def send_image(app: LiveApp, user: str, content: tuple[bytes, str] | None = None) -> list[dict[str, Any]]:
    before = len(app.sandbox.deliveries(to=user))
    event = app.sandbox.make_event("image", user, **({"content": content} if content else {}))
    assert post_webhook(app, [event]).status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user)[before:], what="the answer to the photo")
    wait_until(lambda: settled(app), what="settled")
    return [m for d in app.sandbox.deliveries(to=user)[before:] for m in d.messages]


def jpeg(side: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def pushes_to(app: LiveApp, user: str) -> list[str]:
    return [message_text(m) for d in app.sandbox.deliveries(to=user) if d.endpoint == "push" for m in d.messages]


# --- the wildlife report -----------------------------------------------------------------------------


def test_a_wildlife_report_with_a_photo_and_a_location(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    first = say(app, user, "イノシシが畑に出た")
    # The message named the animal: the first question is answered already, the photo is next.
    assert "有害鳥獣の目撃・捕獲報告" in message_text(first) and "写真" in message_text(first)
    assert {"カメラで撮る", "写真を選ぶ", "写真なしで進む", "戻る", "やめる"} <= set(labels(first))
    camera = [a["type"] for a in quick_replies(first)]
    assert "camera" in camera and "cameraRoll" in camera
    more = send_image(app, user, (jpeg(), "image/jpeg"))[-1]
    assert "1枚" in message_text(more) and "これで完了" in labels(more)
    place = tap(app, user, "action=form_done")
    assert "場所" in message_text(place) and next(a["type"] for a in quick_replies(place)) == "location"
    lat, lng = town_point("牛窓町鹿忍")
    when = send_location_all(app, user, lat, lng, title="畑")[-1]
    assert "いつ" in message_text(when)
    assert "【5/" in message_text(say(app, user, "昨日"))
    say(app, user, "1頭")  # no count asked for one animal
    damage = say(app, user, "まだです")
    assert "被害" in message_text(damage)
    card = say(app, user, "さつまいもを掘り返された")
    assert card["type"] == "flex"
    hero = card["contents"]["hero"]["contents"]
    assert len(hero) == 1 and hero[0]["url"].startswith(f"{app.settings.public_base_url}/media/forms/")
    receipt = send_card(app, user, card)

    [case] = submissions(app, user)
    assert case.receipt_no == receipt and case.status == "受付" and case.department == "農林水産課"
    assert answers_of(app, case) == {
        "animal": "イノシシ",
        "photo": "写真1枚",
        "place": "畑",
        "seen_on": "2026-12-02",
        "group": "1頭",
        "captured": "いいえ",
        "damage": "さつまいもを掘り返された",
    }
    assert (case.place_lat, case.place_lng) == (pytest.approx(lat), pytest.approx(lng))
    # The photo is fetched from LINE's content endpoint (the sandbox serves what was sent), checked and kept.
    assert fetch_photos(app) == 1
    with app.db.session() as db_session:
        [photo] = forms_service.photos_of(db_session=db_session, submission=case)
        assert photo.status == PhotoStatus.STORED and photo.line_message_id is None
        stored = forms_service.photo_bytes(photo, app.settings)
        token = photo.token
    assert stored is not None and Image.open(io.BytesIO(stored)).size == (64, 64)
    import httpx

    preview = httpx.get(f"{app.base_url}/media/forms/{token}.jpg")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert httpx.get(f"{app.base_url}/media/forms/{'x' * 32}.jpg").status_code == 404


def test_a_place_can_be_a_typed_town_or_a_district_button_and_the_photo_skipped(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    say(app, user, "サルを見ました")
    assert "場所" in message_text(tap(app, user, "action=form_skip"))  # 写真なしで進む
    unknown = say(app, user, "あっちの山のほう")
    assert message_text(unknown).startswith(t("forms.place_unknown"))
    assert "いつ" in message_text(say(app, user, "尻海"))  # a 大字 by its short name
    for text in ("12月1日", "群れ", "10", "はい"):
        say(app, user, text)
    card = tap(app, user, "action=form_skip")
    send_card(app, user, card)
    [case] = submissions(app, user)
    lat, lng = town_point("邑久町尻海")
    assert case.place_name == "邑久町尻海" and (case.place_lat, case.place_lng) == (lat, lng)
    answers = answers_of(app, case)
    assert answers["animal"] == "サル" and "photo" not in answers and answers["count"] == "10"

    other = new_citizen(app)
    say(app, other, "クマが出た")
    tap(app, other, "action=form_skip")
    assert "いつ" in message_text(tap(app, other, "action=form_area&d=牛窓"))
    for text in ("今日", "1頭", "いいえ"):
        say(app, other, text)
    send_card(app, other, tap(app, other, "action=form_skip"))
    [district_case] = submissions(app, other)
    assert district_case.place_name == "牛窓町（地区）"
    assert (district_case.place_lat, district_case.place_lng) == town_point("牛窓町牛窓")


def test_words_inside_words_and_questions_do_not_start_a_report(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    for text in ("熊本に旅行します", "イノシシの駆除に補助金はありますか？"):
        assert "有害鳥獣" not in message_text(say(app, user, text))
    assert submissions(app, user) == []
    started = say(app, user, "通学路のガードレールが壊れている")
    assert "道路・通学路の危険箇所" in message_text(started)
    assert "市長への手紙" in message_text(say(app, new_citizen(app), "市長に意見を伝えたい"))


# --- branching, 戻る and やめる -------------------------------------------------------------------------


def test_branching_and_going_back(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    say(app, user, "シカの目撃")
    tap(app, user, "action=form_skip")
    say(app, user, "尻海")
    say(app, user, "今日")
    assert "捕獲" in message_text(say(app, user, "1頭"))  # one animal: no count
    back = tap(app, user, "action=form_back")
    assert "1頭でしたか" in message_text(back)
    assert "何頭" in message_text(say(app, user, "群れ"))  # a herd: how many
    refused = say(app, user, "500")
    assert message_text(refused).startswith(t("forms.number_range", low=2, high=200))
    assert "捕獲" in message_text(say(app, user, "2"))
    say(app, user, "戻る")  # typed, too
    say(app, user, "戻る")
    say(app, user, "1頭")  # the count answered for the herd is dropped with the branch
    say(app, user, "いいえ")
    card = tap(app, user, "action=form_skip")
    send_card(app, user, card)
    [case] = submissions(app, user)
    answers = answers_of(app, case)
    assert answers["group"] == "1頭" and "count" not in answers


def test_quitting_keeps_nothing_and_the_first_question_has_no_back(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    first = tap(app, user, "action=form_start&k=road_hazard")
    assert "戻る" not in labels(first) and "やめる" in labels(first)
    say(app, user, "側溝のふた")
    say(app, user, "いいえ")
    say(app, user, "尻海")
    send_image(app, user)
    quit_answer = say(app, user, "やめる")
    assert message_text(quit_answer) == t("forms.quit")
    assert submissions(app, user) == []
    with app.db.session() as db_session:
        assert db_session.scalars(select(Photo).where(Photo.line_user_id == user)).all() == []
    # After quitting, the bot answers as usual (a postback of the old form is not a crash).
    assert tap(app, user, "action=form_skip")


def test_a_question_typed_at_a_question_is_not_taken_as_the_answer(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    tap(app, user, "action=form_start&k=kaigo_shinsei")
    aside = say(app, user, "介護保険料はいくらですか？")
    assert message_text(aside) == t("forms.aside", title="介護申請受付アンケート")
    assert "【1/" in message_text(tap(app, user, "action=form_resume"))
    assert "年齢" in message_text(say(app, user, "家族"))


# --- every demo form --------------------------------------------------------------------------------------


DEMO_ANSWERS: dict[str, list[str | None]] = {
    "ninpu_8m": ["2027年1月20日", "はい", "少し不安", None, "いいえ"],
    "kaigo_shinsei": ["本人", "82歳", "自宅", "入浴、歩くこと", "086-922-1111", "来週の月曜"],
    "road_hazard": ["カーブミラー", "はい", "長船町土師", None, "ミラーが割れて見えにくいです"],
}


@pytest.mark.parametrize("key", sorted(DEMO_ANSWERS))
def test_each_demo_form_can_be_answered_and_sent(forms_app: LiveApp, key: str) -> None:
    app = forms_app
    user = new_citizen(app)
    listed = tap(app, user, "action=intent&name=form_list")  # the menu's 申請・通報
    assert any(fields(a).get("k") == key for a in quick_replies(listed) if a["type"] == "postback")
    tap(app, user, f"action=form_start&k={key}")
    answer: dict[str, Any] = {}
    for value in DEMO_ANSWERS[key]:
        if value is None:
            answer = tap(app, user, "action=form_skip")
            continue
        if key == "ninpu_8m" and value == "少し不安":
            say(app, user, value)
            tap(app, user, "action=form_pick&c=0")
            tap(app, user, "action=form_pick&c=3")
            answer = tap(app, user, "action=form_done")
            continue
        answer = say(app, user, value)
    send_card(app, user, answer)
    [case] = submissions(app, user)
    with app.db.session() as db_session:
        version = forms_service.get_version(db_session=db_session, version_id=case.version_id)
        assert version is not None
        definition = forms_service.definition_of(version)
    stored = answers_of(app, case)
    if key == "ninpu_8m":
        assert stored["worries"] == "出産、お金" and "phone" not in stored and stored["due_date"] == "2027-01-20"
    if key == "kaigo_shinsei":
        assert stored["age"] == "82" and stored["needs"] == "入浴、歩くこと" and stored["phone"] == "0869221111"
        assert stored["contact_day"] == "2026-12-07"
        assert case.due_at is not None
    if key == "road_hazard":
        assert case.place_name == "長船町土師" and stored["school_route"] == "はい"
    assert set(stored) <= {q.key for q in definition.questions}


# --- versions --------------------------------------------------------------------------------------------


def test_a_form_published_anew_mid_conversation_keeps_the_old_questions_for_that_citizen(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    tap(app, user, "action=form_start&k=road_hazard")
    assert "通学路ですか" in message_text(say(app, user, "街灯"))
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key="road_hazard")
        assert form is not None
        current = forms_service.current_version(db_session=db_session, form=form)
        assert current is not None
        changed = forms_service.definition_of(current).model_dump()
        changed["questions"][1]["text"] = "そこは子どもが通る道ですか？"
        changed["questions"] = [q for q in changed["questions"] if q["key"] != "photo"]
        form_flows.publish(
            db_session=db_session, key="road_hazard", definition=FormDefinition.model_validate(changed), actor=CLERK
        )
    say(app, user, "いいえ")
    assert "写真" in message_text(say(app, user, "尻海"))  # the old version still asks for a photo
    tap(app, user, "action=form_skip")
    send_card(app, user, say(app, user, "電柱の街灯が消えています"))
    newcomer = new_citizen(app)
    tap(app, newcomer, "action=form_start&k=road_hazard")
    assert "子どもが通る道" in message_text(say(app, newcomer, "街灯"))
    say(app, newcomer, "はい")
    assert "様子" in message_text(say(app, newcomer, "尻海"))  # no photo question in the new version
    [case] = submissions(app, user)
    with app.db.session() as db_session:
        versions = forms_service.versions_of(db_session=db_session, form=form)
    assert [v.number for v in versions] == [2, 1]
    assert case.version_id == versions[1].id


# --- statuses, replies and the letter ----------------------------------------------------------------------


def open_case(db_session: Session, case_id: int) -> tuple[Submission, FormDefinition]:
    """The case and the definition of the version it answered, in this transaction."""
    case = forms_service.get_submission(db_session=db_session, submission_id=case_id)
    assert case is not None
    version = forms_service.get_version(db_session=db_session, version_id=case.version_id)
    assert version is not None
    return case, forms_service.definition_of(version)


def submit_wildlife(app: LiveApp, user: str) -> Submission:
    say(app, user, "ハクビシンが屋根裏にいる")
    tap(app, user, "action=form_skip")
    say(app, user, "尻海")
    say(app, user, "今日")
    say(app, user, "1頭")
    say(app, user, "いいえ")
    send_card(app, user, tap(app, user, "action=form_skip"))
    return submissions(app, user)[-1]


def test_status_changes_are_pushed_and_listed_in_my_submissions(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    case = submit_wildlife(app, user)
    with app.db.session() as db_session:
        found, definition = open_case(db_session, case.id)
        told = form_flows.change_status(
            db_session=db_session,
            settings=app.settings,
            submission=found,
            definition=definition,
            status="確認中",
            message="明日、職員が現地を確認します。",
            actor=CLERK,
        )
        assert told
        with pytest.raises(forms_service.FormError):
            form_flows.change_status(
                db_session=db_session,
                settings=app.settings,
                submission=found,
                definition=definition,
                status="却下",
                message=None,
                actor=CLERK,
            )
    pushed = wait_until(lambda: pushes_to(app, user), what="the status push")
    assert f"受付番号 {case.receipt_no}" in pushed[-1] and "「確認中」" in pushed[-1]
    assert "明日、職員が現地を確認します。" in pushed[-1]
    mine = say(app, user, "私の申請・通報")
    assert case.receipt_no in message_text(mine) and "確認中" in message_text(mine)
    assert [fields(a)["r"] for a in quick_replies(mine)] == [case.receipt_no]
    detail = tap(app, user, f"action=form_case&r={case.receipt_no}")
    shown = str(detail["contents"])
    assert detail["type"] == "flex" and "確認中" in shown and "明日、職員が現地を確認します。" in shown
    other = new_citizen(app)
    assert message_text(say(app, other, "私の申請・通報")) == t("forms.mine_none")
    # Someone else's 受付番号 in a postback (guessed, forwarded): not found, and nothing about it.
    for receipt in (case.receipt_no, "2612-99999", "'; DROP TABLE", ""):
        refused = tap(app, other, f"action=form_case&r={receipt}")
        assert message_text(refused) == t("forms.case_not_found")


def test_a_staff_reply_goes_through_the_inbox_thread_and_the_answer_comes_back(forms_app: LiveApp) -> None:
    from handlers.handoff import service as handoff_service

    app = forms_app
    user = new_citizen(app)
    case = submit_wildlife(app, user)
    with app.db.session() as db_session:
        found, definition = open_case(db_session, case.id)
        thread_id = form_flows.reply(
            db_session=db_session,
            settings=app.settings,
            submission=found,
            definition=definition,
            text="屋根裏の入口はどのあたりですか？",
            actor=CLERK,
        )
    pushed = wait_until(lambda: pushes_to(app, user), what="the reply")
    assert "屋根裏の入口はどのあたりですか？" in pushed[-1] and case.receipt_no in pushed[-1]
    # The citizen answers in the chat: the bot stays quiet (staff are on it) and the words go to the thread.
    assert post_webhook(app, [app.sandbox.make_event("text", user, text="北側の軒下です")]).status_code == 200
    wait_until(lambda: settled(app), what="the answer processed")
    with app.db.session() as db_session:
        thread = handoff_service.get(db_session=db_session, handoff_request_id=thread_id)
        assert thread is not None and thread.source == "form"
        words = [
            handoff_service.text_of(m, app.settings)
            for m in handoff_service.messages_of(db_session=db_session, request=thread)
        ]
    assert "北側の軒下です" in words


def write_letter(app: LiveApp, user: str, *, named: bool) -> tuple[dict[str, Any], Submission]:
    say(app, user, "市長への手紙を書きたい")
    say(app, user, "公園の遊具について")
    say(app, user, "錦海の公園の遊具が古くなっています。\n\n子どもが安心して遊べるよう、点検をお願いします。")
    if named:
        say(app, user, "はい")
        say(app, user, "瀬戸内 花子")
        card = tap(app, user, "action=form_skip")
    else:
        card = say(app, user, "いいえ")
    send_card(app, user, card)
    return card, submissions(app, user)[-1]


def test_a_letter_goes_through_the_whole_approval_chain(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    _card, case = write_letter(app, user, named=True)
    assert case.department == "秘書広報課" and not case.anonymous
    assert "\n\n子どもが" in answers_of(app, case)["body"]  # paragraphs kept
    with app.db.session() as db_session:
        letter, definition = open_case(db_session, case.id)
        routed = form_flows.route(
            db_session=db_session,
            settings=app.settings,
            submission=letter,
            definition=definition,
            departments=["建設課", "教育総務課"],
            actor=EDITOR,
        )
        assert routed == ["建設課", "教育総務課"]
        for department in routed:
            form_flows.save_draft(
                db_session=db_session,
                settings=app.settings,
                submission=letter,
                department=department,
                text=f"{department}の回答案です。",
                actor=CLERK,
            )
        answer = "遊具は来年度に点検し、古いものは取り替えます。貴重なご意見をありがとうございました。"
        form_flows.save_answer(
            db_session=db_session, settings=app.settings, submission=letter, text=answer, actor=EDITOR
        )
        with pytest.raises(forms_service.FormError, match="承認"):
            form_flows.approve(
                db_session=db_session, settings=app.settings, submission=letter, definition=definition, actor=EDITOR
            )
    with app.db.session() as db_session:
        letter = forms_service.get_submission(db_session=db_session, submission_id=case.id)
        assert letter is not None and letter.approved_at is None
        assert form_flows.approve(
            db_session=db_session, settings=app.settings, submission=letter, definition=definition, actor=APPROVER
        )
        kinds = [e.kind for e in forms_service.events_of(db_session=db_session, submission=letter)]
        assert letter.status == "完了" and letter.closed_at is not None and letter.approved_by == APPROVER.name
    assert kinds[:1] == [CaseEventKind.SUBMITTED]
    assert kinds.count(CaseEventKind.ROUTED) == 2 and kinds.count(CaseEventKind.DRAFT) == 2
    assert {CaseEventKind.REVISED, CaseEventKind.APPROVED, CaseEventKind.ANSWER_SENT} <= set(kinds)
    pushed = wait_until(lambda: pushes_to(app, user), what="the answer")
    assert answer in pushed[-1] and case.receipt_no in pushed[-1]


def test_an_anonymous_letter_cannot_be_replied_to_and_pushes_nothing(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    card, case = write_letter(app, user, named=False)
    assert t("forms.confirm_anonymous") in str(card)
    assert case.anonymous
    with app.db.session() as db_session:
        letter, definition = open_case(db_session, case.id)
        with pytest.raises(forms_service.FormError):
            form_flows.reply(
                db_session=db_session,
                settings=app.settings,
                submission=letter,
                definition=definition,
                text="ご意見ありがとうございます。",
                actor=CLERK,
            )
        told = form_flows.change_status(
            db_session=db_session,
            settings=app.settings,
            submission=letter,
            definition=definition,
            status="対応中",
            message=None,
            actor=CLERK,
        )
    assert told is False
    wait_until(lambda: settled(app), what="settled")
    assert pushes_to(app, user) == []


# --- bad input -----------------------------------------------------------------------------------------


def test_photos_that_are_too_large_or_not_images_are_refused_and_the_case_says_so(database_url: str) -> None:
    clock.travel_to(NOW)
    with live_app(database_url, forms_max_photo_bytes=4096) as app:
        with app.db.session() as db_session:
            forms_service.seed(db_session=db_session)
        user = new_citizen(app)
        say(app, user, "アライグマが出た")
        send_image(app, user, (jpeg(side=900), "image/jpeg"))  # noise-free but still > 4 KB
        send_image(app, user, (b"%PDF-1.4 not an image", "image/jpeg"))
        send_image(app, user, (jpeg(side=16), "image/jpeg"))  # three: the photo question is done
        for text in ("尻海", "今日", "1頭", "いいえ"):
            say(app, user, text)
        send_card(app, user, tap(app, user, "action=form_skip"))
        assert fetch_photos(app) == 1
        [case] = submissions(app, user)
        with app.db.session() as db_session:
            photos = forms_service.photos_of(db_session=db_session, submission=case)
        assert [p.status for p in photos] == [PhotoStatus.REFUSED, PhotoStatus.REFUSED, PhotoStatus.STORED]
        assert "大きすぎ" in (photos[0].error or "") and "画像として読み込めません" in (photos[1].error or "")
        assert photos[0].data_enc is None and photos[1].data_enc is None


def test_unknown_postbacks_and_someone_elses_card_get_a_clear_answer(forms_app: LiveApp) -> None:
    app = forms_app
    owner, stranger = new_citizen(app), new_citizen(app)
    tap(app, owner, "action=form_start&k=mayor_letter")
    say(app, owner, "道路について")
    say(app, owner, "歩道を広げてください")
    card = say(app, owner, "いいえ")
    nonce = card_nonce(card)
    # The stranger taps the owner's card (a forwarded screenshot, a forged postback): nothing is sent.
    assert message_text(tap(app, stranger, f"action=form_send&n={nonce}")) == t("forms.expired_card")
    assert message_text(tap(app, stranger, "action=form_start&k=no_such_form")) == t("forms.unknown_form")
    assert submissions(app) == []
    receipt = send_card(app, owner, card)
    # A second tap on the same card answers the same 受付番号; the stranger still gets nothing.
    assert receipt in message_text(tap(app, owner, f"action=form_send&n={nonce}"))
    assert receipt not in message_text(tap(app, stranger, f"action=form_send&n={nonce}"))
    assert len(submissions(app)) == 1
    # A malformed pick while answering is asked again, not a crash.
    tap(app, owner, "action=form_start&k=ninpu_8m")
    say(app, owner, "2027年1月20日")
    say(app, owner, "はい")
    say(app, owner, "ふつう")
    again = tap(app, owner, "action=form_pick&c=99")
    assert "心配なこと" in message_text(again)


def test_answers_are_read_like_the_booking_form_reads_them() -> None:
    """The question kinds' readers (the booking form's cleaners), including refusals with reasons."""
    definition = FormDefinition.model_validate(
        {
            "title": "テスト",
            "questions": [
                {"key": "n", "kind": "number", "text": "何頭？", "minimum": 1, "maximum": 10},
                {"key": "d", "kind": "date", "text": "いつ？", "dates": "past"},
                {"key": "m", "kind": "multiple_choice", "text": "どれ？", "choices": ["A", "B", "C"]},
                {"key": "y", "kind": "yes_no", "text": "はい？"},
                {"key": "p", "kind": "phone", "text": "電話？"},
            ],
        }
    )
    today = NOW.date()
    n, d, m, y, p = definition.questions
    assert form_answers.read(n, "３頭", today=today) == "3"
    for typed, number in (("八頭", "8"), ("十", "10"), ("約5頭くらいです", "5"), ("だいたい７匹", "7")):
        assert form_answers.read(n, typed, today=today) == number, typed
    assert [kanji_number(k) for k in ("八十二", "百五", "二〇二六", "千", "二三十", "十二")] == [
        82,
        105,
        2026,
        1000,
        None,
        12,
    ]
    assert form_answers.read(d, "令和8年12月1日", today=today) == "2026-12-01"
    assert form_answers.read(d, "12月25日", today=today) == "2025-12-25"  # a sighting: the last 25 December
    assert form_answers.read(d, "おととい", today=today) == "2026-12-01"
    # A time of day after the date (a sighting is told so): the date is what is asked.
    for typed, day in (
        ("きのうの夕方", "2026-12-02"),
        ("昨日の朝7時ごろ", "2026-12-02"),
        ("12月1日の夜", "2026-12-01"),
        ("11月30日午後3時半", "2026-11-30"),
        ("今朝", "2026-12-03"),
        ("先週の金曜の晩です", "2026-11-27"),
    ):
        assert form_answers.read(d, typed, today=today) == day, typed
    assert form_answers.read(m, "C、A", today=today) == "A、C"
    assert form_answers.read(y, "ありません", today=today) == "いいえ"
    assert form_answers.read(p, "０９０ー１２３４ー５６７８", today=today) == "09012345678"
    for question, text, reason in ((n, "11", "out_of_range"), (d, "2027年1月5日", "out_of_range"), (m, "D", "invalid")):
        with pytest.raises(form_answers.InvalidAnswer) as refused:
            form_answers.read(question, text, today=today)
        assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("道路に穴があいています", "道路・通学路の危険箇所"),
        ("カーブミラーが曲がってる", "道路・通学路の危険箇所"),
        ("市長さんに手紙を出したい", "市長への手紙"),
        ("サルが出ました", "有害鳥獣の目撃・捕獲報告"),
    ],
)
def test_reports_in_other_words_start_their_form(forms_app: LiveApp, text: str, title: str) -> None:
    assert title in message_text(say(forms_app, new_citizen(forms_app), text))


def test_asking_to_report_shows_the_forms_and_naming_what_starts_it(forms_app: LiveApp) -> None:
    """The NLU's form_list: 「通報したい」 (once read as joining the news) lists the forms; with a
    form's start word the form itself starts."""
    app = forms_app
    for text in ("ちょっと通報したいんですけど", "アンケートに答えたいです"):
        listing = say(app, new_citizen(app), text)
        assert message_text(listing).startswith(t("forms.list")), text
        assert {"有害鳥獣の目撃・捕獲報告", "市長への手紙", "私の申請・通報"} <= set(labels(listing))
    started = say(app, new_citizen(app), "イノシシを通報したい")
    assert "「有害鳥獣の目撃・捕獲報告」を受け付けます" in message_text(started)


def offers(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons under a FAQ answer that start a form."""
    return [a for a in quick_replies(message) if fields(a).get("action") == "form_start"]


def test_a_faq_answer_a_form_names_offers_the_form(forms_app: LiveApp) -> None:
    """The NLU's faq/<id> leads to the form: a question about wildlife is answered, with a button to report."""
    app = forms_app
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
    user = new_citizen(app)
    answer = say(app, user, "畑をイノシシに荒らされたら、どこに相談したらいいんですか？")
    assert "農林水産" in message_text(answer)
    [offer] = offers(answer)
    assert offer["label"] == "LINEで報告する" and offer["displayText"] == "有害鳥獣の目撃・捕獲報告"
    assert "有害鳥獣の目撃・捕獲報告" in message_text(tap(app, user, offer["data"]))
    # The letter's entry offers the letter; an entry no form names offers nothing.
    letter = say(app, new_citizen(app), "市政について提案したいことがあるのですが、どうすればいいですか？")
    assert [o["label"] for o in offers(letter)] == ["LINEで送る"]
    library = say(app, new_citizen(app), "図書館のカードはどうやって作れますか？")
    assert "図書館" in message_text(library) and offers(library) == []
    # A form staff stopped is not offered.
    with app.db.session() as db_session:
        form = forms_service.get_form(db_session=db_session, key="wildlife")
        assert form is not None
        form_flows.set_active(db_session=db_session, form=form, active=False, actor=CLERK)
    stopped = say(app, new_citizen(app), "畑をイノシシに荒らされたら、どこに相談したらいいんですか？")
    assert "農林水産" in message_text(stopped) and offers(stopped) == []


@pytest.mark.parametrize(
    ("text", "animal"),
    [("さっき裏の畑にいのししがおったよ", "イノシシ"), ("猿が屋根の上におる", "サル"), ("鹿を見ました", "シカ")],
)
def test_an_animal_named_in_hiragana_or_kanji_answers_the_first_question(
    forms_app: LiveApp, text: str, animal: str
) -> None:
    app = forms_app
    user = new_citizen(app)
    first = say(app, user, text)
    assert "写真" in message_text(first) and "どの動物" not in message_text(first)
    tap(app, user, "action=form_skip")
    say(app, user, "尻海")
    for answer in ("今日", "1頭", "いいえ"):
        say(app, user, answer)
    send_card(app, user, tap(app, user, "action=form_skip"))
    [case] = submissions(app, user)
    assert answers_of(app, case)["animal"] == animal


def test_a_place_told_by_a_landmark_or_in_more_words_than_a_name(forms_app: LiveApp) -> None:
    """Without GPS: a landmark of the city's own (a school on the shelter list) is its point; words
    that say more than a 大字 or district go with the answer; a bare name adds nothing."""
    app = forms_app
    with app.db.session() as db_session:
        gis_seed.seed(db_session=db_session)
        school = db_session.scalars(select(Place).where(Place.name == "邑久小学校")).first()
        assert school is not None
        point = (school.lat, school.lon)
    for typed, place_name, answer in (
        ("邑久小学校の前の田んぼ", "邑久小学校付近", "邑久小学校付近：邑久小学校の前の田んぼ"),
        ("牛窓の港の近く", "牛窓町（地区）", "牛窓町（地区）：牛窓の港の近く"),
        ("尻海のあたり", "邑久町尻海", "邑久町尻海"),
    ):
        user = new_citizen(app)
        say(app, user, "シカを見た")
        tap(app, user, "action=form_skip")
        assert "いつ" in message_text(say(app, user, typed)), typed
        for text in ("今日", "1頭", "いいえ"):
            say(app, user, text)
        send_card(app, user, tap(app, user, "action=form_skip"))
        [case] = submissions(app, user)
        assert case.place_name == place_name and answers_of(app, case)["place"] == answer, typed
        if typed.startswith("邑久小学校"):
            assert (case.place_lat, case.place_lng) == point


def test_line_failing_to_serve_a_photo_is_tried_again_and_then_given_up(forms_app: LiveApp) -> None:
    app = forms_app
    user = new_citizen(app)
    say(app, user, "イノシシが出た")
    send_image(app, user, (jpeg(), "image/jpeg"))
    tap(app, user, "action=form_done")
    for text in ("尻海", "今日", "1頭", "いいえ"):
        say(app, user, text)
    send_card(app, user, tap(app, user, "action=form_skip"))
    [case] = submissions(app, user)
    # LINE answers 500 (the client retries a few times within one try), then 429: nothing is lost.
    app.sandbox.inject_fault("content", 500, count=4)  # one try: the call and its three retries
    assert fetch_photos(app) == 0
    with app.db.session() as db_session:
        [photo] = forms_service.photos_of(db_session=db_session, submission=case)
        assert photo.status == PhotoStatus.PENDING and photo.fetch_attempts == 1
    app.sandbox.inject_fault("content", 429, count=4)
    assert fetch_photos(app) == 0
    assert fetch_photos(app) == 1  # LINE is back
    with app.db.session() as db_session:
        [photo] = forms_service.photos_of(db_session=db_session, submission=case)
        assert photo.status == PhotoStatus.STORED and photo.fetch_attempts == 3
    # A photo LINE never serves is given up after a few tries, and says so on the case.
    say(app, user, "イノシシがまた出た")
    send_image(app, user, (jpeg(), "image/jpeg"))
    app.sandbox.inject_fault("content", 404, count=100)
    for _ in range(jobs.MAX_ATTEMPTS + 1):
        fetch_photos(app)
    with app.db.session() as db_session:
        given_up = db_session.scalars(select(Photo).where(Photo.line_user_id == user).order_by(Photo.id)).all()[-1]
        assert given_up.status == PhotoStatus.REFUSED and given_up.fetch_attempts == jobs.MAX_ATTEMPTS
        assert given_up.error == "LINEから写真を取得できませんでした"


def test_the_citizens_admin_page_lists_their_cases_but_never_an_anonymous_letter(forms_app: LiveApp) -> None:
    from handlers.forms import history

    app = forms_app
    user = new_citizen(app)
    _, named = write_letter(app, user, named=True)
    _, anonymous = write_letter(app, user, named=False)
    with app.db.session() as db_session:
        part = history.citizen_history(db_session, user)
    assert [row.text for row in part.rows] == [f"受付番号 {named.receipt_no}"]
    assert part.rows[0].href == f"/admin/forms/cases/{named.id}" and part.rows[0].what == "市長への手紙"
    assert anonymous.anonymous

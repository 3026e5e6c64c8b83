"""職員対応 from the citizen's side, end to end through the sandbox (SQLite and PostgreSQL): the
request opens a thread with the conversation before it; what the citizen writes then goes to the
thread (one short note, then quiet); a staff reply arrives as a push; 「メニュー」 brings the bot
back; closing the thread and the wait running out hand the citizen back (once); an image goes into
the thread and is fetched from LINE's content API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from admin.models import Actor, StaffRole
from bot import clock
from bot.catalog import t
from bot.line_client import LineClient
from bot.sandbox.images import tiny_png
from handlers.faq import service as faq_service
from handlers.handoff import flows, notify
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffMessage, HandoffRequest, HandoffStatus, MessageKind, Sender
from tests.support import LiveApp, new_citizen, post_webhook, say_all, settled, wait_until, without_joiners

TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
STAFF = Actor(id=None, name="tanaka", role=StaffRole.COUNTER, via="web", ip=None)


@pytest.fixture
def inbox_app(app: LiveApp) -> Iterator[LiveApp]:
    clock.travel_to(TUESDAY_MORNING)
    app.app.state.scheduler.pause()  # the tests run the jobs themselves
    with app.db.session() as db_session:
        faq_service.seed(db_session=db_session)
    yield app


def thread(app: LiveApp, user: str) -> tuple[HandoffRequest, list[tuple[str, str, str | None, bool]]]:
    """The citizen's newest thread and its messages as (sender, kind, text, is_context)."""
    with app.db.session() as db_session:
        request = db_session.scalars(
            select(HandoffRequest).where(HandoffRequest.line_user_id == user).order_by(HandoffRequest.id.desc())
        ).first()
        assert request is not None
        messages = [
            (str(m.sender), str(m.kind), handoff_service.text_of(m, app.settings), m.is_context)
            for m in handoff_service.messages_of(db_session=db_session, request=request)
        ]
        db_session.expunge(request)
        return request, messages


def send_quietly(app: LiveApp, user: str, text: str) -> None:
    """A message the bot must not answer: it is processed, and nothing more is delivered."""
    before = len(app.sandbox.deliveries(to=user))
    assert post_webhook(app, [app.sandbox.make_event("text", user, text=text)]).status_code == 200
    wait_until(lambda: settled(app), what="the message processed")
    assert len(app.sandbox.deliveries(to=user)) == before


def staff_reply(app: LiveApp, user: str, body: str) -> None:
    request, _ = thread(app, user)
    with app.db.session() as db_session:
        loaded = handoff_service.get(db_session=db_session, handoff_request_id=request.id)
        assert loaded is not None
        flows.reply(db_session=db_session, request=loaded, body=body, actor=STAFF, settings=app.settings)


def pushes_to(app: LiveApp, user: str) -> list[str]:
    pushed = [m for d in app.sandbox.deliveries(to=user) if d.endpoint == "push" for m in d.messages]
    return [without_joiners(m).get("text", "") for m in pushed]


def test_a_request_opens_a_thread_with_context_and_the_bot_stays_quiet_until_menu(inbox_app: LiveApp) -> None:
    app = inbox_app
    user = new_citizen(app)
    faq = say_all(app, user, "住民票を取るには？")[0]["text"]
    answer = say_all(app, user, "職員と話したい")
    assert answer[-1]["text"] == t("handoff.received_open") + "\n\n" + t("handoff.waiting")
    request, messages = thread(app, user)
    assert request.status == HandoffStatus.OPEN and request.waiting_until is not None
    # The conversation before the request, as context: what the citizen asked and what the bot said.
    context = [(sender, text) for sender, _, text, is_context in messages if is_context]
    assert context[:2] == [("citizen", "住民票を取るには？"), ("bot", faq[:500])]
    assert ("citizen", "text", "職員と話したい", False) in messages
    # What the citizen writes now goes to the thread: one short note, then quiet.
    assert say_all(app, user, "転入の手続きで、書類が足りるか確認したいです")[-1]["text"] == t("handoff.noted")
    send_quietly(app, user, "子どもが二人います")
    send_quietly(app, user, "ごみの日はいつですか")  # not answered by the bot while waiting
    _, messages = thread(app, user)
    written = [text for sender, _, text, is_context in messages if sender == "citizen" and not is_context]
    assert written[-3:] == [
        "転入の手続きで、書類が足りるか確認したいです",
        "子どもが二人います",
        "ごみの日はいつですか",
    ]
    # A staff reply arrives as a push and is kept in the thread.
    reply = "必要な書類をお伝えします。本人確認書類と転出証明書です。"
    staff_reply(app, user, reply)
    wait_until(lambda: pushes_to(app, user), what="the staff reply")
    assert pushes_to(app, user) == [t("handoff.staff_reply", body=reply)]
    request, messages = thread(app, user)
    assert request.status == HandoffStatus.IN_PROGRESS and request.assigned_name == "tanaka"
    assert messages[-1][:3] == ("staff", "text", reply)
    send_quietly(app, user, "ありがとうございます")
    # 「メニュー」 brings the bot back; the thread stays for staff.
    assert say_all(app, user, "メニュー")[-1]["text"] == t("handoff.back_to_bot")
    assert say_all(app, user, "住民票を取るには？")[0]["text"] == faq
    request, _ = thread(app, user)
    assert request.status == HandoffStatus.IN_PROGRESS
    # Asking again while the thread is open goes back to it.
    again = say_all(app, user, "職員と話したい")
    assert again[-1]["text"] == t("handoff.already") + "\n\n" + t("handoff.waiting")
    assert len({r.id for r in _all(app)}) == 1


def _all(app: LiveApp) -> list[HandoffRequest]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(HandoffRequest)))


def test_closing_the_thread_tells_the_citizen_and_the_bot_answers_again(inbox_app: LiveApp) -> None:
    app = inbox_app
    user = new_citizen(app)
    say_all(app, user, "職員と話したい")
    request, _ = thread(app, user)
    with app.db.session() as db_session:
        loaded = handoff_service.get(db_session=db_session, handoff_request_id=request.id)
        assert loaded is not None
        assert flows.set_status(db_session=db_session, request=loaded, status=HandoffStatus.DONE, actor=STAFF)
    wait_until(lambda: pushes_to(app, user), what="the closing note")
    assert pushes_to(app, user) == [t("handoff.closed_by_staff")]
    with app.db.session() as db_session:
        assert not handoff_service.is_waiting(db_session=db_session, line_user_id=user)
    answer = say_all(app, user, "住民票を取るには？")  # answered by the bot (the FAQ), not kept for staff
    assert answer[0]["text"] not in (t("handoff.noted"), t("handoff.closed_meanwhile"))
    assert "住民票" in answer[0]["text"]
    request, _ = thread(app, user)
    assert request.status == HandoffStatus.DONE and request.handled_by == "tanaka"
    # A new request after that is a new thread.
    say_all(app, user, "職員と話したい")
    assert len(_all(app)) == 2


def test_the_wait_runs_out_and_the_citizen_is_handed_back_once(inbox_app: LiveApp) -> None:
    app = inbox_app
    waiting, gone_back = new_citizen(app), new_citizen(app)
    say_all(app, waiting, "職員と話したい")
    say_all(app, gone_back, "職員と話したい")
    say_all(app, gone_back, "メニュー")
    clock.travel_to(TUESDAY_MORNING + timedelta(minutes=app.settings.handoff_wait_minutes - 1))
    assert notify.hand_back_due(db=app.db) == 0
    clock.travel_to(TUESDAY_MORNING + timedelta(minutes=app.settings.handoff_wait_minutes + 1))
    assert notify.hand_back_due(db=app.db) == 1  # the one still waiting; the other is with the bot already
    assert notify.hand_back_due(db=app.db) == 0
    wait_until(lambda: pushes_to(app, waiting), what="the hand-back note")
    assert pushes_to(app, waiting) == [t("handoff.handed_back")]
    assert pushes_to(app, gone_back) == []
    # Back with the bot: the next message is answered.
    assert say_all(app, waiting, "ありがとう")
    with app.db.session() as db_session:
        assert not handoff_service.is_waiting(db_session=db_session, line_user_id=waiting)


def test_an_image_goes_into_the_thread_and_is_fetched_from_line(inbox_app: LiveApp) -> None:
    app = inbox_app
    user = new_citizen(app)
    say_all(app, user, "職員と話したい")
    event = app.sandbox.make_event("image", user)
    assert post_webhook(app, [event]).status_code == 200
    wait_until(lambda: app.sandbox.deliveries(to=user)[1:], what="the note")
    sticker = app.sandbox.make_event("sticker", user)
    assert post_webhook(app, [sticker]).status_code == 200
    wait_until(lambda: settled(app), what="the sticker processed")
    _, messages = thread(app, user)
    assert [kind for sender, kind, _, ctx in messages if sender == "citizen" and not ctx][-2:] == ["image", "sticker"]

    async def fetch() -> int:
        client = LineClient(app.settings)
        try:
            return await notify.fetch_images_now(db=app.db, settings=app.settings, client=client)
        finally:
            await client.close()

    assert asyncio.run(fetch()) == 1
    assert asyncio.run(fetch()) == 0  # fetched once
    with app.db.session() as db_session:
        [image] = db_session.scalars(select(HandoffMessage).where(HandoffMessage.kind == MessageKind.IMAGE)).all()
        stored = handoff_service.image_of(image, app.settings)
        assert image.sender == Sender.CITIZEN and image.line_message_id is None
    assert stored == (tiny_png(), "image/png")

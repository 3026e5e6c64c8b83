"""Handoff end to end (SQLite and PostgreSQL): the request is recorded for staff; the citizen is told
the phone number and hours, and honestly when the office is closed now. Plus the office calendar."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from bot import clock
from bot.catalog import t
from bot.settings import load_settings
from handlers.handoff import service as handoff_service
from handlers.handoff.models import HandoffRequest, HandoffSource, HandoffStatus
from tests.support import LiveApp, new_citizen, say, tap

TUESDAY_MORNING = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
SUNDAY = datetime(2026, 11, 29, 15, 0, tzinfo=clock.TOKYO)
HOURS = handoff_service.OfficeHours(time(8, 30), time(17, 15))


def requests(app: LiveApp) -> list[HandoffRequest]:
    with app.db.session() as db_session:
        return list(db_session.scalars(select(HandoffRequest).order_by(HandoffRequest.id)))


def test_asking_for_a_person_in_office_hours_is_recorded_with_the_phone_and_hours(app: LiveApp) -> None:
    clock.travel_to(TUESDAY_MORNING)
    user = new_citizen(app)
    answer = say(app, user, "職員さんと直接話したいです")
    assert answer["text"] == t("handoff.received_open") + "\n\n" + t("handoff.waiting")
    assert app.settings.city_phone in answer["text"] and app.settings.city_hours in answer["text"]
    [request] = requests(app)
    assert (request.line_user_id, request.message, request.source) == (
        user,
        "職員さんと直接話したいです",
        HandoffSource.TEXT,
    )
    assert request.status == HandoffStatus.OPEN and request.office_open is True
    # Back with the bot, asking again while the first is open adds to it instead of queueing twice.
    say(app, user, "メニュー")
    assert say(app, user, "担当者に代わってください")["text"] == t("handoff.already") + "\n\n" + t("handoff.waiting")
    [request] = requests(app)
    assert request.message == "職員さんと直接話したいです\n担当者に代わってください"


def test_on_a_sunday_the_citizen_is_told_the_office_is_closed_and_when_it_opens(app: LiveApp) -> None:
    clock.travel_to(SUNDAY)
    user = new_citizen(app)
    answer = tap(app, user, "action=intent&name=handoff")  # the menu's 「職員と話したい」
    next_open = t("handoff.next_open", month=11, day=30, weekday="月", time="8:30")
    assert answer["text"] == t("handoff.received_closed", next_open=next_open) + "\n\n" + t("handoff.waiting")
    assert "閉庁" in answer["text"]
    [request] = requests(app)
    assert request.source == HandoffSource.MENU and request.message is None and request.office_open is False


def test_staff_see_open_requests_and_can_close_them(app: LiveApp) -> None:
    clock.travel_to(TUESDAY_MORNING)
    first, second = new_citizen(app), new_citizen(app)
    say(app, first, "人と話したい")
    say(app, second, "電話で相談したい")
    with app.db.session() as db_session:
        open_requests = handoff_service.get_all_by_status(db_session=db_session, status=HandoffStatus.OPEN)
        assert [r.line_user_id for r in open_requests] == [first, second]
        handoff_service.mark_done(db_session=db_session, handoff_request=open_requests[0], staff_name="tanaka")
    with app.db.session() as db_session:
        assert [
            r.line_user_id for r in handoff_service.get_all_by_status(db_session=db_session, status=HandoffStatus.OPEN)
        ] == [second]
    # Once dealt with, a new request from the same citizen is a new request.
    answer = say(app, first, "もう一度職員さんと話したい")
    assert answer["text"] == t("handoff.received_open") + "\n\n" + t("handoff.waiting")
    assert len(requests(app)) == 3


@pytest.mark.parametrize(
    ("day", "open_day"),
    [
        (date(2026, 11, 24), True),  # Tuesday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 23), False),  # 勤労感謝の日 (Monday, national holiday)
        (date(2026, 12, 28), True),  # the last working day of the year
        (date(2026, 12, 29), False),  # 年末年始
        (date(2027, 1, 3), False),
        (date(2027, 1, 4), True),
    ],
)
def test_office_days(day: date, open_day: bool) -> None:
    assert handoff_service.is_office_day(day) is open_day


def test_office_hours_and_next_opening() -> None:
    assert handoff_service.is_open(TUESDAY_MORNING, HOURS)
    assert not handoff_service.is_open(TUESDAY_MORNING.replace(hour=17, minute=15), HOURS)
    assert not handoff_service.is_open(TUESDAY_MORNING.replace(hour=8, minute=29), HOURS)
    early = TUESDAY_MORNING.replace(hour=7)
    assert handoff_service.next_opening(early, HOURS) == TUESDAY_MORNING.replace(hour=8, minute=30)
    new_year = datetime(2026, 12, 28, 18, 0, tzinfo=clock.TOKYO)
    assert handoff_service.next_opening(new_year, HOURS) == datetime(2027, 1, 4, 8, 30, tzinfo=clock.TOKYO)


@pytest.mark.parametrize(
    ("city_hours", "opens", "closes"),
    [
        ("平日 8:30〜17:15", time(8, 30), time(17, 15)),
        ("平日 ９:００～１７:００", time(9, 0), time(17, 0)),
        ("月〜金 8時30分-17時15分", time(8, 30), time(17, 15)),
        ("お問い合わせください", time(8, 30), time(17, 15)),
    ],
)
def test_office_hours_come_from_city_hours(city_hours: str, opens: time, closes: time) -> None:
    hours = handoff_service.OfficeHours.from_settings(load_settings(city_hours=city_hours))
    assert (hours.opens, hours.closes) == (opens, closes)

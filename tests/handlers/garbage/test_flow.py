"""Garbage days on LINE end to end through the sandbox, on SQLite and PostgreSQL: the district asked
once, remembered and changeable; the reminder opt-in; old buttons keep working."""

from __future__ import annotations

from datetime import datetime

from bot import clock
from bot.catalog import t
from handlers.garbage import service as garbage_service
from tests.support import LiveApp, new_citizen, quick_replies, say_all, tap_all


def test_garbage_district_is_asked_once_remembered_and_changeable(garbage_app: LiveApp) -> None:
    clock.travel_to(datetime(2026, 11, 24, 12, 0, tzinfo=clock.TOKYO))  # a Tuesday
    user = new_citizen(garbage_app)
    (question,) = say_all(garbage_app, user, "明日は何ごみ?")
    assert question["text"] == t("gis.garbage.ask_district")
    assert [a["label"] for a in quick_replies(question)] == ["邑久", "牛窓", "長船"]
    saved, answer = tap_all(garbage_app, user, quick_replies(question)[1]["data"])
    assert saved["text"] == t("gis.garbage.district_saved", district="牛窓")
    # 2026-11-25 is the 4th Wednesday: 牛窓's 資源ごみ（びん・缶） (sample calendar).
    assert answer["text"].startswith("明日 11月25日（水）は、牛窓地区では「資源ごみ（びん・缶）」の日です。")

    (again,) = say_all(garbage_app, user, "牛窓のびんの日")
    assert again["text"].startswith("牛窓地区の「資源ごみ（びん・缶）」の次の収集日です。\n・明日 11月25日（水）")

    (changed,) = tap_all(garbage_app, user, "action=gis_garbage_district")
    assert changed["text"] == t("gis.garbage.ask_district")
    saved, week = tap_all(garbage_app, user, "action=gis_district&district=長船")
    assert saved["text"] == t("gis.garbage.district_saved", district="長船")
    assert week["text"].startswith("長船地区の、これから1週間の収集日です。")


def test_the_garbage_reminder_is_opt_in(garbage_app: LiveApp) -> None:
    user = new_citizen(garbage_app)
    say_all(garbage_app, user, "ごみの日")
    tap_all(garbage_app, user, "action=gis_district&district=邑久")
    (on,) = tap_all(garbage_app, user, "action=gis_garbage_reminder&on=1")
    assert on["text"] == t("gis.garbage.reminder_on")
    assert quick_replies(on)[0]["label"] == t("gis.garbage.reminder_off_button")
    (off,) = say_all(garbage_app, user, "ごみの通知をやめる")
    assert off["text"] == t("gis.garbage.reminder_off")


def test_the_district_is_kept_for_other_capabilities_and_a_place_name_answers(garbage_app: LiveApp) -> None:
    clock.travel_to(datetime(2026, 11, 24, 12, 0, tzinfo=clock.TOKYO))  # a Tuesday
    user = new_citizen(garbage_app)
    (question,) = say_all(garbage_app, user, "ごみの日を変更したい")
    assert question["text"] == t("gis.garbage.ask_district")
    saved, week = say_all(garbage_app, user, "長船町土師")  # a 大字 typed instead of a button
    assert saved["text"] == t("gis.garbage.district_saved", district="長船")
    assert week["text"].startswith("長船地区の、これから1週間の収集日です。")
    with garbage_app.db.session() as db_session:
        assert garbage_service.get_district(db_session=db_session, line_user_id=user) == "長船"

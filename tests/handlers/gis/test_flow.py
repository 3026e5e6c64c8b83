"""GIS on LINE end to end through the sandbox, on SQLite and PostgreSQL: a location in, LINE location
messages and a Flex carousel out; hazard filters; place names without a location; outside the city;
disaster mode."""

from __future__ import annotations

import json

from bot.catalog import t
from handlers.gis.models import PlaceKind, ShelterStatus
from handlers.gis.service import search as search_service
from handlers.gis.service import seed as gis_seed
from handlers.gis.service import shelters as shelter_service
from tests.handlers.gis.conftest import OKAYAMA_STATION, USHIMADO_PORT, bubble_texts, of_type
from tests.support import (
    LiveApp,
    fields,
    live_app,
    new_citizen,
    quick_replies,
    say_all,
    send_location_all,
    tap_all,
)


def test_a_location_gets_location_messages_and_a_carousel_of_the_nearest_shelters(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    messages = send_location_all(gis_app, user, *USHIMADO_PORT)
    assert [m["type"] for m in messages] == ["text", "location", "location", "location", "flex"]
    assert t("gis.results_here", what="避難所") in messages[0]["text"]
    pins = of_type(messages, "location")
    with gis_app.db.session() as db_session:
        expected = search_service.nearest(
            db_session=db_session, lat=USHIMADO_PORT[0], lon=USHIMADO_PORT[1], kind=PlaceKind.SHELTER, limit=5
        )
    assert [p["title"] for p in pins] == [f.name for f in expected[:3]]
    assert all(p["address"] and len(p["title"]) <= 100 and len(p["address"]) <= 100 for p in pins)
    assert (pins[0]["latitude"], pins[0]["longitude"]) == (expected[0].lat, expected[0].lon)

    flex = messages[-1]
    bubbles = flex["contents"]["contents"]
    assert flex["contents"]["type"] == "carousel" and len(bubbles) == 5
    assert len(json.dumps(flex["contents"], ensure_ascii=False).encode()) < 50_000
    first = bubble_texts(bubbles[0])
    assert first[0] == expected[0].name
    assert any("徒歩" in text and text.startswith("約") for text in first)  # 「約90m・徒歩2分」
    assert any("出典：国土地理院" in text for text in first)
    assert bubbles[0]["footer"]["contents"][0]["action"]["type"] == "uri"  # 地図で見る
    # Other kinds from the same point, and a new location.
    actions = quick_replies(flex)
    assert actions[0]["type"] == "location"
    assert {fields(a).get("kind") for a in actions[1:]} >= {"aed", "facility"}


def test_the_same_point_can_be_asked_for_aeds_with_a_button(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    answer = send_location_all(gis_app, user, *USHIMADO_PORT)
    aed = next(a for a in quick_replies(answer[-1]) if fields(a).get("kind") == "aed")
    messages = tap_all(gis_app, user, aed["data"])
    assert t("gis.aed_note") in messages[0]["text"]
    assert t("gis.sample_note") in messages[0]["text"]  # the AED layer is sample data, and says so
    names = [p["title"] for p in of_type(messages, "location")]
    assert names[0] in ("牛窓町公民館", "牛窓支所")


def test_a_hazard_asks_for_the_location_and_answers_only_sites_designated_for_it(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    (question,) = say_all(gis_app, user, "津波の避難所")
    assert question["text"].startswith("近くの津波のときの避難場所をお探しします。")
    actions = quick_replies(question)
    assert actions[0]["type"] == "location"
    assert [a["label"] for a in actions[1:]] == ["邑久", "牛窓", "長船"]

    messages = send_location_all(gis_app, user, *USHIMADO_PORT)
    assert t("gis.hazard_note", hazard="津波") in messages[0]["text"]
    with gis_app.db.session() as db_session:
        tsunami = {
            index.names[i]
            for index in search_service.indexes(db_session=db_session, kind=PlaceKind.EMERGENCY_SITE)
            for i in range(len(index.ids))
            if "tsunami" in index.hazards[i]
        }
    bubbles = messages[-1]["contents"]["contents"]
    assert bubbles and all(bubble_texts(b)[0] in tsunami for b in bubbles)
    assert all(any("津波" in text for text in bubble_texts(b)) for b in bubbles)


def test_a_landslide_said_in_words_filters_too(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    (question,) = say_all(gis_app, user, "土砂崩れのとき")
    assert "土砂災害のときの避難場所" in question["text"]
    hazard = fields(quick_replies(question)[1])
    assert hazard["hazard"] == "landslide"


def test_a_place_name_answers_without_a_location(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    messages = say_all(gis_app, user, "牛窓の避難所")
    assert messages[0]["text"].startswith("牛窓町の避難所です。")
    pins = of_type(messages, "location")
    assert len(pins) == 3 and all("牛窓町" in p["address"] for p in pins)
    bubbles = messages[-1]["contents"]["contents"]
    assert all(any("牛窓町" in text for text in bubble_texts(b)) for b in bubbles)


def test_an_oaza_name_finds_the_nearest_aed_there(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    messages = say_all(gis_app, user, "長船町土師の近くのAED")
    assert messages[0]["text"].startswith("長船町土師のAEDです。")
    assert of_type(messages, "location")[0]["title"] == "長船支所"


def test_opening_hours_of_a_districts_community_hall(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    messages = say_all(gis_app, user, "邑久の公民館の開館時間")
    assert messages[0]["text"].startswith("邑久町の公民館です。")
    first = bubble_texts(messages[-1]["contents"]["contents"][0])
    assert first[0] == "中央公民館"
    assert any("9:00〜21:00" in text for text in first)


def test_outside_the_city_it_says_so_and_shows_the_neighbours_shelters(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    messages = send_location_all(gis_app, user, *OKAYAMA_STATION)
    assert messages[0]["text"].startswith(t("gis.outside_city"))
    first = bubble_texts(messages[-1]["contents"]["contents"][0])
    assert "岡山市" in first  # the 市町村 row of a neighbour's shelter
    assert all("瀬戸内市" not in p["address"] for p in of_type(messages, "location"))


def test_during_a_disaster_open_shelters_come_first_with_their_status(gis_app: LiveApp) -> None:
    user = new_citizen(gis_app)
    with gis_app.db.session() as db_session:
        nearby = search_service.nearest(
            db_session=db_session, lat=USHIMADO_PORT[0], lon=USHIMADO_PORT[1], kind=PlaceKind.SHELTER, limit=10
        )
        far_one = nearby[7]  # not among the five nearest
        place = shelter_service.get_place(db_session=db_session, place_id=far_one.id)
        assert place is not None
        shelter_service.set_status(db_session=db_session, place=place, status=ShelterStatus.OPEN, actor_name="test")
    messages = send_location_all(gis_app, user, *USHIMADO_PORT)
    assert messages[0]["text"].startswith(t("gis.disaster_open"))
    assert of_type(messages, "location")[0]["title"] == f"【開設中】{far_one.name}"
    first = bubble_texts(messages[-1]["contents"]["contents"][0])
    assert first[0] == far_one.name and "開設中" in first
    second = bubble_texts(messages[-1]["contents"]["contents"][1])
    assert "未開設" in second


def test_the_city_row_follows_the_apps_own_settings(database_url: str) -> None:
    # A neighbour running madoguchi for itself: 瀬戸内市's places are the other city's, and say so.
    with live_app(database_url, city_name="岡山市") as app:
        with app.db.session() as db_session:
            gis_seed.seed(db_session=db_session)
        user = new_citizen(app)
        messages = send_location_all(app, user, *USHIMADO_PORT)
        first = bubble_texts(messages[-1]["contents"]["contents"][0])
        assert "瀬戸内市" in first

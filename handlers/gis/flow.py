"""「近くの避難所」 and its kin on LINE: the nearest shelters (by hazard), public facilities and AEDs
from a location message or a place name, with distance and walking time, as LINE location messages
plus a Flex carousel.

Entry points: the intents shelter_search / facility_search / aed_search, a hazard named on its own
(「土砂崩れのとき」), and any location message no other flow is waiting for.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.catalog import t
from bot.flow import END, Flow, Route, StepResult, Turn, on_intent, on_location, on_postback
from bot.messages import (
    MAX_CAROUSEL,
    carousel,
    flex,
    location,
    location_item,
    postback_item,
)
from bot.messages import text as text_message
from handlers.gis import cards
from handlers.gis.models import SHELTER_KINDS, Hazard, LayerScope, PlaceKind, ShelterStatus
from handlers.gis.parsing import HAZARD_WORDS
from handlers.gis.service import places as place_service
from handlers.gis.service import search as search_service
from handlers.gis.service.places import PlaceRef
from handlers.gis.service.search import Found, LayerIndex

SHOWN = 5  # cards in the carousel
PINS = 3  # LINE location messages (with the text and the carousel: LINE's five per reply)
FAR_M = 2000
# Outside the city, a nearest place farther than this is no help where the citizen is: the
# neighbours' shelters (岡山市, 備前市) lie within a few km of any point in those cities, so beyond it
# the point is out of the area the data cover (or the kind, AEDs and facilities, is the city's own).
OUT_OF_AREA_M = 10_000
# Facility types the NLU names, and the `type` values of the facility layer they mean.
FACILITY_TYPES: dict[str, tuple[str, ...]] = {
    "市役所": ("市役所",),
    "支所": ("支所",),
    "公民館": ("公民館",),
    "図書館": ("図書館",),
    "保健センター": ("保健センター",),
    "消防": ("消防",),
}


class State(StrEnum):
    LOCATION = "location"  # asked for a location (or a place name) to search from
    SHOWN = "shown"  # results shown: other kinds can be asked for the same point


# --- what is being searched for -----------------------------------------------------------------


def _hazard(turn: Turn) -> Hazard | None:
    if turn.nlu is not None:
        value = turn.nlu.entity("hazard")
        if value and value in HAZARD_WORDS:
            return HAZARD_WORDS[value]
    text = place_service.normalise(turn.text or "")
    for word, hazard in sorted(HAZARD_WORDS.items(), key=lambda item: -len(item[0])):
        if len(word) >= 2 and not word.isascii() and word in text:
            return hazard
    return None


def _facility_type(turn: Turn) -> str | None:
    value = turn.nlu.entity("facility_type") if turn.nlu is not None else None
    if value in FACILITY_TYPES:
        return value
    text = place_service.normalise(turn.text or "")
    return next((name for name in FACILITY_TYPES if name in text), None)


def _what(search: dict[str, Any]) -> str:
    kind, hazard = search.get("kind"), search.get("hazard")
    if hazard:
        return t("gis.what.shelter_hazard", hazard=cards.hazard_label(hazard))
    if kind == PlaceKind.FACILITY and search.get("ftype"):
        return str(search["ftype"])
    return t(f"gis.what.{kind}")


def _search_from(turn: Turn, kind: PlaceKind) -> dict[str, Any]:
    search: dict[str, Any] = {"kind": kind.value}
    if kind == PlaceKind.SHELTER:
        hazard = _hazard(turn)
        if hazard is not None:
            search["hazard"] = hazard.value
    elif kind == PlaceKind.FACILITY:
        ftype = _facility_type(turn)
        if ftype:
            search["ftype"] = ftype
    return search


# --- entry steps ----------------------------------------------------------------------------------


def start_shelter(turn: Turn) -> StepResult:
    """避難所 (by hazard if one is named): answers for a named place, or asks for the location."""
    return _start(turn, _search_from(turn, PlaceKind.SHELTER))


def start_facility(turn: Turn) -> StepResult:
    """公共施設 (a type if named: 公民館, 図書館 …); 避難所 and AED named here go to their own search."""
    ftype = turn.nlu.entity("facility_type") if turn.nlu is not None else None
    if ftype == "避難所":
        return start_shelter(turn)
    if ftype == "AED":
        return start_aed(turn)
    return _start(turn, _search_from(turn, PlaceKind.FACILITY))


def start_aed(turn: Turn) -> StepResult:
    return _start(turn, _search_from(turn, PlaceKind.AED))


def _start(turn: Turn, search: dict[str, Any]) -> StepResult:
    district = turn.nlu.entity("district") if turn.nlu is not None else None
    place = place_service.resolve_place(turn.text, district_hint=district)
    if place is not None:
        _answer_place(turn, search, place)
        turn.data = {"search": search, "lat": place.lat, "lon": place.lon, "place": place.label}
        return State.SHOWN
    turn.data = {"search": search}
    _ask_location(turn, search)
    return State.LOCATION


def hazard_only(turn: Turn) -> bool:
    """「土砂崩れのとき」「津波」: a hazard named with no confident other intent means "where to go"."""
    if turn.nlu is None or turn.postback is not None or len(turn.text or "") > 20:
        return False
    return turn.nlu.entity("hazard") is not None and turn.nlu.intent_name in (None, "shelter_search")


def location_anytime(turn: Turn) -> StepResult:
    """A location no flow asked for: the nearest shelters, with buttons for AEDs and facilities."""
    return _answer_location(turn, {"kind": PlaceKind.SHELTER.value})


def on_location_sent(turn: Turn) -> StepResult:
    """The location we asked for: answers what was asked."""
    return _answer_location(turn, dict(turn.data.get("search") or {"kind": PlaceKind.SHELTER.value}))


def place_named(turn: Turn) -> bool:
    """While we wait for a location: text naming a 大字 or district (not some other request)."""
    if turn.text is None or turn.postback is not None:
        return False
    # A new request (「近くのAED」) starts over from the entry points; only a bare place name is the answer.
    if turn.nlu is not None and turn.nlu.intent_name is not None:
        return False
    return place_service.resolve_place(turn.text) is not None


def on_place_text(turn: Turn) -> StepResult:
    search = dict(turn.data.get("search") or {"kind": PlaceKind.SHELTER.value})
    place = place_service.resolve_place(turn.text)
    if place is None:  # pragma: no cover - place_named checked it
        return None
    _answer_place(turn, search, place)
    turn.data = {"search": search, "lat": place.lat, "lon": place.lon, "place": place.label}
    return State.SHOWN


def unclear_while_waiting(turn: Turn) -> bool:
    """Text with no intent at all while we wait for a location: ask once more, kindly."""
    return turn.text is not None and turn.postback is None and turn.nlu is not None and turn.nlu.intent_name is None


def reprompt_location(turn: Turn) -> StepResult:
    search = dict(turn.data.get("search") or {"kind": PlaceKind.SHELTER.value})
    turn.say(text_message(t("gis.ask_location_again"), _location_items(search)))
    return None


def pick_area(turn: Turn) -> StepResult:
    """A district button (邑久 / 牛窓 / 長船) under the location question."""
    area = turn.postback_fields.get("area", "")
    if area not in place_service.DISTRICTS:
        return reprompt_location(turn)
    search = dict(turn.data.get("search") or {"kind": PlaceKind.SHELTER.value})
    search = _valid_search(turn.postback_fields) or search
    place = place_service.district_ref(area)
    _answer_place(turn, search, place)
    turn.data = {"search": search, "lat": place.lat, "lon": place.lon, "place": place.label}
    return State.SHOWN


def switch_kind(turn: Turn) -> StepResult:
    """「AED」「公共施設」「津波のとき」 under results: the same point, another kind (or ask the point)."""
    search = _valid_search(turn.postback_fields)
    if search is None:
        turn.say(text_message(t("welcome.expired")))
        return END
    lat, lon = turn.data.get("lat"), turn.data.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        turn.data = {"search": search}
        _ask_location(turn, search)
        return State.LOCATION
    label = turn.data.get("place")
    if isinstance(label, str) and label:
        place = place_service.resolve_place(label)
        if place is not None:
            _answer_place(turn, search, place)
            turn.data = {"search": search, "lat": lat, "lon": lon, "place": label}
            return State.SHOWN
    _answer_point(turn, search, float(lat), float(lon))
    turn.data = {"search": search, "lat": lat, "lon": lon}
    return State.SHOWN


def _valid_search(fields: dict[str, str]) -> dict[str, Any] | None:
    """Postback data is untrusted: only known kinds and hazards."""
    try:
        kind = PlaceKind(fields.get("kind", ""))
    except ValueError:
        return None
    search: dict[str, Any] = {"kind": kind.value}
    hazard = fields.get("hazard")
    if hazard:
        try:
            search["hazard"] = Hazard(hazard).value
        except ValueError:
            return None
    return search


# --- answers --------------------------------------------------------------------------------------


def _answer_location(turn: Turn, search: dict[str, Any]) -> StepResult:
    loc = turn.location
    if loc is None:  # pragma: no cover - routes only send locations here
        return None
    _answer_point(turn, search, loc.latitude, loc.longitude)
    turn.data = {"search": search, "lat": loc.latitude, "lon": loc.longitude}
    return State.SHOWN


def _answer_point(turn: Turn, search: dict[str, Any], lat: float, lon: float) -> None:
    inside = place_service.in_city(lat, lon)
    kind, hazard = _kind_and_hazard(search)
    found = search_service.find_for_citizen(
        db_session=turn.db_session,
        lat=lat,
        lon=lon,
        kind=kind,
        hazard=hazard,
        limit=SHOWN,
        # In the city, the city's own places; outside it, the neighbours' too.
        scope=LayerScope.CITY if inside else None,
        where=_facility_filter(search),
    )
    if not inside and (not found or min(f.distance_m for f in found) > OUT_OF_AREA_M):
        turn.say(text_message(t("gis.out_of_area"), [location_item(t("gis.other_place_button"))]))
        return
    lines = [] if inside else [t("gis.outside_city")]
    lines.append(t("gis.results_here", what=_what(search)))
    _say_results(turn, search, found, lines)


def _answer_place(turn: Turn, search: dict[str, Any], place: PlaceRef) -> None:
    kind, hazard = _kind_and_hazard(search)
    base_filter = _facility_filter(search)
    prefix = place.address_prefix

    def in_district(index: LayerIndex, i: int) -> bool:
        return prefix in index.addresses[i] and (base_filter is None or base_filter(index, i))

    found = []
    if place.is_district:
        found = search_service.find_for_citizen(
            db_session=turn.db_session,
            lat=place.lat,
            lon=place.lon,
            kind=kind,
            hazard=hazard,
            limit=SHOWN,
            scope=LayerScope.CITY,
            where=in_district,
        )
    if not found:
        found = search_service.find_for_citizen(
            db_session=turn.db_session,
            lat=place.lat,
            lon=place.lon,
            kind=kind,
            hazard=hazard,
            limit=SHOWN,
            scope=LayerScope.CITY,
            where=base_filter,
        )
    center = place_service.DISTRICTS[place.district][1] if place.is_district else place.label
    _say_results(turn, search, found, [t("gis.results_place", place=place.label, what=_what(search), center=center)])


def _kind_and_hazard(search: dict[str, Any]) -> tuple[PlaceKind, Hazard | None]:
    kind = PlaceKind(search.get("kind", PlaceKind.SHELTER))
    hazard = Hazard(search["hazard"]) if search.get("hazard") else None
    if hazard is not None and kind == PlaceKind.SHELTER:
        # Designation per hazard is a 指定緊急避難場所's: "津波の避難所" means those.
        kind = PlaceKind.EMERGENCY_SITE
    return kind, hazard


def _facility_filter(search: dict[str, Any]) -> Any:
    types = FACILITY_TYPES.get(str(search.get("ftype") or ""))
    if search.get("kind") != PlaceKind.FACILITY or not types:
        return None

    def of_type(index: LayerIndex, i: int) -> bool:
        return str(index.properties[i].get("type", "")) in types

    return of_type


def _say_results(turn: Turn, search: dict[str, Any], found: list[Found], lines: list[str]) -> None:
    what = _what(search)
    kind, hazard = _kind_and_hazard(search)
    if not found:
        turn.say(text_message(t("gis.not_found", what=what), _kind_items(search)))
        return
    if hazard is not None:
        lines.append(t("gis.hazard_note", hazard=cards.hazard_label(hazard.value)))
    sheltering = kind in SHELTER_KINDS
    disaster = sheltering and search_service.disaster_mode(db_session=turn.db_session)
    if disaster:
        if any(f.status == ShelterStatus.OPEN for f in found):
            lines.insert(0, t("gis.disaster_open"))
        else:
            lines.insert(0, t("gis.disaster_none_open"))
    nearest_m = min(f.distance_m for f in found)
    if sheltering and nearest_m > FAR_M:
        lines.append(t("gis.far", what=what, distance=t("gis.distance_far", distance=cards.distance_words(nearest_m))))
    if kind == PlaceKind.AED:
        lines.append(t("gis.aed_note"))
    if any(f.is_sample for f in found):
        lines.append(t("gis.sample_note"))
    turn.say(text_message("\n".join(lines)))
    for place in found[:PINS]:
        title = cards.pin_title(place, disaster)
        turn.say(location(title, cards.short_address(place) or place.name, place.lat, place.lon))
    city_name = turn.settings.city_name
    bubbles = [cards.place_card(place, disaster=disaster, city_name=city_name) for place in found[:MAX_CAROUSEL]]
    turn.say(flex(t("gis.alt_results", what=what), carousel(bubbles), _kind_items(search)))


# The kinds a search without a hazard offers under its question (the menu's 「避難所・施設」 is one).
OTHER_KINDS = (PlaceKind.SHELTER, PlaceKind.AED, PlaceKind.FACILITY)


def _ask_location(turn: Turn, search: dict[str, Any]) -> None:
    lines = [t("gis.ask_location", what=_what(search))]
    others = _other_kinds(search)
    if others:
        lines.append(t("gis.ask_other_kinds", others="や".join(t(f"gis.kind_buttons.{k}") for k in others)))
    turn.say(text_message("\n".join(lines), _location_items(search)))


def _other_kinds(search: dict[str, Any]) -> list[str]:
    if search.get("hazard") or search.get("ftype"):
        return []
    return [kind.value for kind in OTHER_KINDS if kind.value != search.get("kind")]


def _location_items(search: dict[str, Any]) -> list[Any]:
    """The location button, the districts, and (for a search without a hazard) the other kinds."""
    fields = {"kind": search.get("kind"), "hazard": search.get("hazard")}
    return [
        location_item(t("gis.location_button")),
        *[postback_item(d, "gis_area", display=d, area=d, **fields) for d in place_service.DISTRICTS],
        *[postback_item(t(f"gis.kind_buttons.{k}"), "gis_kind", kind=k) for k in _other_kinds(search)],
    ]


def _kind_items(search: dict[str, Any]) -> list[Any]:
    """Under results: search again from another point, or another kind from this one."""
    items = [location_item(t("gis.other_place_button"))]
    kind = search.get("kind")
    if kind != PlaceKind.SHELTER.value or search.get("hazard"):
        items.append(postback_item(t("gis.kind_buttons.shelter"), "gis_kind", kind=PlaceKind.SHELTER.value))
    if not search.get("hazard"):
        items.append(
            postback_item(
                t("gis.kind_buttons.tsunami"), "gis_kind", kind=PlaceKind.SHELTER.value, hazard=Hazard.TSUNAMI.value
            )
        )
    if kind != PlaceKind.AED.value:
        items.append(postback_item(t("gis.kind_buttons.aed"), "gis_kind", kind=PlaceKind.AED.value))
    if kind != PlaceKind.FACILITY.value:
        items.append(postback_item(t("gis.kind_buttons.facility"), "gis_kind", kind=PlaceKind.FACILITY.value))
    return items


FLOW = Flow(
    name="gis",
    entry_points=[
        on_postback("gis_kind", switch_kind),
        on_postback("gis_area", pick_area),
        on_intent("shelter_search", start_shelter),
        on_intent("facility_search", start_facility),
        on_intent("aed_search", start_aed),
        Route(hazard_only, start_shelter, "text:hazard"),
        on_location(location_anytime),
    ],
    states={
        State.LOCATION: [
            on_location(on_location_sent),
            on_postback("gis_area", pick_area),
            on_postback("gis_kind", switch_kind),
            Route(place_named, on_place_text, "text:place"),
            Route(unclear_while_waiting, reprompt_location, "text:unclear"),
        ],
        State.SHOWN: [
            on_location(on_location_sent),
            on_postback("gis_kind", switch_kind),
            on_postback("gis_area", pick_area),
        ],
    },
)

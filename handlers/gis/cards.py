"""What a citizen sees of a place found: the card in the carousel (distance and walking time, address,
hazards, status in a disaster, hours, phone, 出典, a 地図で見る link) and the title of its LINE
location message.

Built from bot/messages.py's builders; every sentence comes from the catalog (gis.*).
"""

from __future__ import annotations

import math
from typing import Any

from linebot.v3.messaging import URIAction

from bot.catalog import t
from bot.messages import card
from handlers.gis.models import HAZARD_LABELS, SHELTER_KINDS, Hazard, ShelterStatus
from handlers.gis.service.search import Found

WALK_M_PER_MIN = 80  # 不動産の表示に関する公正競争規約: 徒歩1分 = 80m
MAX_WALK_MINUTES = 60
MAP_URL = "https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"


def hazard_label(value: str) -> str:
    return HAZARD_LABELS[Hazard(value)]


def pin_title(place: Found, disaster: bool) -> str:
    if disaster and place.status != ShelterStatus.NOT_OPEN:
        return f"【{t(f'gis.status.{place.status.value}')}】{place.name}"
    return place.name


def short_address(place: Found) -> str:
    return place.address.removeprefix("岡山県")


def distance_words(meters: float) -> str:
    if meters < 1000:
        return f"{max(10, round(meters / 10) * 10)}m"
    if meters < 10_000:
        return f"{meters / 1000:.1f}km"
    return f"{round(meters / 1000)}km"


def distance_text(meters: float) -> str:
    """「約450m・徒歩6分」, or 「約12km」 when it is too far to walk."""
    minutes = max(1, math.ceil(meters / WALK_M_PER_MIN))
    if minutes > MAX_WALK_MINUTES:
        return t("gis.distance_far", distance=distance_words(meters))
    return t("gis.distance_walk", distance=distance_words(meters), minutes=minutes)


def place_card(place: Found, *, disaster: bool, city_name: str) -> Any:
    """One carousel card; a place in another city than `city_name` says which city it is in."""
    rows: list[tuple[str, str]] = [(t("gis.row.distance"), distance_text(place.distance_m))]
    if disaster and place.kind in SHELTER_KINDS:
        rows.insert(0, (t("gis.row.status"), t(f"gis.status.{place.status.value}")))
    if place.city and place.city != city_name:
        rows.append((t("gis.row.city"), place.city))
    rows.append((t("gis.row.address"), short_address(place) or "—"))
    if place.kind in SHELTER_KINDS:
        labels = "・".join(hazard_label(h) for h in place.hazards) or t("gis.no_hazards")
        rows.append((t("gis.row.hazards"), labels))
    props = place.properties
    if props.get("place"):
        rows.append((t("gis.row.place"), str(props["place"])))
    if props.get("hours"):
        rows.append((t("gis.row.hours"), str(props["hours"])))
    if props.get("phone"):
        rows.append((t("gis.row.phone"), str(props["phone"])))
    note = place.source
    if place.is_sample:
        note = t("gis.sample_note")
    button = URIAction(label=t("gis.map_button"), uri=MAP_URL.format(lat=place.lat, lon=place.lon))
    return card(place.name, rows, note=note[:200], buttons=[button])

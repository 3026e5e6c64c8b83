"""Map information: layers of places (shelters, evacuation sites, facilities, AEDs) with where they
come from, and a shelter's status in a disaster.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, JSONType, UTCDateTime


class PlaceKind(StrEnum):
    SHELTER = "shelter"  # 指定避難所: where people stay
    EMERGENCY_SITE = "emergency_site"  # 指定緊急避難場所: where people flee to, per hazard
    FACILITY = "facility"  # 市役所・支所・公民館・図書館 …
    AED = "aed"


KIND_LABELS: dict[PlaceKind, str] = {
    PlaceKind.SHELTER: "指定避難所",
    PlaceKind.EMERGENCY_SITE: "指定緊急避難場所",
    PlaceKind.FACILITY: "公共施設",
    PlaceKind.AED: "AED",
}


class Hazard(StrEnum):
    FLOOD = "flood"
    LANDSLIDE = "landslide"
    STORM_SURGE = "storm_surge"
    EARTHQUAKE = "earthquake"
    TSUNAMI = "tsunami"
    FIRE = "fire"
    INLAND_FLOOD = "inland_flood"
    VOLCANO = "volcano"


# What citizens read for each hazard (short: they sit in a card row).
HAZARD_LABELS: dict[Hazard, str] = {
    Hazard.FLOOD: "洪水",
    Hazard.LANDSLIDE: "土砂災害",
    Hazard.STORM_SURGE: "高潮",
    Hazard.EARTHQUAKE: "地震",
    Hazard.TSUNAMI: "津波",
    Hazard.FIRE: "大規模な火事",
    Hazard.INLAND_FLOOD: "内水氾濫",
    Hazard.VOLCANO: "火山",
}

# The GSI 指定緊急避難場所 columns ("1" = designated for that hazard).
GSI_HAZARD_COLUMNS: dict[str, Hazard] = {
    "洪水": Hazard.FLOOD,
    "崖崩れ、土石流及び地滑り": Hazard.LANDSLIDE,
    "高潮": Hazard.STORM_SURGE,
    "地震": Hazard.EARTHQUAKE,
    "津波": Hazard.TSUNAMI,
    "大規模な火事": Hazard.FIRE,
    "内水氾濫": Hazard.INLAND_FLOOD,
    "火山現象": Hazard.VOLCANO,
}


class ShelterStatus(StrEnum):
    NOT_OPEN = "none"  # the normal state: not opened
    OPEN = "open"
    FULL = "full"
    CLOSED = "closed"


STATUS_LABELS: dict[ShelterStatus, str] = {
    ShelterStatus.NOT_OPEN: "未開設",
    ShelterStatus.OPEN: "開設中",
    ShelterStatus.FULL: "満員",
    ShelterStatus.CLOSED: "閉鎖",
}


# Where people go in a disaster: the kinds with a status (開設中 / 満員 / 閉鎖).
SHELTER_KINDS = (PlaceKind.SHELTER, PlaceKind.EMERGENCY_SITE)
# A shelter in one of these means a disaster is on: answers lead with the open ones.
ACTIVE_STATUSES = (ShelterStatus.OPEN, ShelterStatus.FULL)


class LayerScope(StrEnum):
    CITY = "city"  # the city's own places
    NEIGHBOUR = "neighbour"  # a neighbouring city's (shown to people outside the city or near it)


class Layer(Base):
    """One loaded file's worth of places of one kind; replaced as a whole by an upload."""

    __tablename__ = "gis_layers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[PlaceKind] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100), default="")
    scope: Mapped[LayerScope] = mapped_column(String(16), default=LayerScope.CITY)
    # The attribution the license asks for, shown wherever the data is shown (出典).
    source: Mapped[str] = mapped_column(Text, default="")
    license: Mapped[str] = mapped_column(String(200), default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    # Moves forward on every change to the layer's places (import, status): indexes rebuild on it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    place_count: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class Place(Base):
    __tablename__ = "gis_places"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    layer_id: Mapped[int] = mapped_column(Integer, ForeignKey("gis_layers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PlaceKind] = mapped_column(String(32), index=True)
    # The source's own id (GSI 共通ID, or the CSV's id column): statuses survive a re-import by it.
    ext_id: Mapped[str] = mapped_column(String(64), default="")
    # The facility behind it (GSI: 共通ID without its type digits), shared by a facility's
    # 指定避難所 and 指定緊急避難場所 rows: a shelter's status shows on both.
    facility_key: Mapped[str] = mapped_column(String(64), default="", index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    hazards: Mapped[list[str]] = mapped_column(JSONType, default=list)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[ShelterStatus] = mapped_column(String(16), default=ShelterStatus.NOT_OPEN)
    status_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_updated_by: Mapped[str | None] = mapped_column(String(64))


# Schemas --------------------------------------------------------------------------------------


class LayerMeta(BaseModel):
    """What describes a layer besides its places (from layers.yml, the CLI or the upload form)."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: PlaceKind
    title: str = Field(min_length=1, max_length=200)
    city: str = Field(default="", max_length=100)
    scope: LayerScope = LayerScope.CITY
    source: str = Field(default="", max_length=2000)
    license: str = Field(default="", max_length=200)
    source_url: str = Field(default="", max_length=500)
    is_sample: bool = False


class PlaceCreate(BaseModel):
    ext_id: str = Field(default="", max_length=64)
    facility_key: str = Field(default="", max_length=64)
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=300)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    hazards: list[Hazard] = Field(default_factory=list)
    properties: dict[str, Any] = Field(default_factory=dict)


class LayerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    kind: PlaceKind
    title: str
    city: str
    scope: LayerScope
    source: str
    license: str
    source_url: str
    is_sample: bool
    version: int
    place_count: int
    filename: str
    updated_at: datetime
    updated_by: str


class NearestPlace(BaseModel):
    """One answer of `gis nearest` and GET /api/v1/gis/nearest."""

    id: int
    name: str
    address: str
    lat: float
    lon: float
    distance_m: float
    hazards: list[Hazard]


class ShelterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    address: str
    lat: float
    lon: float
    status: ShelterStatus
    status_updated_at: datetime | None
    status_updated_by: str | None


class ShelterStatusUpdate(BaseModel):
    status: ShelterStatus

"""Shelters in a disaster: the city's 指定避難所 and their status (開設中 / 満員 / 閉鎖 / 未開設), set by
staff; a change moves the layer's version, so every process's search index follows it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import clock
from handlers.gis.models import SHELTER_KINDS, Layer, LayerScope, Place, PlaceKind, ShelterStatus


class PlaceNotFound(Exception):
    pass


def get_all_shelters(*, db_session: Session, scope: LayerScope = LayerScope.CITY) -> list[Place]:
    query = (
        select(Place)
        .join(Layer, Layer.id == Place.layer_id)
        .where(Place.kind == PlaceKind.SHELTER, Layer.scope == scope)
        .order_by(Place.address, Place.name, Place.id)
    )
    return list(db_session.scalars(query))


def get_place(*, db_session: Session, place_id: int) -> Place | None:
    return db_session.get(Place, place_id)


def set_status(*, db_session: Session, place: Place, status: ShelterStatus, actor_name: str) -> list[Place]:
    """Marks a shelter open / full / closed (or back to 未開設). The same facility's 指定緊急避難場所
    row takes the same status. Answers every place changed."""
    if place.kind not in SHELTER_KINDS:
        raise PlaceNotFound(f"place {place.id} is not a shelter")
    targets = [place]
    if place.facility_key:
        targets = list(
            db_session.scalars(
                select(Place).where(Place.facility_key == place.facility_key, Place.kind.in_(list(SHELTER_KINDS)))
            )
        )
        if place not in targets:
            targets.append(place)
    now = clock.now()
    for target in targets:
        target.status = status
        target.status_updated_at = now
        target.status_updated_by = actor_name[:64]
    layer_ids = {t.layer_id for t in targets}
    db_session.execute(update(Layer).where(Layer.id.in_(layer_ids)).values(version=Layer.version + 1))
    db_session.flush()
    return targets


def reset_all_statuses(*, db_session: Session, actor_name: str) -> int:
    """After a disaster: every shelter back to 未開設. Answers how many shelters changed: a facility's
    指定避難所 row and its 指定緊急避難場所 row are one shelter, as staff set them."""
    rows = list(db_session.scalars(select(Place).where(Place.status != ShelterStatus.NOT_OPEN)))
    now = clock.now()
    for row in rows:
        row.status = ShelterStatus.NOT_OPEN
        row.status_updated_at = now
        row.status_updated_by = actor_name[:64]
    if rows:
        layer_ids = {r.layer_id for r in rows}
        db_session.execute(update(Layer).where(Layer.id.in_(layer_ids)).values(version=Layer.version + 1))
    db_session.flush()
    return len({row.facility_key or f"place:{row.id}" for row in rows})

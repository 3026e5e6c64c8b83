"""Staff actions on map information, one function each: the service call and its audit record,
used by the admin pages (handlers/gis/admin.py) and the staff API (handlers/gis/api.py) alike."""

from __future__ import annotations

from sqlalchemy.orm import Session

from admin import audit
from admin.models import Actor
from handlers.gis.models import STATUS_LABELS, Layer, LayerMeta, LayerRead, Place, ShelterRead, ShelterStatus
from handlers.gis.service import layers as layer_service
from handlers.gis.service import shelters as shelter_service

audit.describe_action("gis.shelter_status", "避難所の開設状況を変更")
audit.describe_action("gis.shelter_reset", "避難所の開設状況をすべて未開設に戻す")
audit.describe_action("gis.layer_import", "地図レイヤーを読み込み")


def import_layer(
    *, db_session: Session, actor: Actor, layer_in: LayerMeta, content: bytes, filename: str, existing: Layer | None
) -> Layer:
    """Replaces (or creates) a layer from a file; raises LayerFileError / LayerKindMismatch as the service does."""
    before = LayerRead.model_validate(existing).model_dump(mode="json") if existing is not None else None
    layer = layer_service.import_layer(
        db_session=db_session, layer_in=layer_in, content=content, filename=filename, actor_name=actor.name
    )
    audit.record(
        db_session=db_session,
        actor=actor,
        action="gis.layer_import",
        target_type="gis_layer",
        target_id=layer.key,
        before=before,
        after=LayerRead.model_validate(layer),
        summary=f"{layer.title}: {layer.place_count}件（{filename}）",
    )
    return layer


def set_shelter_status(*, db_session: Session, actor: Actor, place: Place, status: ShelterStatus) -> ShelterRead:
    """Sets a shelter's status (the same facility's 指定緊急避難場所 follows) and audits it."""
    before = ShelterRead.model_validate(place)
    shelter_service.set_status(db_session=db_session, place=place, status=status, actor_name=actor.name)
    after = ShelterRead.model_validate(place)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="gis.shelter_status",
        target_type="gis_place",
        target_id=place.id,
        before=before,
        after=after,
        summary=f"{place.name}: {STATUS_LABELS[before.status]} → {STATUS_LABELS[after.status]}",
    )
    return after


def reset_shelter_statuses(*, db_session: Session, actor: Actor) -> int:
    """After a disaster: every shelter back to 未開設, audited; answers how many changed."""
    count = shelter_service.reset_all_statuses(db_session=db_session, actor_name=actor.name)
    audit.record(
        db_session=db_session,
        actor=actor,
        action="gis.shelter_reset",
        target_type="gis_place",
        summary=f"{count}件を未開設に戻した",
    )
    return count
